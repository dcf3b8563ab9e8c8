"""Short answers (reader.short): the candidate phrases, the phrase picked for each kind of question, and the
short answer the reader composes (document offsets inside the first cited sentence; null on abstention)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.config import AnswerPolicy
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer import compose_answer
from askidcpc.reader.query import build_query
from askidcpc.reader.short import (
    FEATURES,
    MAX_TOKENS,
    ShortModel,
    candidate_phrases,
    load_short_model,
    phrase_features,
    question_group,
    short_answer_span,
)
from askidcpc.types import Answer, Document, Hit, Passage

POLICY = AnswerPolicy()


def _pick(question: str, sentence: str) -> str | None:
    span = short_answer_span(question, build_query(question, (), POLICY), sentence)
    return None if span is None else sentence[span[0] : span[1]]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # Each kind of question prefers its type of phrase among several in one sentence.
        (
            "When was the department founded?",
            "Established in 1951, the department has built contacts with more than 160 countries.",
            "1951",
        ),
        (
            "How many countries has the department built contacts with?",
            "Established in 1951, the department has built contacts with more than 160 countries.",
            "160",
        ),
        (
            "Who heads the International Department?",
            "The International Department is headed by Song Tao, who was appointed in 2015.",
            "Song Tao",
        ),
        (
            "Where did the delegation meet the minister?",
            "In 2014 the delegation met the minister in Jakarta after a long flight.",
            "Jakarta",
        ),
        (
            "In what year did the bridge open?",
            "The bridge over the Thames opened in 1894 after eight years of work by 432 builders.",
            "1894",
        ),
    ],
)
def test_the_phrase_of_the_expected_type_is_picked(question: str, sentence: str, expected: str) -> None:
    picked = _pick(question, sentence)
    assert picked is not None
    assert expected in picked
    # A short answer, not the sentence: at most a few words beyond the expected phrase.
    assert len(picked.split()) <= len(expected.split()) + 2


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("When was the department founded?", "The department was founded."),
        ("Who heads the department?", "The department, the department."),
        ("What is it?", "?!"),
        ("What is it?", ""),
    ],
)
def test_no_phrase_when_the_sentence_holds_only_question_words(question: str, sentence: str) -> None:
    assert _pick(question, sentence) is None


@pytest.mark.parametrize(
    ("question", "sentence", "phrase"),
    [
        ("Does the department study corruption abroad?", "They track how foreign parties fight graft.", None),
        ("Was Song Tao once a vice-foreign minister?", "Song is a former vice-foreign minister.", None),
        ("Is the CPC in contact with 600 parties?", "It has contacts with around 600 parties.", None),
        # a question word inside: a phrase answers it
        ("Do you know when the department was founded?", "The department was founded in 1951.", "1951"),
        ("Can you tell me who heads the department?", "Song Tao heads the department.", "Song Tao"),
    ],
)
def test_a_yes_or_no_question_has_no_short_answer(question: str, sentence: str, phrase: str | None) -> None:
    assert _pick(question, sentence) == phrase


@pytest.mark.parametrize(
    ("sentence", "phrase", "present"),
    [
        ("Established in 1951, Song's department grew.", "1951", True),
        ("Established in 1951, Song's department grew.", "1951, Song's department", True),  # inner comma
        ("It cost $1.3 billion in 2010.", "$1.3 billion", True),  # the currency sign stays with its figure
        ("Paris (France) is big.", "Paris (France", False),  # clause punctuation ends a phrase
        ("He went to the market.", "to the market", False),  # starts on a function word
        ("He went to the market.", "market", True),
    ],
)
def test_candidate_phrases(sentence: str, phrase: str, present: bool) -> None:
    texts = {sentence[p.start : p.end] for p in candidate_phrases(sentence)}
    assert (phrase in texts) is present


@pytest.mark.parametrize(
    ("question", "group"),
    [
        ("When was it founded?", "when"),
        ("In what year was it founded?", "when"),
        ("Who heads it?", "who"),
        ("How many parties are there?", "how many"),
        ("Where is it?", "where"),
        ("Which city hosts it?", "where"),
        ("What does the department do?", "what"),
        ("Why does it matter?", "other"),
    ],
)
def test_question_group(question: str, group: str) -> None:
    assert question_group(question, build_query(question, (), POLICY)) == group


@pytest.mark.parametrize(
    ("question", "sentence", "phrase", "expected"),
    [
        (
            "When was the department founded?",
            "The department was founded in 1951.",
            "1951",
            {
                "question_share": 0.0,
                "distance": math.log1p(2),  # "founded" is two tokens before
                "match_before": 1.0,
                "match_after": 0.0,
                "no_match_in_sentence": 0.0,
                "chunk_start": 1.0,
                "chunk_end": 1.0,
                "when:year": 1.0,
                "when:after_preposition": 1.0,
                "when:length": 1.0,
                "what:year": 0.0,  # only the question's own group is set
            },
        ),
        (
            # No question word in a short sentence: no match either side, however short the sentence.
            "Who won?",
            "Song Tao",
            "Song Tao",
            {"no_match_in_sentence": 1.0, "match_before": 0.0, "match_after": 0.0, "who:capitalised": 1.0},
        ),
    ],
)
def test_named_features_of_a_phrase(question: str, sentence: str, phrase: str, expected: dict[str, float]) -> None:
    phrases, features = phrase_features(question, build_query(question, (), POLICY), sentence)
    row = [sentence[p.start : p.end] for p in phrases].index(phrase)
    for name, value in expected.items():
        assert features[row, FEATURES.index(name)] == pytest.approx(value), name


def test_the_shipped_weights_name_this_version_s_features() -> None:
    model = load_short_model()
    assert model.weights.shape == model.mean.shape == model.scale.shape == (len(FEATURES),)
    with pytest.raises(ValueError, match=r"rerun tools/train_short\.py"):
        ShortModel.from_json({"features": ["other"], "mean": {}, "scale": {}, "weights": {}})


_SENTENCE = "Established in 1951, Song’s department has built contacts with more than 160 countries."
_PREFIX = "An earlier sentence. "
_DOCUMENT = Document("d", "Title", _PREFIX + _SENTENCE + " A later one.", date="2016-06-26")


def _compose(question: str, answers: bool) -> tuple[Document, Answer]:
    passage = Passage(1, "d", len(_PREFIX), len(_PREFIX) + len(_SENTENCE), _SENTENCE)
    other = Passage(0, "d", 0, len(_PREFIX) - 1, _PREFIX.strip())
    hits = [Hit(passage, 0.9), Hit(other, 0.1)]
    query = build_query(question, (), POLICY)
    return _DOCUMENT, compose_answer(question, hits, 0.8, answers, query, {"d": _DOCUMENT}, 2, POLICY)


@pytest.mark.parametrize(
    ("question", "answers", "expected"),
    [
        ("When was Song's department established?", True, "1951"),
        ("How many countries does the department have contacts with?", True, "160"),
        ("When was Song's department established?", False, None),  # abstention: never a short answer
    ],
)
def test_compose_answer_gives_document_offsets_inside_the_first_citation(
    question: str, answers: bool, expected: str | None
) -> None:
    document, composed = _compose(question, answers)
    short = composed.short_answer
    data = composed.to_dict()
    if expected is None:
        assert short is None
        assert data["short_answer"] is None
        return
    assert short is not None
    assert short.text == expected
    assert document.text[short.start : short.end] == short.text
    cited = composed.citations[0]
    assert cited.start <= short.start < short.end <= cited.end
    assert data["short_answer"] == {"text": expected, "doc_id": "d", "start": short.start, "end": short.end}


@pytest.mark.parametrize(
    "question",
    [
        "When was the International Department founded?",
        "How many parties does the CPC have ties with?",
        "Who heads the CPC International Department?",
        "What is the capital of Cuba?",
    ],
)
def test_the_bundled_corpus_answers_slice_to_their_document(pipeline: Pipeline, question: str) -> None:
    answer = pipeline.ask(question)
    if answer.answer is None:
        assert answer.short_answer is None
        return
    short = answer.short_answer
    assert short is not None
    document = pipeline.documents_by_id[short.doc_id]
    assert document.text[short.start : short.end] == short.text
    first = answer.citations[0]
    assert short.doc_id == first.doc_id
    assert first.start <= short.start < short.end <= first.end


def test_the_founding_question_s_short_answer_is_the_year(pipeline: Pipeline) -> None:
    short = pipeline.ask("When was the International Department founded?").short_answer
    assert short is not None
    assert short.text == "1951"


_WORDS = st.sampled_from(
    ["the", "in", "1951", "Song", "department", "160", "countries", ",", "(", ")", "$3.5", "’s", "Tao", "-", "é", " "]
)


@settings(max_examples=200, deadline=None)
@given(
    question=st.text(min_size=1, max_size=40) | st.lists(_WORDS, max_size=8).map(" ".join),
    sentence=st.text(max_size=120) | st.lists(_WORDS, max_size=30).map(" ".join),
)
def test_offsets_always_slice_to_a_phrase_of_the_sentence(question: str, sentence: str) -> None:
    query = build_query(question, (), POLICY)
    phrases, features = phrase_features(question, query, sentence)
    assert features.shape == (len(phrases), len(FEATURES))
    for phrase in phrases:
        assert 0 <= phrase.start < phrase.end <= len(sentence)
        assert phrase.last - phrase.first < MAX_TOKENS
        assert sentence[phrase.start : phrase.end] == sentence[phrase.start : phrase.end].strip()
    span = short_answer_span(question, query, sentence)
    if span is None:
        assert not phrases
    else:
        assert (span[0], span[1]) in {(p.start, p.end) for p in phrases}
