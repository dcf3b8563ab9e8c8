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
    # The learned reader (tools/train_reader.py) replaced the eight confidence weights that tools/calibrate.py fitted
    # on these very questions (NoAns .579 in-sample). Its confidence is fitted on SQuAD and these questions and
    # cross-validated by case: NoAns .26 at false abstention .04 here (.23 at .05 cross-validated); see README. With
    # a missing date or figure weighed apart (untyped_figure): .42 at false abstention .049 (.26 cross-validated).
    ("unanswerable", "noans", 0.36),
    ("dialogue_turn", "recall@3", 0.80),
    ("dialogue_turn", "key", 0.70),
    # Multi-source top-1 .70 -> .60 and key .50 -> .40: the "how many N" rule (answer.select) is gone; the reader's
    # counts_asked feature does its work on one question more or less (see README).
    ("multi_source", "top1", 0.58),
    # .88 -> .78: the .90 measured before counted a spurious conflict ("the two parties" against "many political
    # parties") that happened to cite a gold sentence second; number words no longer make a conflicting figure.
    ("multi_source", "recall@3", 0.78),
    ("multi_source", "key", 0.38),
    ("all", "accuracy", 0.60),
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
# abstention held at <= 10%). The learned reader: key .765, false abstention .045, NoAns .15 (its threshold is set
# for 5% false abstention; the old weights were fitted on the tuning set and abstained more on both). With the
# answerability model's null candidate and the sign-constrained confidence: NoAns .24 at false abstention .059.
# With a missing date or figure weighed apart: NoAns .28 at false abstention .039.
HELDOUT_FLOORS = [
    ("answerable", "top1", 0.70),
    ("answerable", "mrr", 0.79),
    ("answerable", "key", 0.72),
    ("answerable", "false_abstain_max", 0.10),
    ("unanswerable", "noans", 0.20),
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
