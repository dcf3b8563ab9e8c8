"""Building the query (reader.query): the answer type it ranks and abstains by, lexicon expansions at lower weight,
follow-ups that take terms from the history."""

from __future__ import annotations

import pytest

from askidcpc.config import AnswerPolicy, RankParams
from askidcpc.reader.answer_type import AnswerType
from askidcpc.reader.query import analyse, build_query, effective_terms


def test_ranking_keeps_every_when_but_abstention_ignores_a_clause_when() -> None:
    query = analyse("How can party ties help when diplomacy fails?", RankParams())
    assert query.answer_type is AnswerType.DATE and query.expected is None


@pytest.mark.parametrize("synonym_weight", [0.1, 0.3])
def test_expansions_weigh_less_than_question_terms(synonym_weight: float) -> None:
    query = analyse("When was the department founded?", RankParams(synonym_weight=synonym_weight))
    assert query.own == {"depart": 1.0, "found": 1.0}
    assert query.terms["establish"] == pytest.approx(synonym_weight)
    assert query.answer_type is AnswerType.DATE
    # "found" is not in a corpus that only says "established": the synonym stands in at substitute_weight.
    params = RankParams(synonym_weight=synonym_weight, substitute_weight=0.8)
    assert effective_terms(query, {"depart": 0, "establish": 1}, params)["establish"] == pytest.approx(0.8)
    assert effective_terms(query, {"depart": 0, "found": 1, "establish": 2}, params)["establish"] == pytest.approx(
        synonym_weight
    )


@pytest.mark.parametrize(
    ("question", "history", "from_history"),
    [
        (
            "What job did he have before?",
            ["Who heads the CPC International Department?"],
            {"head", "cpc", "internat", "depart"},
        ),
        ("And when was it set up?", ["How many parties does the department know?"], {"depart", "parti", "know"}),
        ("Who heads the CPC International Department?", ["What is WeChat?"], set()),
    ],
)
def test_follow_ups_take_history_terms_at_lower_weight(
    question: str, history: list[str], from_history: set[str]
) -> None:
    query = build_query(question, history, AnswerPolicy())
    own = analyse(question, AnswerPolicy().ranking).own
    added = {term for term in query.terms if term not in own and term in query.own}
    assert added == from_history
    assert all(query.terms[term] < 1.0 for term in added)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("And in 2016?", AnswerType.NUMBER),
        ("What about 2016?", None),
        ("When was it founded?", AnswerType.DATE),
        # all that is left of "What about the 2007 article?" once the words naming the article are set aside
        ("What about?", AnswerType.NUMBER),
        ("And how about?", AnswerType.NUMBER),
        ("What about North Korea?", None),
        ("Why?", None),
    ],
)
def test_only_an_elliptical_follow_up_inherits_the_answer_type(question: str, expected: AnswerType | None) -> None:
    query = build_query(question, ["How many countries did the 2007 article count?"], AnswerPolicy())
    assert query.answer_type is expected
