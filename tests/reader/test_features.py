"""The reader's named features (reader.features): each family measured on small cases with known values."""

from __future__ import annotations

import pytest

from askidcpc.config import AnswerPolicy
from askidcpc.reader.features import (
    BASE_FEATURES,
    FAMILIES,
    FEATURES,
    Candidate,
    Paragraph,
    candidate_rows,
    list_context,
    profile,
    sentence,
)
from askidcpc.reader.query import build_query
from askidcpc.reader.rank import Ranked
from askidcpc.text.tokenize import tokenize


def features_of(question: str, text: str) -> dict[str, float]:
    """The features of the sentence ``text`` as the only candidate for ``question`` (every term at idf 1)."""
    query = build_query(question, (), AnswerPolicy())
    idf = {term: 1.0 for term in tokenize(question + " " + text)}
    context = list_context(query, [2.0], 2.0, [2.0], idf)
    found = sentence(text)
    ranked = Ranked((0,), (2.0,), (2.0,), (2.0,), 2.0, 2.0)
    rows = candidate_rows(profile(query, question), [Candidate(found, Paragraph.of([found]))], ranked, context, idf)
    return dict(zip(BASE_FEATURES, rows[0].tolist(), strict=True))


def test_feature_names_are_unique_and_grouped_in_families() -> None:
    assert len(set(FEATURES)) == len(FEATURES)
    assert sorted(name for family in FAMILIES.values() for name in family) == sorted(FEATURES)


@pytest.mark.parametrize(
    ("question", "sentence", "typed"),
    [
        ("How many think tanks does it work with?", "It works with 12 think tanks.", True),
        ("How many think tanks does it work with?", "About 400 visits include think tanks.", False),
        ("How many rounds of talks were held?", "It held two rounds of meetings.", True),
        ("How many foreign parties does it know?", "It knows about 400 political parties.", True),
        ("How long did it last?", "It lasted 65 years.", True),
        ("When was it founded?", "It was founded long ago by friends.", True),
        ("When was it founded?", "It was founded by friends.", False),
    ],
)
def test_a_typed_answer_holds_what_was_asked(question: str, sentence: str, typed: bool) -> None:
    found = features_of(question, sentence)
    assert (found["typed"], found["untyped"]) == (float(typed), float(not typed))


@pytest.mark.parametrize(
    ("question", "sentence", "role_extra"),
    [
        ("Who heads the department?", "Zhang Zhijun, deputy head of the department, spoke.", 1.0),
        ("Who is the deputy head of the department?", "Zhang Zhijun, deputy head of the department, spoke.", 0.0),
        ("Who heads the department?", "Song Tao, head of the department, spoke.", 0.0),
    ],
)
def test_a_role_modifier_the_question_lacks_is_flagged(question: str, sentence: str, role_extra: float) -> None:
    assert features_of(question, sentence)["role_extra"] == role_extra


@pytest.mark.parametrize(
    ("question", "sentence", "present", "missing"),
    [
        ("What did Song Tao say?", "Song Tao said the talks went well.", 1.0, 0.0),
        ("What did Song Tao say?", "Zhang said the talks went well.", 0.0, 2.0),
    ],
)
def test_names_of_the_question_present_or_missing(question: str, sentence: str, present: float, missing: float) -> None:
    found = features_of(question, sentence)
    assert (found["entities_present"], found["entities_missing"]) == (present, missing)


@pytest.mark.parametrize(
    ("sentence", "coverage"),
    [("The department was founded in 1951.", 1.0), ("The department grew.", 0.5), ("Nothing here.", 0.0)],
)
def test_coverage_is_the_share_of_the_question_held(sentence: str, coverage: float) -> None:
    assert features_of("When was the department founded?", sentence)["coverage"] == pytest.approx(coverage)
