"""Answer accuracy on eval/questions.yaml, with floors that are ratcheted up as quality improves.

The floors sit a little under the measured figures, so a regression fails CI while noise in a rule does not.
"""

from __future__ import annotations

import evaluate
import pytest

# (category, metric, floor): measured values are in eval/report.md.
FLOORS = [
    ("answerable", "top1", 0.70),
    ("answerable", "recall@3", 0.80),
    ("answerable", "mrr", 0.76),
    ("answerable", "key", 0.45),
    ("unanswerable", "noans", 0.30),
    ("dialogue_turn", "recall@3", 0.70),
    ("multi_source", "recall@3", 0.60),
    ("all", "accuracy", 0.40),
]


@pytest.mark.parametrize(("category", "metric", "floor"), FLOORS)
def test_floor(
    eval_results: tuple[list[evaluate.Result], dict[str, dict[str, float]]],
    category: str,
    metric: str,
    floor: float,
) -> None:
    _, table = eval_results
    assert table[category][metric] >= floor, f"{category} {metric} = {table[category][metric]:.3f} < {floor}"


def test_every_case_is_measured(
    eval_results: tuple[list[evaluate.Result], dict[str, dict[str, float]]],
) -> None:
    results, table = eval_results
    assert len(results) == len(evaluate.load_cases())
    assert sum(int(table[c]["n"]) for c in evaluate.CATEGORIES if c in table) == len(results)
