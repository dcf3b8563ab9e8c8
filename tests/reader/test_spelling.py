"""Spelling (reader.spelling): a question word one typo away from a corpus word is read as that word; one edit is
exactly Damerau's (checked against an edit-distance oracle); known words, short words and words with a known
synonym stay as typed."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from askidcpc.pipeline import Pipeline
from askidcpc.reader.spelling import MAX_LENGTH, MAX_TRIED, correction, in_use, one_edit, spelled


def restricted_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps (the oracle)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def mutated(rng: random.Random, word: str, edits: int) -> str:
    for _ in range(edits):
        at = rng.randrange(len(word))
        kind = rng.choice(["delete", "insert", "change", "swap"])
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if kind == "delete" and len(word) > 1:
            word = word[:at] + word[at + 1 :]
        elif kind == "insert":
            word = word[:at] + letter + word[at:]
        elif kind == "swap" and at + 1 < len(word):
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        else:
            word = word[:at] + letter + word[at + 1 :]
    return word


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("term", ["foreign", "tsinghua", "depart", "aab"])
def test_one_edit_is_every_string_at_distance_one(term: str, seed: int) -> None:
    rng = random.Random(seed)
    edits = set(one_edit(term))
    for trial in range(300):
        other = mutated(rng, term, 1 + trial % 3)
        assert (other in edits and other != term) == (restricted_distance(term, other) == 1), other


IDF = {"foreign": 1.0, "tsinghua": 5.0, "parti": 0.5, "visit": 2.0, "depart": 0.3, "tao": 3.0, "budg": 1.0}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("foriegn", "foreign"),  # two letters swapped
        ("Tsinghau", "tsinghua"),
        ("forein", "foreign"),  # a letter left out
        ("foreiggn", "foreign"),  # one too many
        ("vistis", "visits"),  # its term "vistis" is three edits from "visit"; the word is one from "visits"
        ("departmnet", "department"),
        ("foreign", None),  # the corpus uses it
        ("budgets", None),  # one letter from "budget" (term "budg"), but WordNet knows it: a real word
        ("tao", None),  # too short to guess
        ("tsing2ua", None),  # not a word
    ],
)
def test_correction_is_a_corpus_word_one_edit_away(word: str, expected: str | None) -> None:
    assert correction(word, IDF) == expected


def test_the_most_common_of_several_corrections_wins_ties_alphabetical() -> None:
    assert correction("pzrtie", {"parti": 0.5, "porti": 2.0}) == "partie"  # "partie" and "portie": terms parti, porti
    assert correction("bxnkes", {"bank": 2.0, "bink": 2.0}) == "bankes"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Was Song Tao a deputy foriegn minister?", "Was Song Tao a deputy foreign minister?"),
        ("which TSINGHAU academic, at Tsinghau's institute?", "which TSINGHUA academic, at Tsinghua's institute?"),
        ("How many vistis does the departmnet handle?", "How many visits does the department handle?"),
        ("What is the budget?", "What is the budget?"),
    ],
)
def test_spelled_corrects_the_question_text_in_its_case(question: str, expected: str) -> None:
    assert spelled(question, IDF) == expected


def test_nothing_to_correct_returns_the_question_itself() -> None:
    question = "Who is Song Tao?"
    assert spelled(question, IDF) is question


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (
            "Which Tsinghau academic commented on party diplomacy?",
            "Which Tsinghua academic commented on party diplomacy?",
        ),
        ("Which chat app does the departmnet use?", "Which chat app does the department use?"),
        ("How many vistis does the department handle a year?", "How many visits does the department handle a year?"),
        # "internatical" is one edit away too, with the same index term: the articles' spelling is read
        ("Who heads the CPC Internatinal Department?", "Who heads the CPC International Department?"),
    ],
)
def test_a_question_with_a_typo_is_answered_as_the_one_spelled_right(
    pipeline: Pipeline, typed: str, meant: str
) -> None:
    answered, expected = pipeline.ask(typed), pipeline.ask(meant)
    assert (answered.question, answered.read_as, expected.read_as) == (typed, meant, None)
    assert replace(answered, question=meant, read_as=None) == expected


@pytest.mark.parametrize(
    ("typed", "read_as"),
    [
        ("Who heads the department?", None),
        ("Who heads the departmnet?", "Who heads the department?"),
        # a question naming an article: read_as is the whole question, the article's name kept
        ("What does the 2007 article say about the opposition?", None),
        ("What does the 2007 article say about the oposition?", "What does the 2007 article say about the opposition?"),
    ],
)
def test_an_answer_says_how_its_question_was_read(pipeline: Pipeline, typed: str, read_as: str | None) -> None:
    answered = pipeline.ask(typed)
    assert (answered.question, answered.read_as) == (typed, read_as)
    assert answered.to_dict()["read_as"] == read_as


@pytest.mark.parametrize(
    ("typo", "alphabetical", "used"),
    [("internatinal", "internatical", "international"), ("partise", "partie", "parties")],
)
def test_of_several_spellings_of_one_term_the_articles_one_is_read(
    pipeline: Pipeline, typo: str, alphabetical: str, used: str
) -> None:
    idf = pipeline.idf_by_term
    assert correction(typo, idf) == alphabetical  # no usage given: the first alphabetically
    assert correction(typo, idf, usage=in_use(pipeline)) == used


def test_a_spelling_no_sentence_uses_falls_back_to_the_first() -> None:
    class Nothing:
        def retrieve(self, query: object, k: int) -> list[object]:
            return []

    assert in_use(Nothing())("parti", ("partie", "parties")) == "partie"  # type: ignore[arg-type]
    assert in_use(Nothing())("parti", ("parties",)) == "parties"  # type: ignore[arg-type]


def test_only_the_first_unknown_words_are_looked_at() -> None:
    unknown = " ".join(f"zqxwv{letter}" for letter in "abcdefghijklmnop"[:MAX_TRIED])
    assert spelled(f"{unknown} foriegn", IDF) == f"{unknown} foriegn"
    assert spelled(f"foriegn {unknown}", IDF) == f"foreign {unknown}"


@pytest.mark.parametrize(("length", "corrected"), [(MAX_LENGTH, True), (MAX_LENGTH + 1, False)])
def test_a_word_too_long_to_be_mistyped_is_left(length: int, corrected: bool) -> None:
    word, near = "b" * length, "b" * (length - 1)  # one letter apart
    assert (correction(word, {near: 1.0}) == near) is corrected


def test_a_search_with_a_typo_finds_what_the_words_spelled_right_find(pipeline: Pipeline) -> None:
    assert pipeline.search("foriegn minister departmnet") == pipeline.search("foreign minister department")
