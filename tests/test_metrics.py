"""Accuracy measures: ROC AUC against its definition (every positive-negative pair counted)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from askidcpc.metrics import roc_auc

scores = st.lists(st.integers(min_value=0, max_value=5).map(float), min_size=1, max_size=30)


def pairwise_auc(positives: list[float], negatives: list[float]) -> float:
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


@given(scores, scores)
def test_roc_auc_equals_the_pairwise_definition(positives: list[float], negatives: list[float]) -> None:
    assert roc_auc(positives, negatives) == pytest.approx(pairwise_auc(positives, negatives))


@pytest.mark.parametrize(
    ("positives", "negatives", "expected"),
    [([2.0, 3.0], [0.0, 1.0], 1.0), ([0.0], [1.0], 0.0), ([1.0], [1.0], 0.5), ([], [1.0], 0.5)],
)
def test_roc_auc_cases(positives: list[float], negatives: list[float], expected: float) -> None:
    assert roc_auc(positives, negatives) == expected
