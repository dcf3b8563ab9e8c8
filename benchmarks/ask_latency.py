"""End-to-end ``ask()`` latency over a saved index: load time, first question, then p50/p99 of many questions.

In-process and one question at a time (one thread), as a server worker or ``askidcpc ask --json -`` answers:

    python benchmarks/gen_corpus.py --kind squad --sentences 1000000          # once: the sentences and questions
    python benchmarks/ask_latency.py --lines /tmp/askidcpc-bench/squad-1000000.txt \\
        --questions /tmp/askidcpc-bench/squad-1000000.queries.txt --index /tmp/ask-latency/squad-1000000

The first run saves the index (``askidcpc.index.store.save_index``) at ``--index``: the sentences (one a line, from
``gen_corpus.py``) grouped into articles of 24 sentences, four paragraphs of six (a blank line between paragraphs),
each sentence capitalised and ending with a full stop. Passages are made from those known spans rather than by the
sentence splitter, so that building 1M sentences takes minutes, not an hour; everything after saving is what users
run. Reported: ``Pipeline.load`` (checksums verified), the first ``ask()`` (everything built lazily on first use
included), ``ask()`` p50/p99 over ``--n`` questions (``top_k`` 3), and the bare retrieval of the same questions'
query terms (``BM25Index.search``, top 10) for comparison. One JSON object on standard output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SENTENCES_PER_PARAGRAPH = 6
PARAGRAPHS_PER_ARTICLE = 4


def build(lines_path: Path, index_path: Path) -> None:
    """Save an index over the sentences of ``lines_path`` at ``index_path``."""
    from askidcpc.config import Settings
    from askidcpc.index.bm25 import build_index
    from askidcpc.index.store import save_index
    from askidcpc.text.tokenize import tokenize
    from askidcpc.types import Document, Passage

    has_paragraph = "paragraph" in {field.name for field in dataclasses.fields(Passage)}
    lines = lines_path.read_text(encoding="utf-8").splitlines()
    per_article = SENTENCES_PER_PARAGRAPH * PARAGRAPHS_PER_ARTICLE
    documents: list[Document] = []
    passages: list[Passage] = []
    paragraph = -1
    for first in range(0, len(lines), per_article):
        doc_id = f"article-{first // per_article:06d}"
        text = ""
        base = len(passages)
        chunk = lines[first : first + per_article]
        for i, line in enumerate(chunk):
            if i % SENTENCES_PER_PARAGRAPH == 0:
                paragraph += 1
                text += "\n\n" if i else ""
            elif i:
                text += " "
            sentence = line[:1].upper() + line[1:] + "."
            start = len(text)
            text += sentence
            extra: dict[str, Any] = {"paragraph": paragraph} if has_paragraph else {}
            passages.append(
                Passage(
                    pid=base + i,
                    doc_id=doc_id,
                    start=start,
                    end=len(text),
                    text=sentence,
                    prev_pid=base + i - 1 if i else None,
                    next_pid=base + i + 1 if i + 1 < len(chunk) else None,
                    **extra,
                )
            )
        documents.append(Document(doc_id=doc_id, title=f"Article {first // per_article}", text=text))
    started = time.perf_counter()
    index = build_index((tokenize(passage.text) for passage in passages), Settings().bm25)
    print(f"indexed {len(passages):,} passages in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    save_index(index_path, documents, passages, index)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(index_path: Path, questions: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    from askidcpc.config import Settings
    from askidcpc.pipeline import Pipeline
    from askidcpc.reader.query import build_query

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    pipeline = Pipeline.load(Settings(corpus=index_path))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.ask(questions[0])
    first_s = time.perf_counter() - started
    ask_ms: list[float] = []
    abstained = 0
    for question in questions[1:]:
        started = time.perf_counter()
        answer = pipeline.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        abstained += answer.answer is None
    queries = [build_query(question, (), pipeline.policy).terms for question in questions[1:]]
    search_ms: list[float] = []
    for terms in queries:
        started = time.perf_counter()
        pipeline.index.search(terms, 10)
        search_ms.append((time.perf_counter() - started) * 1000)
    return {
        "index": str(index_path),
        "passages": len(pipeline.passages),
        "questions": len(ask_ms),
        "import_s": round(import_s, 3),
        "load_s": round(load_s, 3),
        "first_ask_s": round(first_s, 3),
        "ask_p50_ms": round(statistics.median(ask_ms), 2),
        "ask_p99_ms": round(percentile(ask_ms, 0.99), 2),
        "ask_mean_ms": round(statistics.fmean(ask_ms), 2),
        "search_p50_ms": round(statistics.median(search_ms), 3),
        "search_p99_ms": round(percentile(search_ms, 0.99), 3),
        "abstained": abstained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=Path, help="sentences, one a line (gen_corpus.py); used to build --index")
    parser.add_argument("--questions", type=Path, required=True, help="questions, one a line")
    parser.add_argument("--index", type=Path, required=True, help="the saved index (built first when missing)")
    parser.add_argument("--n", type=int, default=1000, help="questions asked (after the first)")
    args = parser.parse_args()
    for path in (args.questions, args.lines if not args.index.exists() else None):
        if path is not None and not path.exists():
            raise SystemExit(f"{path}: not found; benchmarks/gen_corpus.py writes the sentences and questions")
    if not args.index.exists():
        if args.lines is None:
            parser.error(f"{args.index} does not exist; give --lines to build it")
        build(args.lines, args.index)
    questions = [line for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [f"{q[:1].upper()}{q[1:]}?" for q in questions][: args.n + 1]
    print(json.dumps(measure(args.index, questions)))


if __name__ == "__main__":
    main()
