"""Answer accuracy on eval/questions.yaml, with floors that are ratcheted up as quality improves.

The floors sit a little under the measured figures, so a regression fails CI while noise in a rule does not.
"""

from __future__ import annotations

import evaluate
import pytest

# (category, metric, floor): measured values are in eval/report.md.
FLOORS = [
    ("answerable", "top1", 0.77),
    ("answerable", "recall@3", 0.86),
    ("answerable", "mrr", 0.82),
    ("answerable", "key", 0.76),
    ("answerable", "false_abstain_max", 0.10),
    # .58 -> .55: choosing a "how many N" answer among the top five (answer.select) answers one more near miss
    # ("How many countries have diplomatic relations with China?") while raising answerable key .745 -> .765 and
    # multi-source key .30 -> .50 and cutting false abstention .071 -> .031.
    ("unanswerable", "noans", 0.55),
    ("dialogue_turn", "recall@3", 0.80),
    ("dialogue_turn", "key", 0.70),
    ("multi_source", "top1", 0.68),
    # .88 -> .78: the .90 measured before counted a spurious conflict ("the two parties" against "many political
    # parties") that happened to cite a gold sentence second; number words no longer make a conflicting figure.
    ("multi_source", "recall@3", 0.78),
    ("multi_source", "key", 0.48),
    ("all", "accuracy", 0.67),
]


@pytest.mark.parametrize(("category", "metric", "floor"), FLOORS)
def test_floor(
    eval_results: tuple[list[evaluate.Result], dict[str, dict[str, float]]],
    category: str,
    metric: str,
    floor: float,
) -> None:
    _, table = eval_results
    if metric.endswith("_max"):  # a ceiling: lower is better
        value = table[category][metric.removesuffix("_max")]
        assert value <= floor, f"{category} {metric} = {value:.3f} > {floor}"
    else:
        assert table[category][metric] >= floor, f"{category} {metric} = {table[category][metric]:.3f} < {floor}"


# The held-out set is never tuned on; its floors sit under its first measurement (answerable top-1 .765, MRR .818,
# key .725, false abstention .118; NoAns .20) and guard against tuning that only fits eval/questions.yaml. After the
# answer-type, unknown-attribute and counted-figure evidence: key .745, false abstention .078, NoAns .44 (false
# abstention held at <= 10%).
HELDOUT_FLOORS = [
    ("answerable", "top1", 0.70),
    ("answerable", "mrr", 0.79),
    ("answerable", "key", 0.72),
    ("answerable", "false_abstain_max", 0.10),
    ("unanswerable", "noans", 0.40),
    ("multi_source", "key", 0.38),
    ("dialogue_turn", "recall@3", 0.80),
]


@pytest.mark.parametrize(("category", "metric", "floor"), HELDOUT_FLOORS)
def test_heldout_floor(
    heldout_results: tuple[list[evaluate.Result], dict[str, dict[str, float]]],
    category: str,
    metric: str,
    floor: float,
) -> None:
    test_floor(heldout_results, category, metric, floor)


def test_every_case_is_measured(
    eval_results: tuple[list[evaluate.Result], dict[str, dict[str, float]]],
) -> None:
    results, table = eval_results
    assert len(results) == len(evaluate.load_cases())
    assert sum(int(table[c]["n"]) for c in evaluate.CATEGORIES if c in table) == len(results)
