"""Answer accuracy on a question file: ``askidcpc eval QUESTIONS.yaml`` and ``pytest eval`` (through the shim
eval/evaluate.py) share this code, so both print the same tables and failure report.

The question file's format is documented in docs/questions.md (and in the header of eval/questions.yaml):
``questions`` (single questions), optionally ``dialogues`` (turns asked with the earlier ones as history) and
``non_factual``. :func:`load_cases` reads and checks it (:class:`QuestionFileError`, one line, for a file that cannot
be used), :func:`run` asks every case through :meth:`Pipeline.ask`, :func:`summarize` makes the table, :func:`render`
the Markdown report, :func:`check_floors` says which given floors are missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from askidcpc.errors import AskError
from askidcpc.metrics import contains_keys, gold_rank, mean, reciprocal_rank, token_f1
from askidcpc.pipeline import Pipeline

__all__ = [
    "CATEGORIES",
    "FLOOR_METRICS",
    "RANK_DEPTH",
    "Case",
    "Floor",
    "QuestionFileError",
    "Result",
    "check_floors",
    "load_cases",
    "render",
    "result_dict",
    "run",
    "summarize",
    "table_dict",
]

CATEGORIES = ("answerable", "multi_source", "dialogue_turn", "unanswerable")
RANK_DEPTH = 10
_QUESTION_FIELDS = {"id", "question", "category", "gold", "key"}
_TURN_FIELDS = {"question", "gold", "key"}
_TOP_FIELDS = {"questions", "dialogues", "non_factual"}


class QuestionFileError(AskError):
    """A question file that cannot be used: missing, not YAML, or not in the documented format."""


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


def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    """A string or a list of strings (or null / nothing) as a tuple."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in items):
        raise QuestionFileError(f"{where}: '{name}' must be a string or a list of strings")
    return tuple(str(item) for item in items)


def _entry(item: Any, where: str, fields: set[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise QuestionFileError(f"{where}: must be a mapping with a 'question'")
    unknown = set(item) - fields
    if unknown:
        raise QuestionFileError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(item.get("question"), str) or not item["question"].strip():
        raise QuestionFileError(f"{where}: 'question' must be a non-empty string")
    return item


def _category(item: dict[str, Any], where: str, gold: tuple[str, ...]) -> str:
    category = item.get("category") or ("answerable" if gold else "unanswerable")
    if category not in CATEGORIES or category == "dialogue_turn":
        raise QuestionFileError(f"{where}: category must be answerable, multi_source or unanswerable, not {category!r}")
    if (category == "unanswerable") == bool(gold):
        raise QuestionFileError(f"{where}: an {category} question needs {'no' if gold else 'a'} gold sentence")
    return str(category)


def _read(path: Path) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QuestionFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise QuestionFileError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise QuestionFileError(f"{path}: not valid YAML{at}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("questions", []), list):
        raise QuestionFileError(f"{path}: must be a mapping with a 'questions' list (see docs/questions.md)")
    unknown = set(spec) - _TOP_FIELDS
    if unknown:
        raise QuestionFileError(f"{path}: unknown top-level field(s) {', '.join(sorted(map(str, unknown)))}")
    return spec


def load_cases(path: Path) -> list[Case]:
    """Every single question and every dialogue turn (asked with the turns before it as history) of the question
    file ``path``. QuestionFileError, one line saying where, for a file that cannot be used."""
    spec = _read(path)
    cases: list[Case] = []
    for number, raw in enumerate(spec.get("questions") or [], start=1):
        where = f"{path}: question {number}"
        item = _entry(raw, where, _QUESTION_FIELDS)
        gold = _strings(item.get("gold"), where, "gold")
        case_id = str(item.get("id", f"q{number}"))
        keys = _strings(item.get("key"), where, "key")
        cases.append(Case(case_id, item["question"], (), _category(item, where, gold), gold, keys))
    dialogues = spec.get("dialogues") or []
    if not isinstance(dialogues, list):
        raise QuestionFileError(f"{path}: 'dialogues' must be a list")
    for number, dialogue in enumerate(dialogues, start=1):
        where = f"{path}: dialogue {number}"
        if (
            not isinstance(dialogue, dict)
            or not isinstance(dialogue.get("turns"), list)
            or set(dialogue)
            - {
                "id",
                "turns",
            }
        ):
            raise QuestionFileError(f"{where}: must be a mapping with an 'id' and a 'turns' list")
        dialogue_id = str(dialogue.get("id", f"d{number}"))
        asked: list[str] = []
        for turn_number, raw in enumerate(dialogue["turns"], start=1):
            turn = _entry(raw, f"{where} turn {turn_number}", _TURN_FIELDS)
            gold = _strings(turn.get("gold"), where, "gold")
            category = "dialogue_turn" if asked else ("answerable" if gold else "unanswerable")
            keys = _strings(turn.get("key"), where, "key")
            cases.append(Case(f"{dialogue_id}.{turn_number}", turn["question"], tuple(asked), category, gold, keys))
            asked.append(turn["question"])
    if not cases:
        raise QuestionFileError(f"{path}: holds no questions")
    ids = [case.case_id for case in cases]
    repeated = sorted({case_id for case_id in ids if ids.count(case_id) > 1})
    if repeated:
        raise QuestionFileError(f"{path}: id(s) used more than once: {', '.join(repeated)}")
    return cases


def run(pipeline: Pipeline, cases: Sequence[Case]) -> list[Result]:
    """Ask every case (with its history) through :meth:`Pipeline.ask`, ``RANK_DEPTH`` citations each."""
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


# Floors a user can set (``askidcpc eval --min-top1 ...``): the name, the table's metric (over all cases), whether
# it is a ceiling (lower is better), and which cases it needs.
FLOOR_METRICS: Mapping[str, tuple[str, bool, str]] = {
    "top1": ("top1", False, "n_has"),
    "noans": ("noans", False, "n_no"),
    "key": ("key", False, "n_has"),
    "false_abstain": ("false_abstain", True, "n_has"),
}


@dataclass(frozen=True)
class Floor:
    """A floor (or, for a ceiling, the highest allowed value) on a metric of the table's 'all' row, and whether the
    measured ``value`` meets it (None: no case measures it, which does not meet it)."""

    name: str
    limit: float
    value: float | None
    ceiling: bool

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.limit if self.ceiling else self.value >= self.limit

    def describe(self) -> str:
        if self.value is None:
            return f"{self.name}: no question measures it"
        sign = ("<=" if self.met else ">") if self.ceiling else (">=" if self.met else "<")
        return f"{self.name} {self.value:.3f} {sign} {self.limit:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.name, "limit": self.limit, "value": self.value, "ceiling": self.ceiling, "met": self.met}


def check_floors(table: dict[str, dict[str, float]], limits: Mapping[str, float]) -> list[Floor]:
    """Each given limit (by :data:`FLOOR_METRICS` name) against the table's 'all' row."""
    row = table.get("all", {})
    floors = []
    for name, limit in limits.items():
        metric, ceiling, needs = FLOOR_METRICS[name]
        value = row[metric] if row.get(needs, 0) > 0 else None
        floors.append(Floor(name, limit, value, ceiling))
    return floors


_NEEDS_NO_ANSWER = frozenset({"noans"})
_COUNTS = frozenset({"n", "n_has", "n_no"})


def table_dict(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float | int | None]]:
    """The table, JSON-ready: counts as integers, and null for a rate no case of that row measures (the '–' of
    :func:`render`)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for category, row in table.items():
        cells: dict[str, float | int | None] = {}
        for name, value in row.items():
            needs = row["n_no"] if name in _NEEDS_NO_ANSWER else row["n_has"]
            if name in _COUNTS:
                cells[name] = int(value)
            elif name == "accuracy":
                cells[name] = value
            else:
                cells[name] = value if needs > 0 else None
        out[category] = cells
    return out


def result_dict(result: Result) -> dict[str, Any]:
    """One case's outcome, JSON-ready."""
    return {
        "id": result.case.case_id,
        "question": result.case.question,
        "history": list(result.case.history),
        "category": result.case.category,
        "answer": result.answer,
        "confidence": round(result.confidence, 4),
        "gold_rank": result.rank,
        "key_found": result.key_found if result.case.answerable else None,
        "right": result.right,
    }
