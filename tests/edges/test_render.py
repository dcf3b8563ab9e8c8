"""Terminal rendering: wrapping, plurals, snippets, emphasis and a dated multi-source answer, against the answer
text and the source sentences as oracles."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.edges.render import (
    KEEP,
    UNSURE_BELOW,
    UNSURE_NOTE,
    AnswerPiece,
    answer_fragments,
    answer_pieces,
    citation_line,
    confidence_text,
    emphasise,
    plain_text,
    plural,
    render_answer,
    short_answer_parts,
    snippet,
    terminal_width,
    to_text,
    wrap,
)
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Citation, ShortAnswer

# The bundled corpus's two articles give different figures for the parties the CPC has ties with, so this is
# answered from both, dated.
TWO_SOURCES = "How many political parties does the CPC have relations with?"


def _citation(sentence: str, doc_id: str = "doc", date: str | None = "2007") -> Citation:
    return Citation(doc_id, f"Title of {doc_id}", date, "Source", sentence, 10, 10 + len(sentence), 0.5)


OLD = "The Party has forged relations with about 400 political parties or organizations."
NEW = "Established in 1951, the department has built contacts with around 600 parties or political organizations."
OTHER = "Zhang said the CPC will become more active in party diplomacy."


@pytest.mark.parametrize(
    ("count", "noun", "plural_noun", "expected"),
    [
        (1, "citation", None, "1 citation"),
        (0, "citation", None, "0 citations"),
        (3, "citation", None, "3 citations"),
        (1200, "sentence", None, "1,200 sentences"),
        (1, "entry", "entries", "1 entry"),
        (2, "entry", "entries", "2 entries"),
    ],
)
def test_plural(count: int, noun: str, plural_noun: str | None, expected: str) -> None:
    assert plural(count, noun, plural_noun) == expected


@pytest.mark.parametrize(("columns", "expected"), [(60, 59), (100, 99), (101, 100), (250, 100), (12, 20), (21, 20)])
def test_terminal_width_leaves_the_last_column_free_and_caps_long_lines(columns: int, expected: int) -> None:
    assert terminal_width(columns) == expected


def test_terminal_width_follows_columns_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert terminal_width() == 59
    monkeypatch.setenv("COLUMNS", "80")
    assert terminal_width() == 79


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text(st.characters(exclude_categories=["Z", "C"]), min_size=1, max_size=30), max_size=40),
    width=st.integers(10, 120),
    indent=st.sampled_from(["", "  ", "    "]),
)
def test_wrap_keeps_every_word_whole_and_within_the_width(words: list[str], width: int, indent: str) -> None:
    lines = plain_text(wrap([("", " ".join(words))], width, indent=indent)).splitlines()
    assert " ".join(lines).split() == words
    for line in lines:
        assert line.startswith(indent)
        assert len(line) <= width or len(line.split()) == 1


@pytest.mark.parametrize(
    ("parts", "width", "hang", "expected"),
    [
        # A unit joined by KEEP moves to the next line whole.
        ([("", f"[1] A long title (2007) — doc-id-2007 [1478:1721] score{KEEP}1.00")], 52, "    ",
         ["[1] A long title (2007) — doc-id-2007 [1478:1721]", "    score 1.00"]),
        # A doc id is never split at its hyphens.
        ([("", "see 2016-06-26-cpc-diplomatic-arm now")], 20, "",
         ["see", "2016-06-26-cpc-diplomatic-arm", "now"]),
        # Lines after the first take the hanging indent.
        ([("", "one two three four")], 9, "  ", ["one two", "  three", "  four"]),
        # White space of every kind collapses; empty text gives nothing.
        ([("", "  a \n\t b  ")], 10, "", ["a b"]),
        ([("", " ")], 10, "", []),
    ],
)  # fmt: skip
def test_wrap_cases(parts: list[tuple[str, str]], width: int, hang: str, expected: list[str]) -> None:
    assert plain_text(wrap(parts, width, hang=hang)).splitlines() == expected


def test_wrap_keeps_the_style_of_each_character_of_a_word_that_spans_fragments() -> None:
    wrapped = wrap([("", "about "), ("class:match", "parties"), ("", ", said")], 100)
    assert wrapped == [("", "about "), ("class:match", "parties"), ("", ", said\n")]


@pytest.mark.parametrize(
    ("text", "question", "emphasised"),
    [
        (OLD, "How many parties does the CPC have relations with?", ["Party", "relations", "parties"]),  # by stem
        (NEW, "When was the department established?", ["Established", "department"]),
        ("China’s ties grew.", "What ties does China have?", ["China’s", "ties"]),
        ("It has 1,000 members.", "Which has 1,000?", ["1,000"]),
        (OTHER, "What is the weather?", []),  # stop words (what, is, the) are not matches
    ],
)
def test_emphasise_marks_the_words_the_question_shares(text: str, question: str, emphasised: list[str]) -> None:
    fragments = emphasise(text, question)
    assert plain_text(fragments) == text
    assert [part for style, part in fragments if style == "class:match"] == emphasised


@pytest.mark.parametrize(
    ("sentence", "question", "limit", "expected"),
    [
        (OLD, "anything", 200, OLD),  # short enough: whole
        ("a b c d e f g h target i j k l m n", "target?", 14, "…g h target i…"),  # the match kept in the middle
        ("a b c d e f g h target i j k l m n", "target?", 9, "…target…"),
        ("target a b c d e f g h i j k l m n", "target?", 9, "target…"),  # at the start: no leading …
        ("a b c d e f g h i j k l m n", "nothing?", 9, "a b c d…"),  # no match: the start
        ("x target y z target w target v", "target?", 19, "…target y z target…"),  # the most matches wins
        ("x target y z target w target v", "Targets?", 16, "x target y z…"),  # by stem; equals: the earliest
    ],
)
def test_snippet_cases(sentence: str, question: str, limit: int, expected: str) -> None:
    assert plain_text(snippet(sentence, question, limit)) == expected


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from(["party", "parties", "ties", "China", "the", "of", "1951", "x" * 12]), max_size=60),
    limit=st.integers(20, 120),
)
def test_snippet_is_a_run_of_whole_words_of_the_sentence(words: list[str], limit: int) -> None:
    sentence = " ".join(words)
    shown = plain_text(snippet(sentence, "Which parties have ties?", limit))
    if len(sentence) <= limit:
        assert shown == sentence
        return
    inner = shown.strip("…")
    assert len(inner) <= max(limit - 2, len(max(words, key=len)))
    # Some run words[i:j], with … exactly where words were left out.
    runs = [(i, j) for i in range(len(words)) for j in range(i + 1, len(words) + 1) if " ".join(words[i:j]) == inner]
    assert any(shown == ("…" if i else "") + inner + ("…" if j < len(words) else "") for i, j in runs)


def _answer(text: str | None, *sentences: str) -> Answer:
    citations = tuple(_citation(sentence, doc_id=f"d{n}") for n, sentence in enumerate(sentences))
    return Answer("How many parties?", text, 0.9, citations)


@pytest.mark.parametrize(
    ("answer", "pieces", "order"),
    [
        (_answer(OLD, OLD, OTHER), [AnswerPiece(OLD, 1)], [0, 1]),
        # Dated sources, newest first in the answer: the citations follow the answer's order, the rest after.
        (
            _answer(f"As of 2016-06-26: {NEW} As of 2007: {OLD}", OLD, NEW, OTHER),
            [AnswerPiece(f"As of 2016-06-26: {NEW}", 1), AnswerPiece(f"As of 2007: {OLD}", 2)],
            [1, 0, 2],
        ),
        # top_k cut the newer sentence's citation: it is still its own piece, without a number.
        (
            _answer(f"As of 2016-06-26: {NEW} As of 2007: {OLD}", OLD),
            [AnswerPiece(f"As of 2016-06-26: {NEW}", None), AnswerPiece(f"As of 2007: {OLD}", 1)],
            [0],
        ),
        (
            _answer(f"As of 2016-06-26: {NEW} As of 2007: {OLD}", NEW),
            [AnswerPiece(f"As of 2016-06-26: {NEW}", 1), AnswerPiece(f"As of 2007: {OLD}", None)],
            [0],
        ),
        (_answer("Text no citation quotes.", OTHER), [AnswerPiece("Text no citation quotes.", None)], [0]),
        (_answer(None, OLD, OTHER), [], [0, 1]),
    ],
)
def test_answer_pieces(answer: Answer, pieces: list[AnswerPiece], order: list[int]) -> None:
    got_pieces, citations = answer_pieces(answer)
    assert list(got_pieces) == pieces
    assert list(citations) == [answer.citations[index] for index in order]


@pytest.mark.parametrize("width", [40, 59, 79, 99])
@pytest.mark.parametrize("full", [False, True])
def test_two_source_answer_reads_one_source_a_line_in_the_answers_order(
    pipeline: Pipeline, width: int, full: bool
) -> None:
    answer = pipeline.ask(TWO_SOURCES)
    assert answer.answer is not None and " As of " in answer.answer, "pick a question answered from two sources"
    text = plain_text(answer_fragments(answer, width, full=full))
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    assert ".;" not in text and "; as of" not in text
    flat = " ".join(text.split())
    pieces, citations = answer_pieces(answer)
    for number, piece in enumerate(pieces, start=1):
        assert f"{' '.join(piece.text.split())} [{number}]" in flat
    heads = [" ".join(citation_line(n, c).split()) for n, c in enumerate(citations, start=1)]
    assert [flat.index(head) for head in heads] == sorted(flat.index(head) for head in heads)
    # Numbered as quoted: [1] is the first piece's sentence.
    assert pieces[0].text.endswith(citations[0].sentence)
    for citation in citations:
        if full:
            assert f"{citation.doc_id} [{citation.start}:{citation.end}], score {citation.score:.2f}" in flat
            assert any(citation.doc_id in line for line in lines)  # whole, on one line
            assert " ".join(citation.sentence.split()) in flat
        else:
            assert citation.doc_id not in flat


def test_snippets_emphasise_the_questions_words(pipeline: Pipeline) -> None:
    answer = pipeline.ask(TWO_SOURCES)
    fragments = answer_fragments(answer, 99)
    emphasised = {part.lower() for style, part in fragments if style == "class:match"}
    assert {"parties", "political", "relations"} <= emphasised
    assert "\x1b[1mparties\x1b[0m" in to_text(fragments, color=True)
    assert "\x1b" not in to_text(fragments)


def test_render_answer_is_plain_text_without_a_final_newline(pipeline: Pipeline) -> None:
    answer = pipeline.ask(TWO_SOURCES)
    text = render_answer(answer, 79)
    assert not text.endswith("\n") and "\x1b" not in text
    assert re.search(r"\(confidence \d\.\d\d\)", text)
    assert "\x1b[" in render_answer(answer, 79, color=True)


# ---- the short answer, bold inside the answer text ----

_SENTENCE = "Established in 1951, Song’s department has built contacts with 160 countries."
_AT = 500  # the sentence's start in its document


def _short(text: str | None, short: tuple[int, int] | None) -> Answer:
    citation = Citation("d", "T", "2016-06-26", "S", _SENTENCE, _AT, _AT + len(_SENTENCE), 0.9)
    short_answer = None
    if short is not None:
        start, end = short
        short_answer = ShortAnswer(_SENTENCE[start:end], "d", _AT + start, _AT + end)
    return Answer("q", text, 0.5, (citation,), short_answer)


@pytest.mark.parametrize(
    ("text", "short", "parts"),
    [
        (_SENTENCE, (15, 19), [("", "Established in "), ("class:short", "1951"), ("", _SENTENCE[19:])]),
        # A dated answer quotes the sentence after a label: the phrase is found where the sentence is quoted.
        (
            f"As of 2016-06-26: {_SENTENCE}",
            (63, 66),
            [("", f"As of 2016-06-26: {_SENTENCE[:63]}"), ("class:short", "160"), ("", " countries.")],
        ),
        (_SENTENCE, None, [("", _SENTENCE)]),
        ("Another sentence.", (15, 19), [("", "Another sentence.")]),  # the text does not quote the citation
    ],
)
def test_short_answer_parts(text: str, short: tuple[int, int] | None, parts: list[tuple[str, str]]) -> None:
    assert short_answer_parts(text, _short(text, short)) == parts


def test_the_short_answer_is_bold_in_the_answer_only_in_colour() -> None:
    answer = _short(_SENTENCE, (15, 19))
    fragments = answer_fragments(answer, 200)
    assert ("class:short", "1951") in fragments
    assert "\x1b[1m1951\x1b[0m," in render_answer(answer, 200, color=True)
    assert render_answer(answer, 200).startswith(_SENTENCE)


# ---- how the question was read ----


@pytest.mark.parametrize("abstained", [False, True])
@pytest.mark.parametrize("read_as", [None, "Who heads the department?"])
def test_a_question_read_otherwise_than_typed_says_how_it_was_read_first(read_as: str | None, abstained: bool) -> None:
    answer = replace(_short(None if abstained else _SENTENCE, None), question="Who heads the departmnet?")
    answer = replace(answer, read_as=read_as)
    text = render_answer(answer, 200)
    if read_as is None:
        assert "read as" not in text
    else:
        assert text.startswith(f"(read as: {read_as})\n")
        assert text.count("read as") == 1


# ---- how sure ----


@pytest.mark.parametrize(
    ("confidence", "shown"),
    [
        (0.87, "confidence 0.87"),
        (UNSURE_BELOW, f"confidence {UNSURE_BELOW:.2f}"),
        (0.36, f"confidence 0.36; {UNSURE_NOTE}"),
        (0.497, f"confidence 0.50; {UNSURE_NOTE}"),  # judged on the value, not on its rounding
    ],
)
def test_an_answer_more_likely_wrong_than_right_says_so(confidence: float, shown: str) -> None:
    assert confidence_text(confidence) == shown
    text = render_answer(replace(_short(_SENTENCE, None), confidence=confidence), 200)
    assert f"({shown})\n" in text
    assert text.count("confidence") == 1


def test_an_abstention_shows_no_confidence() -> None:
    assert "confidence" not in render_answer(replace(_short(None, None), confidence=0.1), 200)
