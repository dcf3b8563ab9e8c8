"""The bundled question sets (eval/questions.yaml, eval/heldout.yaml) and the evaluation code, which lives in the
package (:mod:`askidcpc.edges.evaluate`, also behind ``askidcpc eval``) and is re-exported here for ``pytest eval``
and tools/train_reader.py.

Runnable by hand: ``python eval/evaluate.py [--corpus PATH]`` prints the table and writes eval/report.md (the same
as ``askidcpc eval eval/questions.yaml``, which does not write the report).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from askidcpc.config import Settings
from askidcpc.edges import evaluate as _evaluate
from askidcpc.edges.evaluate import CATEGORIES, RANK_DEPTH, Case, Result, render, run, summarize
from askidcpc.pipeline import Pipeline

__all__ = [
    "CATEGORIES",
    "HELDOUT",
    "QUESTIONS",
    "RANK_DEPTH",
    "REPORT",
    "Case",
    "Result",
    "load_cases",
    "render",
    "run",
    "summarize",
]

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "questions.yaml"
# Written separately, never used for tuning: checks that what was tuned on QUESTIONS generalizes.
HELDOUT = HERE / "heldout.yaml"
REPORT = HERE / "report.md"


def load_cases(path: Path = QUESTIONS) -> list[Case]:
    """Every case of a question file (eval/questions.yaml when none is given)."""
    return _evaluate.load_cases(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    pipeline = Pipeline.load(Settings.from_env(corpus=args.corpus))
    results = run(pipeline, load_cases())
    report = render(summarize(results), results)
    REPORT.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
