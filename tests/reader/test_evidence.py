"""Lexical evidence (reader.evidence): known terms, idf-weighted support, what a figure counts."""

from __future__ import annotations

import pytest

from askidcpc.reader.evidence import is_known, support
from askidcpc.reader.query import Query


@pytest.mark.parametrize(
    ("term", "related", "expected"),
    [
        ("foreign", frozenset(), True),
        ("foriegn", frozenset(), True),  # two letters swapped
        ("internatin", frozenset(), True),  # extends the stem "internat"
        ("forein", frozenset(), True),  # a letter left out
        ("budget", frozenset(), False),
        ("budget", frozenset({"fund"}), True),  # a synonym the corpus uses
        ("tau", frozenset(), False),  # too short to guess a typo
    ],
)
def test_is_known_tolerates_typos_but_not_new_words(term: str, related: frozenset[str], expected: bool) -> None:
    idf = {"foreign": 1.0, "internat": 1.0, "fund": 2.0, "tao": 3.0, "budg": 1.0}
    assert is_known(term, related, idf) is expected


@pytest.mark.parametrize(
    ("passage_terms", "expected"),
    [({"depart", "found"}, 1.0), ({"depart"}, 0.5), ({"depart", "establish"}, 0.85), (set(), 0.0)],
)
def test_support_is_idf_weighted_coverage_with_partial_synonym_credit(passage_terms: set[str], expected: float) -> None:
    query = Query(terms={}, own={"depart": 1.0, "found": 1.0}, related={"found": frozenset({"establish"})})
    idf = {"depart": 2.0, "found": 2.0, "establish": 3.0}
    assert support(query, passage_terms, idf, related_credit=0.7) == pytest.approx(expected)
