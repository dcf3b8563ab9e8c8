"""Short answers on SQuAD v1.1 dev: exact match and token F1 of ``Answer.short_answer`` by question kind, in two
settings, with the official SQuAD evaluation's normalisation (lowercase, punctuation and the articles a / an / the
removed, white space collapsed; each question scored against its best-matching annotated answer).

- **given the gold sentence**: the phrase :mod:`askidcpc.reader.short` picks from the sentence of the question's own
  context that holds the start of its first annotated answer;
- **end to end**: the question asked through ``Pipeline.ask`` over the ReQA pool (every sentence of every SQuAD
  context, as ``benchmarks/reqa_squad.py`` builds it); an abstention or a null short answer scores 0.

Run from the repository root (a few minutes on two cores):

    python benchmarks/short_answers.py [--data PATH] [--limit N]

The shipped weights were fitted on these questions (``tools/train_short.py``), so the gold-sentence rows here are
in-sample; the cross-validated figures (by article) are what ``tools/train_short.py fit`` prints.
"""

from __future__ import annotations

import argparse
import re
import string
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from squad import DATA_DIR, Squad, _read, load_squad

from askidcpc.config import Settings
from askidcpc.index.bm25 import build_index
from askidcpc.pipeline import Pipeline
from askidcpc.reader.query import build_query
from askidcpc.reader.short import GROUPS, question_group, short_answer_span
from askidcpc.text.tokenize import tokenize

__all__ = ["answer_starts", "exact_match", "gold_sentences", "normalize_answer", "squad_f1", "table"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 evaluation's normalisation: lowercase, punctuation removed, articles removed, white
    space collapsed."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str | None, answers: Sequence[str]) -> float:
    """1 when ``prediction`` equals one of ``answers`` after normalisation; None scores 0."""
    if prediction is None:
        return 0.0
    return float(any(normalize_answer(prediction) == normalize_answer(answer) for answer in answers))


def _f1(prediction: str, answer: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(answer).split()
    overlap = sum((Counter(predicted) & Counter(expected)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_f1(prediction: str | None, answers: Sequence[str]) -> float:
    """The official token F1 of ``prediction`` against its best-matching answer; None scores 0."""
    if prediction is None:
        return 0.0
    return max(_f1(prediction, answer) for answer in answers)


def answer_starts(path: Path) -> list[int]:
    """The character offset of each question's first annotated answer, in :func:`squad.load_squad`'s order."""
    spec = _read(path)
    return [
        int(qa["answers"][0]["answer_start"])
        for article in spec["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


def gold_sentences(bench: Squad, starts: Sequence[int]) -> list[int]:
    """Each question's gold sentence: the pid of its own context's sentence holding its first answer's start."""
    by_doc: dict[str, list[int]] = {}
    for passage in bench.passages:
        by_doc.setdefault(passage.doc_id, []).append(passage.pid)
    gold = []
    for question, start in zip(bench.questions, starts, strict=True):
        pids = by_doc[question.doc_id]
        inside = [pid for pid in pids if bench.passages[pid].start <= start < bench.passages[pid].end]
        # A start in the white space between two sentences belongs to the next one.
        gold.append(inside[0] if inside else next(pid for pid in pids if bench.passages[pid].start > start))
    return gold


def table(rows: dict[str, list[tuple[str, float, float]]]) -> str:
    """A Markdown table: one row per question kind (and all), EM / F1 per setting. ``rows``: setting → (kind, em,
    f1) for each question."""
    settings = list(rows)
    header = "| questions | n | " + " | ".join(f"{name} EM | {name} F1" for name in settings) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * len(settings))]
    first = rows[settings[0]]
    for kind in [*GROUPS, "all"]:
        picked = [i for i, (group, _, _) in enumerate(first) if kind in ("all", group)]
        if not picked:
            continue
        cells = []
        for name in settings:
            scores = [rows[name][i] for i in picked]
            em, f1 = (sum(score[at] for score in scores) / len(picked) for at in (1, 2))
            cells.append(f"{em:.3f} | {f1:.3f}")
        lines.append(f"| {kind} | {len(picked):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR / "squad-dev-v1.1.json.zip")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions (a quick look)")
    args = parser.parse_args()

    started = time.perf_counter()
    bench = load_squad(args.data)
    gold = gold_sentences(bench, answer_starts(args.data))
    settings = Settings()
    index = build_index([tokenize(p.text) for p in bench.passages], settings.bm25)
    pipeline = Pipeline.from_parts(bench.documents, bench.passages, index, settings)
    questions = bench.questions[: args.limit]
    given: list[tuple[str, float, float]] = []
    end_to_end: list[tuple[str, float, float]] = []
    abstained = wrong_sentence = 0
    for question, pid in zip(questions, gold, strict=False):
        query = build_query(question.text, (), pipeline.policy)
        group = question_group(question.text, query)
        sentence = bench.passages[pid].text
        span = short_answer_span(question.text, query, sentence)
        predicted = None if span is None else sentence[span[0] : span[1]]
        given.append((group, exact_match(predicted, question.answers), squad_f1(predicted, question.answers)))
        answer = pipeline.ask(question.text)
        short = answer.short_answer
        text = None if short is None else short.text
        abstained += answer.answer is None
        if answer.answer is not None:
            first = answer.citations[0]
            gold_spans = {(bench.passages[p].doc_id, bench.passages[p].start) for p in question.gold}
            wrong_sentence += (first.doc_id, first.start) not in gold_spans
        end_to_end.append((group, exact_match(text, question.answers), squad_f1(text, question.answers)))
    print(
        f"SQuAD v1.1 dev: {len(questions):,} questions, {len(bench.passages):,} sentences in the pool; "
        f"end to end: {abstained:,} abstained, {wrong_sentence:,} answered from a sentence that is not gold; "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    print(table({"gold sentence": given, "end to end": end_to_end}))


if __name__ == "__main__":
    main()
