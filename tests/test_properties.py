"""Property tests on the core: any question gives a valid answer object or a clear QuestionError, never another
exception, and every citation is exact corpus text."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askidcpc.config import MAX_QUESTION_CHARS
from askidcpc.errors import QuestionError
from askidcpc.pipeline import Pipeline

SPECIAL = [
    "",
    "   ",
    "?!?!...",
    "the of and to",
    "x" * MAX_QUESTION_CHARS,
    "🙂🎉 WeChat 🙂",
    "中国共产党中央对外联络部什么时候成立？",
    "\x00\x01\x1b[31mred\x07",
    "\u202eright-to-left override \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "Song\u200b Tao\ufeff",
    "e\u0301tabli\u0300",
    "\ud800",  # a lone surrogate, as a broken client might send
]

questions = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60).map(lambda s: f"Who is {s}?"),
)


def utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check(pipeline: Pipeline, question: str, history: list[str]) -> None:
    try:
        answer = pipeline.ask(question, top_k=5, history=history)
    except QuestionError as exc:
        assert str(exc)
        too_long = len(question.strip()) > MAX_QUESTION_CHARS
        assert not question.strip() or too_long or not all(map(utf8, [question, *history]))
        return
    data = answer.to_dict()
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # what the edges write
    assert 0.0 <= data["confidence"] <= 1.0
    assert len(data["citations"]) <= 5
    for citation in answer.citations:
        assert pipeline.documents_by_id[citation.doc_id].text[citation.start : citation.end] == citation.sentence
    if answer.answer is not None:
        assert answer.citations and answer.citations[0].sentence in answer.answer


@pytest.mark.parametrize("question", SPECIAL)
def test_special_questions(pipeline: Pipeline, question: str) -> None:
    check(pipeline, question, [])


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=questions, history=st.lists(questions, max_size=4))
def test_any_question_gives_an_answer_object_or_a_question_error(
    pipeline: Pipeline, question: str, history: list[str]
) -> None:
    history = [h for h in history if len(h) <= MAX_QUESTION_CHARS]
    check(pipeline, question, history)
