from __future__ import annotations

import pytest

from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS
from askidcpc.errors import QuestionError
from askidcpc.pipeline import Pipeline
from askidcpc.types import Document, Filter

QUESTIONS = [
    "When was the International Department founded?",
    "Who heads the CPC International Department?",
    "How many parties does the CPC have ties with?",
    "What is the capital of Cuba?",
    "WeChat",
    "?!",
    "the of and",
    "中国共产党",
    "x" * MAX_QUESTION_CHARS,
]


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("top_k", [1, 3, 20])
def test_citations_are_exact_corpus_text(pipeline: Pipeline, question: str, top_k: int) -> None:
    answer = pipeline.ask(question, top_k=top_k)
    assert len(answer.citations) <= top_k
    assert 0.0 <= answer.confidence <= 1.0
    # The answer's own sentences come first (two when dated sources disagree), then the rest, best first.
    own = sum(1 for c in answer.citations if answer.answer is not None and c.sentence in answer.answer)
    scores = [c.score for c in answer.citations[max(own, 1) :]]
    assert scores == sorted(scores, reverse=True)
    assert all(answer.citations[0].score >= score for score in scores)
    for citation in answer.citations:
        document = pipeline.documents_by_id[citation.doc_id]
        assert document.text[citation.start : citation.end] == citation.sentence
        assert citation.title == document.title and citation.date == document.date
    if answer.answer is not None:
        assert any(c.sentence in answer.answer for c in answer.citations)


def test_founding_question_is_answered_from_2016_article(pipeline: Pipeline) -> None:
    answer = pipeline.ask("When was the International Department founded?")
    assert answer.answer is not None and "Established in 1951" in answer.answer
    assert answer.citations[0].doc_id == "2016-06-26-cpc-diplomatic-arm"


def test_to_dict_has_contract_fields(pipeline: Pipeline) -> None:
    data = pipeline.ask("Who heads the CPC International Department?").to_dict()
    assert set(data) >= {"question", "answer", "confidence", "citations", "short_answer"}
    assert data["short_answer"] is None or set(data["short_answer"]) == {"text", "doc_id", "start", "end"}
    assert set(data["citations"][0]) >= {
        "doc_id",
        "title",
        "date",
        "source",
        "sentence",
        "start",
        "end",
        "score",
    }


@pytest.mark.parametrize(
    ("question", "top_k", "history", "message"),
    [
        ("", 3, (), "empty"),
        ("   \n\t ", 3, (), "empty"),
        ("x" * (MAX_QUESTION_CHARS + 1), 3, (), "limit"),
        ("ok?", 0, (), "top_k"),
        ("ok?", 21, (), "top_k"),
        ("ok?", True, (), "top_k"),
        ("ok?", 3, ["q"] * (MAX_HISTORY + 1), "history"),
        ("ok?", 3, "not a list", "history"),
        ("ok?", 3, [None], "history"),
        ("ok?", 3, ["x" * (MAX_QUESTION_CHARS + 1)], "history"),
        (None, 3, (), "string"),
        ("when was it \ud800 founded?", 3, (), "lone surrogate"),
        ("\udfff", 3, (), "lone surrogate"),
        ("ok?", 3, ["who \ud83d heads it?"], "lone surrogate"),
    ],
)
def test_invalid_requests_raise_question_error(
    pipeline: Pipeline, question: object, top_k: object, history: object, message: str
) -> None:
    with pytest.raises(QuestionError, match=message):
        pipeline.ask(question, top_k=top_k, history=history)  # type: ignore[arg-type]


def test_question_is_trimmed(pipeline: Pipeline) -> None:
    assert pipeline.ask("  WeChat  ").question == "WeChat"


@pytest.mark.xfail(
    strict=True,
    reason="known miss: 'budget' is the only word the articles lack and the sentence on visits handled 'annually' "
    "gets confidence 0.35 from the lexical reader, over its 0.240 threshold (chosen for 5% false abstention)",
)
def test_unanswerable_question_abstains_but_still_cites(pipeline: Pipeline) -> None:
    answer = pipeline.ask("What is the department's annual budget?")
    assert answer.answer is None
    assert answer.confidence < 0.5


def test_conflicting_figures_are_dated_newest_first() -> None:
    documents = [
        Document("old", "Old", "The club has about 400 members in 30 towns.", date="2007"),
        Document("new", "New", "The club has around 600 members in 30 towns.", date="2016-06-26"),
    ]
    answer = Pipeline.from_documents(documents).ask("Club members in the towns?")
    assert answer.answer is not None
    assert answer.answer.startswith("As of 2016-06-26: The club has around 600")
    assert answer.answer.index("600") < answer.answer.index(" As of 2007: The club has about 400")
    assert [citation.doc_id for citation in answer.citations[:2]] == ["new", "old"]  # in the answer's order


DATED = [
    Document("old", "Old", "The club has about 400 members in 30 towns. Its chair is Ann Lee.", date="2007"),
    Document("new", "New", "The club has around 600 members in 30 towns. Its chair is Bo Chen.", date="2016-06-26"),
]


@pytest.mark.parametrize(
    ("question", "history", "cited"),
    [
        # an article named by its year: answered from that year's articles only, its naming words left out
        ("How many members did the 2007 article count?", (), {"old"}),
        ("Who chairs the club, according to the story from 2016?", (), {"new"}),
        ("What about the 2007 article?", ("How many members does the club have?",), {"old"}),
        # no article of that year: the year is content, every article may answer
        ("How many members did the 2010 article count?", (), {"old", "new"}),
    ],
)
def test_an_article_named_by_its_year_is_where_the_answer_comes_from(
    question: str, history: tuple[str, ...], cited: set[str]
) -> None:
    answer = Pipeline.from_documents(DATED).ask(question, top_k=4, history=history)
    assert answer.question == question
    assert {citation.doc_id for citation in answer.citations} == cited


def test_a_date_filter_of_the_request_wins_over_an_article_named_by_its_year() -> None:
    answer = Pipeline.from_documents(DATED).ask(
        "How many members did the 2007 article count?", top_k=4, filter=Filter.build(since="2016")
    )
    assert {citation.doc_id for citation in answer.citations} == {"new"}
