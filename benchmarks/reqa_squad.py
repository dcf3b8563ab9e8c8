"""ReQA-SQuAD: sentence retrieval on SQuAD v1.1 dev through askidcpc's own pipeline, beside plain BM25.

Data: SQuAD v1.1's development set, ``dev-v1.1.json`` ("Dev Set v1.1" on
https://rajpurkar.github.io/SQuAD-explorer/), or a zip holding it, passed with ``--data``. Run from the repository
root (about a minute per configuration on two cores):

    python benchmarks/reqa_squad.py --data dev-v1.1.json    # the default configuration and plain BM25Okapi
    python benchmarks/reqa_squad.py --ablation      # each technique added in turn (the table in RESULTS.md)
    python benchmarks/reqa_squad.py --k1 0.6 --paragraph-weight 1.0 ...   # one configuration

The task follows ReQA (Ahmad et al. 2019, arXiv:1907.04780), retrieval of the answer sentence: every SQuAD
context becomes one askidcpc ``Document``; askidcpc splits them into sentence passages (``sentences.split_spans``);
the candidate pool is all sentences of all 2,067 contexts; a question's gold sentences are those of its own context
that hold the start of one of its answers; P@1 and MRR@10 over all 10,570 questions. Ranking goes through the code
users get: ``answer.reading`` (spelling, tokenizer, question words, answer types, WordNet synonyms) and
``Pipeline.retrieve`` (``rank.Ranker``: sentence BM25 blended with paragraph BM25 and answer-type bonuses).

In the same run, the baseline: rank-bm25's ``BM25Okapi`` formula (k1=1.5, b=0.75, epsilon=0.25) over the same
sentences with plain lowercase ``\\w+`` tokens, scored by ``askidcpc.index.bm25`` variant ``okapi`` (tested to equal
rank-bm25 to 1e-9) and checked here against rank-bm25 itself on a sample of questions. Scoring runs one question at
a time over the postings, so memory stays small.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from squad import DATA_DIR, Question, Squad, load_squad

from askidcpc.config import AnswerPolicy, BM25Params, RankParams, Settings
from askidcpc.index.bm25 import build_index, query_weights
from askidcpc.pipeline import Pipeline
from askidcpc.reader.answer import reading
from askidcpc.reader.answer_type import AnswerType
from askidcpc.reader.candidates import candidates
from askidcpc.reader.model import load_model
from askidcpc.text.tokenize import tokenize

_PLAIN = re.compile(r"\w+")


@dataclass(frozen=True)
class Scores:
    p_at_1: float
    mrr_at_10: float
    n: int


def evaluate(ranked: Sequence[Sequence[int]], questions: Sequence[Question]) -> Scores:
    hits = rr = 0.0
    for pids, question in zip(ranked, questions, strict=True):
        for rank, pid in enumerate(pids[:10], start=1):
            if pid in question.gold:
                rr += 1.0 / rank
                hits += rank == 1
                break
    n = len(questions)
    return Scores(hits / n, rr / n, n)


def run_plain(bench: Squad, check: int) -> list[list[int]]:
    """rank-bm25's BM25Okapi formula over lowercase word tokens; ``check`` questions compared with rank-bm25."""
    corpus = [_PLAIN.findall(p.text.lower()) for p in bench.passages]
    index = build_index(corpus, BM25Params(variant="okapi", k1=1.5, b=0.75, epsilon=0.25))
    ranked = []
    for question in bench.questions:
        query = query_weights(_PLAIN.findall(question.text.lower()))
        ranked.append([pid for pid, _ in index.search(query, 10)])
    if check:
        from rank_bm25 import BM25Okapi

        oracle = BM25Okapi(corpus, k1=1.5, b=0.75, epsilon=0.25)
        for question in bench.questions[:: max(1, len(bench.questions) // check)][:check]:
            tokens = _PLAIN.findall(question.text.lower())
            expected = np.asarray(oracle.get_scores(tokens))
            ours = index.scores(query_weights(tokens))
            if not np.allclose(expected, ours, atol=1e-9):
                raise SystemExit(f"plain BM25 disagrees with rank-bm25 on {question.text!r}")
    return ranked


def make_pipeline(bench: Squad, terms: Sequence[Sequence[str]], bm25: BM25Params, rank: RankParams) -> Pipeline:
    """askidcpc's Pipeline over the benchmark's passages (split once, indexed per configuration)."""
    settings = Settings(bm25=bm25, policy=AnswerPolicy(ranking=rank))
    return Pipeline.from_parts(bench.documents, bench.passages, build_index(terms, bm25), settings)


def run_pipeline(bench: Squad, pipeline: Pipeline) -> list[list[int]]:
    ranked = []
    for question in bench.questions:
        _, query = reading(question.text, (), pipeline, pipeline.policy)
        ranked.append([hit.passage.pid for hit in pipeline.retrieve(query, 10)])
    return ranked


def run_reader(bench: Squad, pipeline: Pipeline) -> list[list[int]]:
    """The learned reader's order: its shipped lexical model over the retriever's top candidates (the sentence it
    answers from first). The model was fitted on these questions among others, so this row is in-sample; the
    cross-validated figures (by article) are what tools/train_reader.py prints."""
    model = load_model()
    ranked = []
    for question in bench.questions:
        read, query = reading(question.text, (), pipeline, pipeline.policy)
        found = candidates(read, query, pipeline, pipeline.policy.candidates)
        if not found.hits:
            ranked.append([])
            continue
        order = np.argsort(-model.scores(found.features), kind="stable")
        ranked.append([found.hits[i].passage.pid for i in order[:10].tolist()])
    return ranked


def halves(ranked: Sequence[Sequence[int]], bench: Squad) -> tuple[Scores, Scores, Scores]:
    """All questions; those of the first half of the articles (tuning); those of the second half (held out)."""
    cut = bench.n_articles // 2
    first = [i for i, q in enumerate(bench.questions) if q.article < cut]
    second = [i for i, q in enumerate(bench.questions) if q.article >= cut]

    def pick(ids: list[int]) -> tuple[list[Sequence[int]], list[Question]]:
        return [ranked[i] for i in ids], [bench.questions[i] for i in ids]

    return evaluate(ranked, bench.questions), evaluate(*pick(first)), evaluate(*pick(second))


def row(name: str, scores: tuple[Scores, Scores, Scores], seconds: float) -> str:
    every, first, second = scores
    return (
        f"| {name} | {every.p_at_1:.3f} | {every.mrr_at_10:.3f} | {first.p_at_1:.3f} / {second.p_at_1:.3f} | "
        f"{seconds:.0f} s |"
    )


HEADER = "| configuration | P@1 | MRR@10 | P@1 tune / held-out half | time |\n|---|---|---|---|---|"


def ladder(default: RankParams, k1: float) -> list[tuple[str, BM25Params, RankParams]]:
    """Each technique added in turn, then each removed from the default, to show what it is worth."""
    none = RankParams(
        paragraph_weight=0.0,
        synonym_weight=0.0,
        derivation_weight=0.0,
        type_bonus=0.0,
        answer_types=frozenset(),
        drop_type_words=False,
    )
    lucene = BM25Params(variant="lucene", k1=1.2, b=0.75)
    tuned = BM25Params(variant="lucene", k1=k1, b=0.75)
    return [
        ("askidcpc tokens (stem + stop words), lucene k1=1.2", lucene, none),
        (f"+ k1={k1}", tuned, none),
        ("+ question words that name the answer type dropped", tuned, replace(none, drop_type_words=True)),
        (
            f"+ paragraph BM25 blended (weight {default.paragraph_weight})",
            tuned,
            replace(none, drop_type_words=True, paragraph_weight=default.paragraph_weight),
        ),
        (
            f"+ answer types date/number (bonus {default.type_bonus})",
            tuned,
            replace(default, synonym_weight=0.0, derivation_weight=0.0),
        ),
        (
            f"+ WordNet synonyms (weight {default.synonym_weight})",
            tuned,
            replace(default, derivation_weight=0.0),
        ),
        ("default (as shipped)", tuned, default),
        ("default - paragraph blend", tuned, replace(default, paragraph_weight=0.0)),
        ("default - synonyms", tuned, replace(default, synonym_weight=0.0)),
        ("default - answer types", tuned, replace(default, type_bonus=0.0)),
        ("default - synonyms standing in for absent words", tuned, replace(default, substitute_weight=0.0)),
        (
            "default + person-name type for who",
            tuned,
            replace(default, answer_types=default.answer_types | {AnswerType.PERSON.value}),
        ),
        ("default + WordNet derivations (weight 0.15)", tuned, replace(default, derivation_weight=0.15)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR / "squad-dev-v1.1.json.zip")
    parser.add_argument("--ablation", action="store_true", help="run the technique ladder")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--k1", type=float, default=None)
    parser.add_argument("--b", type=float, default=None)
    parser.add_argument("--paragraph-weight", type=float, default=None)
    parser.add_argument("--synonym-weight", type=float, default=None)
    parser.add_argument("--derivation-weight", type=float, default=None)
    parser.add_argument("--type-bonus", type=float, default=None)
    parser.add_argument("--types", default=None, help="comma-separated answer types, e.g. date,number,person")
    parser.add_argument("--check", type=int, default=50, help="questions checked against rank-bm25 itself")
    args = parser.parse_args()

    settings = Settings()
    shipped_bm25 = settings.bm25
    shipped_rank = AnswerPolicy().ranking
    bm25 = BM25Params(
        variant=args.variant or shipped_bm25.variant,
        k1=shipped_bm25.k1 if args.k1 is None else args.k1,
        b=shipped_bm25.b if args.b is None else args.b,
    )
    overrides: dict[str, Any] = {
        "paragraph_weight": args.paragraph_weight,
        "synonym_weight": args.synonym_weight,
        "derivation_weight": args.derivation_weight,
        "type_bonus": args.type_bonus,
    }
    if args.types is not None:
        overrides["answer_types"] = frozenset(AnswerType(t).value for t in args.types.split(",") if t)
    rank = replace(shipped_rank, **{k: v for k, v in overrides.items() if v is not None})

    started = time.perf_counter()
    bench = load_squad(args.data)
    print(
        f"SQuAD v1.1 dev: {len(bench.documents):,} contexts, {len(bench.passages):,} sentences (askidcpc's "
        f"splitter), {len(bench.questions):,} questions; loaded in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    terms = [tokenize(p.text) for p in bench.passages]
    print(HEADER)
    started = time.perf_counter()
    print(row("plain BM25Okapi k1=1.5 b=0.75, lowercase words", halves(run_plain(bench, args.check), bench), 0))
    configurations = ladder(rank, bm25.k1) if args.ablation else [("askidcpc", bm25, rank)]
    for name, bm25_params, rank_params in configurations:
        started = time.perf_counter()
        pipeline = make_pipeline(bench, terms, bm25_params, rank_params)
        ranked = run_pipeline(bench, pipeline)
        print(row(name, halves(ranked, bench), time.perf_counter() - started), flush=True)
    if not args.ablation:
        started = time.perf_counter()
        ranked = run_reader(bench, make_pipeline(bench, terms, bm25, rank))
        print(row("askidcpc reader (in-sample)", halves(ranked, bench), time.perf_counter() - started), flush=True)
    print(f"\nbm25 {bm25}\nrank {rank}", file=sys.stderr)


if __name__ == "__main__":
    main()
