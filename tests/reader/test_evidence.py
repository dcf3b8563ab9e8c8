"""Evidence and abstention (reader.evidence): known terms, idf-weighted support, confidence, typed answers."""

from __future__ import annotations

import pytest

from askidcpc.config import AnswerPolicy
from askidcpc.reader.answer_type import AnswerType
from askidcpc.reader.evidence import confidence, evidence, is_known, support
from askidcpc.reader.query import Query, build_query
from askidcpc.text.tokenize import tokenize
from tests.reader.conftest import _hit


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


def test_confidence_rises_with_evidence() -> None:
    policy = AnswerPolicy()
    query = Query(terms={"depart": 1.0, "found": 1.0}, own={"depart": 1.0, "found": 1.0}, expected=AnswerType.DATE)
    idf = {"depart": 1.0, "found": 2.0, "other": 2.0}
    strong = evidence(query, [_hit("The department was founded in 1951.", 3.0), _hit("other", 1.0)], idf, policy)
    weak = evidence(query, [_hit("The department grew.", 1.0), _hit("other", 0.95)], idf, policy)
    assert strong.coverage == 1.0 and strong.typed and not strong.untyped
    assert weak.untyped and weak.coverage == pytest.approx(1 / 3)
    assert 0.0 <= confidence(weak, policy) < confidence(strong, policy) <= 1.0


@pytest.mark.parametrize(
    ("question", "sentence", "typed"),
    [
        ("How many think tanks does it work with?", "It works with 12 think tanks.", True),
        ("How many think tanks does it work with?", "About 400 visits include think tanks.", False),
        ("How many rounds of talks were held?", "It held two rounds of meetings.", True),
        ("How many foreign parties does it know?", "It knows about 400 political parties.", True),
        ("How long did it last?", "It lasted 65 years.", True),
    ],
)
def test_a_how_many_answer_must_count_what_was_asked(question: str, sentence: str, typed: bool) -> None:
    query = build_query(question, (), AnswerPolicy())
    idf = {term: 1.0 for term in tokenize(question + " " + sentence)}
    found = evidence(query, [_hit(sentence, 2.0), _hit("other", 1.0)], idf, AnswerPolicy())
    assert (found.typed, found.untyped) == (typed, not typed)
