"""Run the question set (eval/questions.yaml) through ``Pipeline.ask`` and measure answer accuracy.

Used by ``pytest eval`` (see test_eval.py) and runnable by hand: ``python eval/evaluate.py [--corpus PATH]``, which
prints the table and writes eval/report.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from askidcpc.config import Settings
from askidcpc.metrics import contains_keys, gold_rank, mean, reciprocal_rank, token_f1
from askidcpc.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "questions.yaml"
# Written separately, never used for tuning: checks that what was tuned on QUESTIONS generalizes.
HELDOUT = HERE / "heldout.yaml"
REPORT = HERE / "report.md"
CATEGORIES = ("answerable", "multi_source", "dialogue_turn", "unanswerable")
RANK_DEPTH = 10


@dataclass(frozen=True)
class Case:
    """One question to ask, with its conversation so far and what a right answer is."""

    case_id: str
    question: str
    history: tuple[str, ...]
    category: str
    gold: tuple[str, ...]
    keys: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass(frozen=True)
class Result:
    case: Case
    answer: str | None
    confidence: float
    sentences: tuple[str, ...]
    rank: int | None

    @property
    def abstained(self) -> bool:
        return self.answer is None

    @property
    def key_found(self) -> bool:
        return contains_keys(self.answer, self.case.keys)

    @property
    def right(self) -> bool:
        """Right: an answerable case answered with its key in the answer; an unanswerable one abstained."""
        return self.key_found if self.case.answerable else self.abstained


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else (str(value),)


def load_cases(path: Path = QUESTIONS) -> list[Case]:
    """Every single question and every dialogue turn (asked with the turns before it as history)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = [
        Case(item["id"], item["question"], (), item["category"], tuple(item["gold"]), _keys(item["key"]))
        for item in spec["questions"]
    ]
    for dialogue in spec.get("dialogues", []):
        asked: list[str] = []
        for number, turn in enumerate(dialogue["turns"], start=1):
            category = "dialogue_turn" if asked else ("answerable" if turn["gold"] else "unanswerable")
            cases.append(
                Case(
                    f"{dialogue['id']}.{number}",
                    turn["question"],
                    tuple(asked),
                    category,
                    tuple(turn["gold"]),
                    _keys(turn["key"]),
                )
            )
            asked.append(turn["question"])
    return cases


def run(pipeline: Pipeline, cases: Sequence[Case]) -> list[Result]:
    results = []
    for case in cases:
        answer = pipeline.ask(case.question, top_k=RANK_DEPTH, history=case.history)
        sentences = tuple(citation.sentence for citation in answer.citations)
        rank = gold_rank(sentences, case.gold) if case.gold else None
        results.append(Result(case, answer.answer, answer.confidence, sentences, rank))
    return results


def summarize(results: Sequence[Result]) -> dict[str, dict[str, float]]:
    """Per category (and 'all'): counts and rates. Ranking measures cover answerable cases only."""
    table: dict[str, dict[str, float]] = {}
    for category in (*CATEGORIES, "all"):
        rows = [r for r in results if category in ("all", r.case.category)]
        if not rows:
            continue
        has_answer = [r for r in rows if r.case.answerable]
        no_answer = [r for r in rows if not r.case.answerable]
        table[category] = {
            "n": len(rows),
            "top1": mean(float(r.rank == 1) for r in has_answer),
            "recall@3": mean(float(r.rank is not None and r.rank <= 3) for r in has_answer),
            "mrr": mean(reciprocal_rank(r.rank, RANK_DEPTH) for r in has_answer),
            "key": mean(float(r.key_found) for r in has_answer),
            "f1": mean(token_f1(r.answer, " ".join(_gold_sentences(r))) for r in has_answer),
            "hasans": mean(float(r.right) for r in has_answer),
            "noans": mean(float(r.right) for r in no_answer),
            "false_abstain": mean(float(r.abstained) for r in has_answer),
            "accuracy": mean(float(r.right) for r in rows),
            "n_has": len(has_answer),
            "n_no": len(no_answer),
        }
    return table


def _gold_sentences(result: Result) -> list[str]:
    found = [s for s in result.sentences if gold_rank([s], result.case.gold) is not None]
    return found or list(result.case.gold)


def render(table: dict[str, dict[str, float]], results: Sequence[Result]) -> str:
    """The table and the failure report, as Markdown."""
    lines = [
        "| category | n | top-1 | recall@3 | MRR | key in answer | F1 | HasAns acc | NoAns acc | false abstain |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for category, row in table.items():
        has = row["n_has"] > 0
        no = row["n_no"] > 0

        def cell(name: str, present: bool, row: dict[str, float] = row) -> str:
            return f"{row[name]:.3f}" if present else "–"

        lines.append(
            f"| {category} | {int(row['n'])} | {cell('top1', has)} | {cell('recall@3', has)} | {cell('mrr', has)} | "
            f"{cell('key', has)} | {cell('f1', has)} | {cell('hasans', has)} | {cell('noans', no)} | "
            f"{cell('false_abstain', has)} |"
        )
    lines += ["", "Failures (one line per miss):", ""]
    for result in results:
        if result.right and (not result.case.answerable or result.rank == 1):
            continue
        said = "ABSTAINED" if result.answer is None else _clip(result.answer)
        wanted = (
            "abstain" if not result.case.answerable else f"{' + '.join(result.case.keys)} (gold rank {result.rank})"
        )
        history = f" [after: {' / '.join(result.case.history)}]" if result.case.history else ""
        lines.append(f"- {result.case.case_id} {result.case.question!r}{history}: answered {said!r}; expected {wanted}")
    return "\n".join(lines) + "\n"


def _clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
