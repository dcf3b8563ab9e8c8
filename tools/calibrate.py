"""Calibrate askidcpc's abstention on eval/questions.yaml: fit the Evidence → confidence weights, cross-validate
them, and print the trade-off curve (threshold vs HasAns accuracy, NoAns accuracy, false abstention).

A case is a positive when its best sentence is a gold one; unanswerable cases and wrong best sentences are
negatives. The fit is an L2-regularised logistic regression over the Evidence features, so there is little to
overfit; ``--cv`` also prints the curve of repeated 5-fold cross-validated confidences (each case scored by weights
fitted without it), the honest estimate. eval/heldout.yaml is never used here.

Usage: ``python tools/calibrate.py [--fit] [--cv]`` (without --fit: the shipped weights).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

import evaluate  # noqa: E402

from askidcpc.config import (  # noqa: E402
    AnswerPolicy,
    Settings,
)
from askidcpc.metrics import contains_keys, gold_rank  # noqa: E402
from askidcpc.pipeline import Pipeline  # noqa: E402
from askidcpc.reader.answer import select  # noqa: E402
from askidcpc.reader.evidence import Evidence, confidence, evidence  # noqa: E402
from askidcpc.reader.query import build_query  # noqa: E402

FloatArray = npt.NDArray[np.float64]
THRESHOLDS = (0.1, 0.2, 0.25, 0.3, 0.325, 0.35, 0.375, 0.4, 0.425, 0.45, 0.5, 0.55, 0.6, 0.7)


@dataclass(frozen=True)
class Row:
    case: evaluate.Case
    found: Evidence | None
    right: bool  # the best sentence is a gold one
    key: bool  # the best sentence holds the key


def fit(x: FloatArray, y: FloatArray, l2: float = 1.0, steps: int = 50) -> FloatArray:
    """Logistic regression by Newton's method; the intercept (column 0) is not penalised."""
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + penalty * w
        hess = (x.T * (p * (1 - p))) @ x + np.diag(penalty)
        w -= np.linalg.solve(hess, grad)
    return w


def measure(pipeline: Pipeline) -> list[Row]:
    rows = []
    for case in evaluate.load_cases():
        query = build_query(case.question, case.history, pipeline.policy)
        hits = select(query, pipeline.retrieve(query, 10), pipeline.policy)
        if not hits:
            rows.append(Row(case, None, False, False))
            continue
        top = hits[0].passage.text
        right = bool(case.gold) and gold_rank([top], case.gold) == 1
        key = bool(case.gold) and contains_keys(top, case.keys)
        rows.append(Row(case, evidence(query, hits, pipeline.idf_by_term, pipeline.policy), right, key))
    return rows


def cross_validated(rows: list[Row], l2: float, repeats: int = 20, folds: int = 5) -> FloatArray:
    """Each case's confidence from weights fitted on the other folds, averaged over ``repeats`` shufflings."""
    usable = [i for i, row in enumerate(rows) if row.found is not None]
    x = np.array([list(rows[i].found.features().values()) for i in usable])  # type: ignore[union-attr]
    y = np.array([float(rows[i].right) for i in usable])
    scored = np.zeros(len(usable))
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        order = rng.permutation(len(usable))
        for held in np.array_split(order, folds):
            w = fit(x[np.setdiff1d(order, held)], y[np.setdiff1d(order, held)], l2)
            scored[held] += 1 / (1 + np.exp(-x[held] @ w))
    out = np.zeros(len(rows))
    out[usable] = scored / repeats
    return out


def curve(rows: list[Row], scores: FloatArray, title: str) -> None:
    print(f"\n{title}\n")
    print("| threshold | HasAns acc (key in answer) | NoAns acc | false abstention | all |\n|---|---|---|---|---|")
    has = [(row, s) for row, s in zip(rows, scores, strict=True) if row.case.gold]
    no = [(row, s) for row, s in zip(rows, scores, strict=True) if not row.case.gold]
    for threshold in THRESHOLDS:
        hasans = sum(row.key and row.found is not None and s >= threshold for row, s in has) / len(has)
        noans = sum(row.found is None or s < threshold for row, s in no) / len(no)
        false = sum(row.found is None or s < threshold for row, s in has) / len(has)
        total = (hasans * len(has) + noans * len(no)) / len(rows)
        print(f"| {threshold:.3f} | {hasans:.3f} | {noans:.3f} | {false:.3f} | {total:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true", help="fit the weights (otherwise: the shipped ones)")
    parser.add_argument("--cv", action="store_true", help="also print the cross-validated curve")
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args()
    pipeline = Pipeline.load(Settings())
    rows = measure(pipeline)
    policy: AnswerPolicy = pipeline.policy
    if args.fit:
        found = [row for row in rows if row.found is not None]
        x = np.array([list(row.found.features().values()) for row in found])  # type: ignore[union-attr]
        names = list(found[0].found.features())  # type: ignore[union-attr]
        y = np.array([float(row.right) for row in found])
        weights = tuple((name, round(float(w), 2)) for name, w in zip(names, fit(x, y, args.l2), strict=True))
        print("fitted weights:", weights)
        policy = replace(policy, weights=weights)
    shipped = np.array([confidence(row.found, policy) if row.found is not None else 0.0 for row in rows])
    curve(rows, shipped, "In-sample (weights fitted on these questions):")
    if args.cv:
        curve(rows, cross_validated(rows, args.l2), "Repeated 5-fold cross-validation:")


if __name__ == "__main__":
    main()
