"""Composing the answer (reader.answer): figures that conflict across dates, and the reader end to end."""

from __future__ import annotations

import pytest

from askidcpc.config import AnswerPolicy
from askidcpc.reader.answer import compose_answer, figure_query
from askidcpc.reader.query import Query
from askidcpc.types import Document, Hit, Passage

_OLD = "The club has about 400 members in 30 towns."


@pytest.mark.parametrize(
    ("newer", "conflict"),
    [
        # Same thing counted (members), a different figure: both, newest first, dated.
        ("The club now has around 600 members in 30 towns.", True),
        # Same figures: nothing to reconcile.
        ("The club still has about 400 members in 30 towns.", False),
        # A different figure for something else (visits, not members): no conflict.
        ("The club handles about 600 visits in 30 towns.", False),
    ],
)
def test_a_conflicting_figure_is_found_below_the_top_three(newer: str, conflict: bool) -> None:
    documents = {
        "old": Document("old", "Old", _OLD, date="2007"),
        "new": Document("new", "New", "Filler. " * 3 + newer, date="2016-06-26"),
    }
    ranked = [Hit(Passage(0, "old", 0, len(_OLD), _OLD), 3.0)]
    ranked += [Hit(Passage(pid, "new", 8 * (pid - 1), 8 * pid - 1, "Filler."), 2.5) for pid in (1, 2, 3)]
    ranked += [Hit(Passage(4, "new", 24, 24 + len(newer), newer), 1.5)]  # fifth, at half the best score
    query = Query(terms={"member": 1.0}, own={"member": 1.0})
    answer = compose_answer("Members?", ranked, 0.9, True, query, documents, 3, AnswerPolicy())
    assert answer.answer is not None
    if conflict:
        assert answer.answer == f"As of 2016-06-26: {newer} As of 2007: {_OLD}"
        # The answer's sentences are cited first, in the answer's order (newest first), then the rest as ranked.
        assert [c.sentence for c in answer.citations] == [newer, _OLD, "Filler."]
    else:
        assert answer.answer == _OLD
        assert [c.sentence for c in answer.citations] == [_OLD, "Filler.", "Filler."]


@pytest.mark.parametrize(
    ("own", "two_sources"),
    [
        ({"member": 1.0}, True),  # the question is about members: both figures, dated
        ({"club": 1.0, "found": 1.0}, False),  # "When was the club founded?": the member counts are beside the point
    ],
)
def test_a_conflict_found_by_the_figure_query_must_concern_the_question(
    own: dict[str, float], two_sources: bool
) -> None:
    newer = "Around 600 members now meet."
    documents = {
        "old": Document("old", "Old", _OLD, date="2007"),
        "new": Document("new", "New", newer, date="2016-06-26"),
    }
    ranked = [Hit(Passage(0, "old", 0, len(_OLD), _OLD), 3.0)]
    query = Query(terms=dict(own), own=own)
    figures = figure_query(query, ranked)
    assert figures is not None and figures.terms["member"] == 1.0 and figures.terms["town"] == 1.0
    figure_hits = [Hit(Passage(1, "new", 0, len(newer), newer), 0.4)]  # not among the question's own hits at all
    answer = compose_answer("?", ranked, 0.9, True, query, documents, 3, AnswerPolicy(), figure_hits)
    expected = f"As of 2016-06-26: {newer} As of 2007: {_OLD}" if two_sources else _OLD
    assert answer.answer == expected


def test_an_answer_that_is_not_sure_enough_abstains_but_cites() -> None:
    documents = {"old": Document("old", "Old", _OLD, date="2007")}
    ranked = [Hit(Passage(0, "old", 0, len(_OLD), _OLD), 3.0)]
    query = Query(terms={"member": 1.0}, own={"member": 1.0})
    answer = compose_answer("Members?", ranked, 0.1, False, query, documents, 3, AnswerPolicy())
    assert answer.answer is None and answer.confidence == 0.1
    assert [c.sentence for c in answer.citations] == [_OLD]
