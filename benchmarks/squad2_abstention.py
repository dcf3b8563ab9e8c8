"""Abstention on SQuAD 2.0: does askidcpc's confidence know what the articles don't say?

Every paragraph of the data set is a document; every question, answerable or not, is asked of all of them through
``Pipeline.ask`` (the code users get). SQuAD 2.0's unanswerable questions were written by crowd workers to look
answerable from their paragraph (the same topic and words, a changed entity, a negation, an antonym): the hardest
near misses a lexical reader meets.

Reported, for the shipped settings:

- answerable questions: P@1 and MRR@10 of the citations (the answer's sentence first), and false abstention;
- unanswerable questions: NoAns, the share abstained;
- the ROC AUC of ``confidence`` between answerable questions whose top sentence is right and unanswerable ones,
  beside the same AUC of a plain BM25 top score (rank-bm25's BM25Okapi formula over lowercase words) in the same run:
  the confidence must separate the two better than a raw score does;
- NoAns that a threshold on each score reaches at a false abstention of 0.10 and 0.15 (over all answerable
  questions), to compare the scores at a fixed cost.

When the reader was fitted on this data (tools/train_reader.py), these figures are in-sample; the training script
prints the cross-validated ones (by article).

    python benchmarks/squad2_abstention.py --data dev-v2.0.json      # or a zip holding it

``dev-v2.0.json`` is SQuAD 2.0's development set, "Dev Set v2.0" on https://rajpurkar.github.io/SQuAD-explorer/.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from squad import DATA_DIR, Squad, load_squad

from askidcpc.config import BM25Params, Settings
from askidcpc.index.bm25 import build_index, query_weights
from askidcpc.metrics import roc_auc
from askidcpc.pipeline import Pipeline
from askidcpc.text.tokenize import tokenize

_PLAIN = re.compile(r"\w+")


def plain_top_scores(squad: Squad) -> list[float]:
    """Each question's best plain BM25 (Okapi k1 1.5, b 0.75, lowercase words) sentence score."""
    index = build_index([_PLAIN.findall(p.text.lower()) for p in squad.passages], BM25Params("okapi", k1=1.5))
    tops = []
    for question in squad.questions:
        found = index.search(query_weights(_PLAIN.findall(question.text.lower())), 1)
        tops.append(found[0][1] if found else 0.0)
    return tops


def noans_at(scores: Sequence[float], answerable: Sequence[bool], false_abstention: float) -> float:
    """NoAns of the highest threshold whose false abstention (share of answerable questions scoring below it) stays
    within ``false_abstention``."""
    has = np.sort(np.asarray([s for s, a in zip(scores, answerable, strict=True) if a]))
    no = np.asarray([s for s, a in zip(scores, answerable, strict=True) if not a])
    allowed = int(np.floor(false_abstention * len(has)))
    threshold = has[allowed] if allowed < len(has) else np.inf  # below it: `allowed` answerable questions at most
    return float(np.mean(no < threshold)) if len(no) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR / "squad-dev-v2.0-first17.json.zip")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (0: all)")
    args = parser.parse_args()
    squad = load_squad(args.data)
    questions = squad.questions[: args.limit] if args.limit else squad.questions
    settings = Settings()
    index = build_index([tokenize(p.text) for p in squad.passages], settings.bm25)
    pipeline = Pipeline.from_parts(squad.documents, squad.passages, index, settings)
    pid_of = {(p.doc_id, p.start): p.pid for p in squad.passages}
    began = time.perf_counter()
    confidences, abstained, right, reciprocal = [], [], [], []
    for question in questions:
        answer = pipeline.ask(question.text, top_k=10)
        pids = [pid_of[(c.doc_id, c.start)] for c in answer.citations]
        rank = next((at for at, pid in enumerate(pids, start=1) if pid in question.gold), None)
        confidences.append(answer.confidence)
        abstained.append(answer.answer is None)
        right.append(rank == 1)
        reciprocal.append(1.0 / rank if rank else 0.0)
    seconds = time.perf_counter() - began
    tops = plain_top_scores(squad)[: len(questions)]
    answerable = [q.answerable for q in questions]
    has = [i for i, a in enumerate(answerable) if a]
    no = [i for i, a in enumerate(answerable) if not a]
    positives = [i for i in has if right[i]]

    def auc(scores: Sequence[float]) -> float:
        return roc_auc([scores[i] for i in positives], [scores[i] for i in no])

    print(f"SQuAD 2.0 ({args.data.name}): {len(squad.documents):,} paragraphs, {len(squad.passages):,} sentences, ")
    per_ask = seconds / len(questions) * 1e3
    print(f"{len(has):,} answerable and {len(no):,} unanswerable questions; {per_ask:.1f} ms an ask\n")
    print("| score | P@1 | MRR@10 | false abstention | NoAns | AUC | NoAns @ FA 0.10 | NoAns @ FA 0.15 |")
    print("|---|---|---|---|---|---|---|---|")
    p_at_1 = np.mean([right[i] for i in has])
    mrr = np.mean([reciprocal[i] for i in has])
    false = np.mean([abstained[i] for i in has])
    noans = np.mean([abstained[i] for i in no])
    print(
        f"| askidcpc confidence | {p_at_1:.3f} | {mrr:.3f} | {false:.3f} | {noans:.3f} | {auc(confidences):.3f} | "
        f"{noans_at(confidences, answerable, 0.10):.3f} | {noans_at(confidences, answerable, 0.15):.3f} |"
    )
    print(
        f"| plain BM25 top score | | | | | {auc(tops):.3f} | {noans_at(tops, answerable, 0.10):.3f} | "
        f"{noans_at(tops, answerable, 0.15):.3f} |"
    )


if __name__ == "__main__":
    main()
