"""Filters through the pipeline: Pipeline.ask(..., filter=) and Pipeline.search rank only the documents a filter lets
through, with the whole corpus's statistics, and still give the reader enough candidates when a filter removes most
of the corpus."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from askidcpc.errors import QuestionError
from askidcpc.index.bm25 import top_k
from askidcpc.pipeline import Pipeline
from askidcpc.reader import rank
from askidcpc.reader.query import Query, build_query
from askidcpc.types import Document, Filter

# Many long articles about the harbour bridge's tolls, and one short one, from another source and year, that says
# when it opened: unfiltered, the long ones fill every candidate slot.
CROWD = [
    Document(
        doc_id=f"tolls-{i:02d}",
        title=f"Tolls {i}",
        text=" ".join(
            f"The harbour bridge toll rose again in year {i} and the bridge toll office said the bridge will open "
            f"new toll lanes, number {j}."
            for j in range(12)
        ),
        date=f"20{10 + i % 10:02d}-0{1 + i % 9}",
        source="Harbour Times",
    )
    for i in range(30)
]
LONE = Document(
    doc_id="opening",
    title="Opening day",
    text="The harbour bridge opened in March 1932. Crowds walked across it. A ribbon was cut by the premier.",
    date="1932",
    source="Gazette",
)


@pytest.fixture(scope="module")
def crowded() -> Pipeline:
    return Pipeline.from_documents([*CROWD, LONE])


@pytest.mark.parametrize("where", ["doc=opening", "source=gazette", "until=1950", "since=1932-03 until=1932-03"])
def test_a_filter_removing_most_of_the_corpus_still_answers_from_what_it_keeps(crowded: Pipeline, where: str) -> None:
    answer = crowded.ask("When did the harbour bridge open?", top_k=5, filter=Filter.parse(where))
    assert {citation.doc_id for citation in answer.citations} == {"opening"}
    assert answer.citations[0].sentence == "The harbour bridge opened in March 1932."
    assert answer.answer == "The harbour bridge opened in March 1932."


@pytest.mark.parametrize("question", ["bridge", "Was the harbour bridge opened?"])
def test_the_filtered_candidates_come_from_the_kept_documents_alone(crowded: Pipeline, question: str) -> None:
    """Unfiltered, the reader's candidates are all the crowd's; filtered, the kept document's sentences are found
    however far down the whole ranking they are."""
    query = build_query(question, (), crowded.policy)
    depth = crowded.policy.candidates
    unfiltered = crowded.ranked(query, depth)
    assert len(unfiltered.pids) == depth
    assert all(crowded.passages[pid].doc_id != "opening" for pid in unfiltered.pids)
    allowed = crowded.allowed(Filter.parse("doc=opening"))
    filtered = crowded.ranked(query, depth, allowed)
    assert filtered.pids[:1] == (crowded.passages.find("opening", 0, 40),)


def test_filtered_scores_use_the_whole_corpus_statistics(crowded: Pipeline) -> None:
    query = build_query("harbour bridge crowds", (), crowded.policy)
    allowed = crowded.allowed(Filter.parse("doc=opening"))
    assert allowed is not None and int(allowed.sum()) == 3
    part = crowded.ranked(query, 10, allowed)
    full = crowded.ranked(query, 1000)
    by_pid = dict(zip(full.pids, full.sentence_scores, strict=True))
    assert part.pids and all(allowed[pid] for pid in part.pids)
    assert [by_pid[pid] for pid in part.pids] == list(part.sentence_scores)
    # An index of the one document alone has other idf, so other scores: the filter did not re-index.
    alone = Pipeline.from_documents([LONE]).ranked(query, 10)
    assert alone.sentence_scores != part.sentence_scores


@pytest.mark.parametrize("exhaustive_rows", [0, rank.EXHAUSTIVE_ROWS])
@pytest.mark.parametrize("keep", [1, 7, 40, 200])
def test_best_allowed_rows_equal_brute_force(
    crowded: Pipeline, monkeypatch: pytest.MonkeyPatch, exhaustive_rows: int, keep: int
) -> None:
    """Both ways of finding the best allowed rows (row by row; deeper and deeper searches) against scoring every
    row and keeping the allowed ones."""
    monkeypatch.setattr(rank, "EXHAUSTIVE_ROWS", exhaustive_rows)
    rng = np.random.default_rng(keep)
    allowed = np.zeros(len(crowded.passages), dtype=np.bool_)
    allowed[rng.choice(len(allowed), size=keep, replace=False)] = True
    terms = {"bridg": 1.0, "toll": 0.5, "open": 0.7, "lane": 0.2}
    scores = crowded.index.scores(terms)
    rows = np.flatnonzero(allowed & (scores > 0))
    for n in (1, 5, 30):
        expected = [row for row, _ in top_k(rows, scores[rows], n)]
        assert rank._best_rows(crowded.index, terms, n, allowed) == expected


def test_search_ranks_only_the_filtered_documents(crowded: Pipeline) -> None:
    citations = crowded.search("bridge crowds ribbon", 3, Filter.parse("source=Gazette"))
    assert [citation.doc_id for citation in citations] == ["opening"] * 3
    assert [c.score for c in citations] == sorted((c.score for c in citations), reverse=True)
    for citation in citations:
        assert crowded.documents_by_id[citation.doc_id].text[citation.start : citation.end] == citation.sentence
    unfiltered = crowded.search("bridge opened", 3)
    assert [c.sentence for c in unfiltered] == [
        hit.passage.text for hit in crowded.retrieve(build_query("bridge opened", (), crowded.policy), 3)
    ]


@pytest.mark.parametrize("where", ["doc=nope", "source=Reuters", "since=2030", "doc=opening since=2000"])
def test_a_filter_matching_no_document_says_so(crowded: Pipeline, where: str) -> None:
    with pytest.raises(QuestionError, match="no document matches the filter"):
        crowded.ask("When did the bridge open?", filter=Filter.parse(where))
    with pytest.raises(QuestionError, match="no document matches the filter"):
        crowded.search("bridge", 3, Filter.parse(where))


def test_a_filter_letting_everything_through_changes_nothing(crowded: Pipeline) -> None:
    where = Filter.parse("since=1900")
    assert crowded.allowed(where) is None
    assert crowded.allowed(None) is None
    question = "When did the harbour bridge open?"
    assert crowded.ask(question, filter=where) == crowded.ask(question)
    assert crowded.retrieve(Query(terms={"bridg": 1.0}), 3) == crowded.retrieve({"bridg": 1.0}, 3)


def test_a_filters_mask_is_kept_and_cannot_be_changed(crowded: Pipeline) -> None:
    where = Filter.parse("source=Gazette")
    first = crowded.allowed(where)
    assert first is not None and crowded.allowed(Filter.parse("source=gazette")) is first
    with pytest.raises(ValueError):
        first[0] = True
    for year in range(2010, 2040):  # more filters than are kept: the oldest are dropped, answers unchanged
        with contextlib.suppress(QuestionError):  # from 2020 on, none matches (and that is kept too)
            crowded.allowed(Filter.parse(f"since={year}"))
    again = crowded.allowed(where)
    assert again is not first and again is not None and np.array_equal(again, first)
