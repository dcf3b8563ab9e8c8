"""Calibrate askidcpc's abstention on eval/questions.yaml: fit the Evidence → confidence weights and print the
trade-off curve (threshold vs HasAns accuracy, NoAns accuracy, false abstention).

A case is a positive when its best sentence is a gold one; unanswerable cases and wrong best sentences are
negatives. The fit is an L2-regularised logistic regression over the five Evidence features, so there is little
to overfit. Usage: ``PYTHONPATH=src python tools/calibrate.py [--fit]`` (without --fit: the shipped weights).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

import evaluate  # noqa: E402

from askidcpc.answer import AnswerPolicy, Evidence, build_query, confidence, evidence  # noqa: E402
from askidcpc.config import Settings  # noqa: E402
from askidcpc.metrics import contains_keys, gold_rank  # noqa: E402
from askidcpc.pipeline import Pipeline  # noqa: E402


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(steps):  # Newton's method
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hess = (x.T * (p * (1 - p))) @ x + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    return w


def answers(found: Evidence | None, policy: AnswerPolicy, threshold: float) -> bool:
    return found is not None and confidence(found, policy) >= threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--label", choices=("right", "answerable"), default="right")
    args = parser.parse_args()
    pipeline = Pipeline.load(Settings())
    cases = evaluate.load_cases()
    rows = []
    for case in cases:
        query = build_query(case.question, case.history, pipeline.policy)
        hits = pipeline.retrieve(query, 10)
        if not hits:
            rows.append((case, None, False, False))
            continue
        found = evidence(query, hits, pipeline.idf_by_term, pipeline.policy)
        top = hits[0].passage.text
        right = bool(case.gold) and gold_rank([top], case.gold) == 1
        rows.append((case, found, right, bool(case.gold) and contains_keys(top, case.keys)))
    policy = pipeline.policy
    if args.fit:
        x = np.array([found.features() for _, found, _, _ in rows if found is not None])
        y = np.array(
            [
                float(bool(case.gold)) if args.label == "answerable" else float(right)
                for case, found, right, _ in rows
                if found is not None
            ]
        )
        weights = fit(x, y)
        print("fitted weights:", tuple(round(float(w), 2) for w in weights))
        policy = replace(policy, weights=tuple(round(float(w), 2) for w in weights))
    print("\n| threshold | HasAns acc (key in answer) | NoAns acc | false abstention | all |\n|---|---|---|---|---|")
    has = [r for r in rows if r[0].gold]
    no = [r for r in rows if not r[0].gold]
    for threshold in [0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]:
        hasans = sum(key for _, found, _, key in has if answers(found, policy, threshold)) / len(has)
        noans = sum(not answers(found, policy, threshold) for _, found, _, _ in no) / len(no)
        false = sum(not answers(found, policy, threshold) for _, found, _, _ in has) / len(has)
        total = (hasans * len(has) + noans * len(no)) / len(rows)
        print(f"| {threshold:.2f} | {hasans:.3f} | {noans:.3f} | {false:.3f} | {total:.3f} |")


if __name__ == "__main__":
    main()
