"""BM25 retrieval at scale, side by side: askidcpc, rank-bm25, bm25s (numpy and numba backends) and tantivy.

Every engine gets the same sentences and the same tokens (each line of the corpus split on whitespace), the same
queries, k = 10, BM25 k1 = 1.2, b = 0.75 with the Lucene idf (rank-bm25: its BM25Okapi idf, as it has no other), and
runs in its own process, one after the other, so their memory and caches do not mix. Per engine: build time from
text (read, split, index), the child's peak resident memory (``ru_maxrss``), the saved index's size and its load
time, per-query latency p50/p99 one query at a time on one thread, batch throughput on 2 threads, and top-10
agreement with an exhaustive computation of the same formula (plain numpy, in its own process; checked against
rank-bm25 itself on the rank-bm25 queries). rank-bm25 scores every passage in Python-level numpy per query (about a
second at 1M), so it runs on the first ``--rank-bm25-queries`` queries only.

Run (on demand; 1M sentences take about 15 minutes in all):
``python benchmarks/scale.py --kinds zipf squad --sizes 10000 100000 1000000``
writes the ``## Scale`` section of ``benchmarks/RESULTS.md`` (``--no-write`` to only print). Corpora come from
``benchmarks/gen_corpus.py`` (cached in ``--data``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from gen_corpus import write_corpus, write_news  # noqa: E402

K = 10
K1, B = 1.2, 0.75
WARMUP = 20
ENGINES = ("askidcpc", "askidcpc-e2e", "bm25s-numba", "bm25s-numpy", "tantivy", "rank-bm25")
Hits = list[tuple[list[int], list[float]]]


def read_lines(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield line.split()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def time_queries(search: Callable[[list[str]], tuple[list[int], list[float]]], queries: list[list[str]]) -> Any:
    for query in queries[:WARMUP]:
        search(query)
    latencies = []
    hits: Hits = []
    for query in queries:
        start = time.perf_counter()
        result = search(query)
        latencies.append(time.perf_counter() - start)
        hits.append(result)
    return np.array(latencies) * 1000, hits


# ---------------------------------------------------------------------------------------------------------------
# Engines: each builds from the corpus file, saves, reloads, and returns a one-query search and a batch search.


def save_with_store(corpus: Path, index: Any, saved: Path) -> None:
    """Save through askidcpc's store (``askidcpc index`` format): the sentences grouped 1,000 to a document, one
    a line (so one a paragraph)."""
    from askidcpc.index.store import save_index
    from askidcpc.types import Document, Passage

    documents = []
    passages = []
    lines = corpus.read_text(encoding="utf-8").splitlines()
    for first in range(0, len(lines), 1000):
        doc_id = f"part-{first // 1000:05d}"
        offset = 0
        for line in lines[first : first + 1000]:
            pid = len(passages)
            passages.append(Passage(pid, doc_id, offset, offset + len(line), line, paragraph=pid))
            offset += len(line) + 1
        documents.append(Document(doc_id=doc_id, title=doc_id, text="\n".join(lines[first : first + 1000])))
    save_index(saved, documents, passages, index)


def run_askidcpc(corpus: Path, queries: list[list[str]], work: Path) -> dict[str, Any]:
    from askidcpc.config import BM25Params
    from askidcpc.index.bm25 import build_index, query_weights
    from askidcpc.index.store import load_index

    start = time.perf_counter()
    index = build_index(read_lines(corpus), BM25Params("lucene", k1=K1, b=B))
    build_s = time.perf_counter() - start
    build_peak = peak_mb()
    saved = work / "askidcpc"
    save_with_store(corpus, index, saved)
    del index
    gc.collect()
    # The index proper: everything but the stored document texts and metadata (which no other engine keeps).
    texts = sum(f.stat().st_size for f in saved.glob("doc_*")) / 2**20
    start = time.perf_counter()
    load_index(saved, verify=False)
    load_unverified_s = time.perf_counter() - start
    start = time.perf_counter()
    index = load_index(saved).index  # checksums verified, as `askidcpc ask --corpus INDEX` does
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    index.search(query_weights(queries[0]), K)  # term bounds and the kernel, loaded from numba's cache
    first_ms = (time.perf_counter() - start) * 1000

    def search(query: list[str]) -> tuple[list[int], list[float]]:
        hits = index.search(query_weights(query), K)
        return [pid for pid, _ in hits], [score for _, score in hits]

    latencies, hits = time_queries(search, queries)
    weighted = [query_weights(query) for query in queries]
    index.search_many(weighted[:WARMUP], K, workers=2)
    start = time.perf_counter()
    index.search_many(weighted, K, workers=2)
    batch_qps = len(queries) / (time.perf_counter() - start)
    cold = subprocess.run(
        [sys.executable, __file__, "--cold", str(saved), "--query", " ".join(queries[-1])],
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        "build_s": build_s,
        "build_peak_mb": build_peak,
        "index_mb": dir_mb(saved) - texts,
        "texts_mb": texts,
        "load_s": load_s,
        "load_unverified_s": load_unverified_s,
        "first_ms": first_ms,
        "latencies": latencies,
        "hits": hits,
        "batch_qps": batch_qps,
        "cold": json.loads(cold.stdout),
    }


def cold_start(saved: Path, query: str) -> None:
    """A fresh process: import, open the saved index (checksums verified), first query (numba's cached code)."""
    start = time.perf_counter()
    from askidcpc.index.bm25 import query_weights
    from askidcpc.index.store import load_index

    import_s = time.perf_counter() - start
    index = load_index(saved).index
    opened = time.perf_counter()
    index.search(query_weights(query.split()), K)
    first = time.perf_counter()
    index.search(query_weights(query.split()), K)
    second = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": import_s,
                "open_s": opened - start - import_s,
                "first_query_s": first - opened,
                "second_query_ms": (second - first) * 1000,
                "total_s": second - start,
            }
        )
    )


def run_bm25s(corpus: Path, queries: list[list[str]], work: Path, backend: str) -> dict[str, Any]:
    import bm25s

    start = time.perf_counter()
    tokens = list(read_lines(corpus))
    retriever = bm25s.BM25(k1=K1, b=B, method="lucene", backend=backend)
    retriever.index(tokens, show_progress=False)
    build_s = time.perf_counter() - start
    build_peak = peak_mb()
    del tokens
    saved = work / f"bm25s-{backend}"
    retriever.save(saved)
    del retriever
    gc.collect()
    start = time.perf_counter()
    retriever = bm25s.BM25.load(saved, mmap=True)
    retriever.backend = backend
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    retriever.retrieve([queries[0]], k=K, show_progress=False, n_threads=1)
    first_ms = (time.perf_counter() - start) * 1000

    def search(query: list[str]) -> tuple[list[int], list[float]]:
        ids, scores = retriever.retrieve([query], k=K, show_progress=False, n_threads=1)
        return ids[0].tolist(), scores[0].tolist()

    latencies, hits = time_queries(search, queries)
    retriever.retrieve(queries[:WARMUP], k=K, show_progress=False, n_threads=2)  # numba compiles the parallel path
    start = time.perf_counter()
    retriever.retrieve(queries, k=K, show_progress=False, n_threads=2)
    batch_qps = len(queries) / (time.perf_counter() - start)
    return {
        "build_s": build_s,
        "build_peak_mb": build_peak,
        "index_mb": dir_mb(saved),
        "load_s": load_s,
        "first_ms": first_ms,
        "latencies": latencies,
        "hits": hits,
        "batch_qps": batch_qps,
    }


def run_tantivy(corpus: Path, queries: list[list[str]], work: Path) -> dict[str, Any]:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_integer_field("pid", stored=True, fast=True)
    schema = builder.build()
    saved = work / "tantivy"
    saved.mkdir()
    start = time.perf_counter()
    index = tantivy.Index(schema, path=str(saved))
    writer = index.writer(heap_size=500_000_000, num_threads=1)
    with corpus.open(encoding="utf-8") as lines:
        for pid, line in enumerate(lines):
            writer.add_document(tantivy.Document(body=line.rstrip("\n"), pid=pid))
    writer.commit()
    writer.wait_merging_threads()
    build_s = time.perf_counter() - start
    build_peak = peak_mb()
    del writer, index
    gc.collect()
    start = time.perf_counter()
    index = tantivy.Index.open(str(saved))
    index.reload()
    searcher = index.searcher()
    load_s = time.perf_counter() - start
    first_ms: float | None = None

    def make_query(query: list[str]) -> Any:
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", term)) for term in query]
        return tantivy.Query.boolean_query(clauses)

    def search(query: list[str]) -> Any:
        return searcher.search(make_query(query), limit=K, count=False).hits

    start = time.perf_counter()
    search(queries[0])
    first_ms = (time.perf_counter() - start) * 1000
    latencies, raw = time_queries(search, queries)
    hits: Hits = [
        ([int(searcher.doc(address)["pid"][0]) for _, address in result], [float(score) for score, _ in result])
        for result in raw
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(search, queries))
    batch_qps = len(queries) / (time.perf_counter() - start)
    return {
        "build_s": build_s,
        "build_peak_mb": build_peak,
        "index_mb": dir_mb(saved),
        "load_s": load_s,
        "first_ms": first_ms,
        "latencies": latencies,
        "hits": hits,
        "batch_qps": batch_qps,
        "segments": searcher.num_segments,
    }


def run_rank_bm25(corpus: Path, queries: list[list[str]], work: Path) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    engine = BM25Okapi(list(read_lines(corpus)), k1=K1, b=B, epsilon=0.25)
    build_s = time.perf_counter() - start
    build_peak = peak_mb()

    def search(query: list[str]) -> tuple[list[int], list[float]]:
        scores = engine.get_scores(query)
        top = np.argpartition(-scores, K - 1)[:K]
        top = top[np.lexsort((top, -scores[top]))]
        return top.tolist(), scores[top].tolist()

    for query in queries[:2]:
        search(query)
    latencies = []
    hits: Hits = []
    for query in queries:
        begin = time.perf_counter()
        hits.append(search(query))
        latencies.append(time.perf_counter() - begin)
    return {
        "build_s": build_s,
        "build_peak_mb": build_peak,
        "latencies": np.array(latencies) * 1000,
        "hits": hits,
    }


# ---------------------------------------------------------------------------------------------------------------
# askidcpc end to end: the `askidcpc index` command from articles, the saved index, a fresh process's first answer,
# and `ask --json -` per question (the reader's work included), as a user runs them.


def _memory_kib(pid: int) -> tuple[int, int]:
    """A process's proportional set size (its private pages plus its share of pages it shares, such as a forked
    worker's copy-on-write pages: summed over processes, nothing is counted twice) and its resident set size."""
    pss = rss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
        elif line.startswith("Rss:"):
            rss = int(line.split()[1])
    return pss, rss


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """The memory of ``pid`` and all its descendants: their summed proportional set sizes (shared pages counted
    once) and the largest single resident set (KiB)."""
    total, largest = 0, 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            pss, rss = _memory_kib(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        total += pss
        largest = max(largest, rss)
    return total, largest


def timed_command(command: list[str], stdin: str | None = None, memory: bool = False) -> dict[str, Any]:
    """Run ``command``; its wall time, and with ``memory`` the peak memory of its process tree (sampled every 20 ms:
    the summed proportional set sizes of the process and its workers, and the largest single process's resident
    set; 0 without). Reading a large process's smaps_rollup walks its page tables under its memory lock, so sampling
    slows the command itself (a 1M build 26 s alone, 43 s sampled): time a command unsampled."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_sum, peak_one = 0, 0
    if stdin is not None or not memory:
        out, err = process.communicate(stdin)
    else:
        while process.poll() is None:
            total, largest = tree_rss_kib(process.pid)
            peak_sum, peak_one = max(peak_sum, total), max(peak_one, largest)
            time.sleep(0.02)
        out, err = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {err.strip()[-2000:]}")
    return {"wall_s": wall, "peak_sum_mb": peak_sum / 1024, "peak_one_mb": peak_one / 1024, "stdout": out}


class _Stamps:
    """A stream that notes the time of every line written (``ask_json_lines`` flushes one answer a line)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.times.append(time.perf_counter())
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def ask_lines(queries: list[list[str]]) -> list[str]:
    return [json.dumps({"question": " ".join(query)}) + "\n" for query in queries]


def run_askidcpc_e2e(articles: Path, queries: list[list[str]], work: Path) -> dict[str, Any]:
    """The build as ``askidcpc index ARTICLES --out IDX`` (a child process), the saved index's size, a fresh
    ``askidcpc ask --corpus IDX --json Q`` (start, open verified, first answer), and ``ask --json -`` in this
    process: per-question latency of the same code the command runs on each line."""
    saved = work / "index"
    askidcpc = [sys.executable, "-m", "askidcpc"]
    # Memory from one build, sampled; time from another, not (sampling slows it, see timed_command).
    sampled = timed_command([*askidcpc, "index", str(articles), "--out", str(work / "sampled")], memory=True)
    shutil.rmtree(work / "sampled")
    build = timed_command([*askidcpc, "index", str(articles), "--out", str(saved)])
    files = {f.name: f.stat().st_size for f in saved.iterdir() if f.is_file()}
    texts = sum(size for name, size in files.items() if name.startswith("doc_text"))
    question = " ".join(queries[-1])
    timed_command([*askidcpc, "ask", "--corpus", str(saved), "--json", question])  # page cache as for the others
    fresh = [timed_command([*askidcpc, "ask", "--corpus", str(saved), "--json", question])["wall_s"] for _ in range(3)]
    python_start = [timed_command([sys.executable, "-c", "pass"])["wall_s"] for _ in range(3)]
    batch = timed_command([*askidcpc, "ask", "--corpus", str(saved), "--json", "-"], "".join(ask_lines(queries)))
    one = timed_command([*askidcpc, "ask", "--corpus", str(saved), "--json", "-"], "".join(ask_lines(queries[:1])))

    from askidcpc.config import Settings
    from askidcpc.edges.cli import ask_json_lines
    from askidcpc.pipeline import Pipeline

    start = time.perf_counter()
    pipeline = Pipeline.load(Settings(corpus=saved))
    loaded = time.perf_counter()
    ask_json_lines(pipeline, iter(ask_lines(queries[:1])), _Stamps(), 5)
    first = time.perf_counter()
    ask_json_lines(pipeline, iter(ask_lines(queries[:WARMUP])), _Stamps(), 5)
    stamps = _Stamps()
    begin = time.perf_counter()
    ask_json_lines(pipeline, iter(ask_lines(queries)), stamps, 5)
    latencies = np.diff(np.array([begin, *stamps.times])) * 1000
    answers = [json.loads(line) for line in stamps.lines]
    return {
        "build_s": build["wall_s"],
        "build_peak_sum_mb": sampled["peak_sum_mb"],
        "build_peak_one_mb": sampled["peak_one_mb"],
        "build_output": build["stdout"].strip(),
        "files": files,
        "index_mb": sum(files.values()) / 1e6,
        "texts_mb": texts / 1e6,
        "fresh_answer_s": float(np.median(fresh)),
        "python_start_s": float(np.median(python_start)),
        "open_s": loaded - start,
        "open_first_answer_s": first - start,
        "batch_per_question_ms": (batch["wall_s"] - one["wall_s"]) * 1000 / max(len(queries) - 1, 1),
        "latencies": latencies,
        "abstained": sum(1 for answer in answers if "error" not in answer and answer["answer"] is None),
        "errors": sum(1 for answer in answers if "error" in answer),
    }


def run_exact(corpus: Path, queries: list[list[str]], okapi_queries: int) -> dict[str, Any]:
    """Exhaustive top-10 with plain numpy, written from the formulas (not askidcpc's code): Lucene idf for all
    queries, rank-bm25's Okapi idf (epsilon 0.25 floor) for the first ``okapi_queries``."""
    vocab: dict[str, int] = {}
    rows: list[np.ndarray] = []
    doc_len = []
    for tokens in read_lines(corpus):
        rows.append(np.array([vocab.setdefault(t, len(vocab)) for t in tokens], dtype=np.int32))
        doc_len.append(len(tokens))
    lengths = np.array(doc_len, dtype=np.float64)
    n_docs = len(rows)
    term_of = np.concatenate(rows)
    doc_of = np.repeat(np.arange(n_docs), lengths.astype(np.int64))
    del rows
    order = np.lexsort((doc_of, term_of))
    term_of, doc_of = term_of[order], doc_of[order]
    del order
    pair = np.r_[True, (term_of[1:] != term_of[:-1]) | (doc_of[1:] != doc_of[:-1])]
    starts = np.flatnonzero(pair)
    tf = np.diff(np.r_[starts, len(term_of)]).astype(np.float64)
    terms, docs = term_of[starts], doc_of[starts]
    df = np.bincount(terms, minlength=len(vocab)).astype(np.float64)
    indptr = np.r_[0, np.cumsum(df)].astype(np.int64)
    part = tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[docs] / lengths.mean()))
    idf_lucene = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    idf_raw = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    idf_okapi = np.where(idf_raw < 0, 0.25 * idf_raw.mean(), idf_raw)

    def top10(query: list[str], idf: np.ndarray, dense_all: bool) -> tuple[list[int], list[float]]:
        scores = np.zeros(n_docs)
        for term, count in Counter(query).items():
            column = vocab.get(term)
            if column is None:
                continue
            lo, hi = indptr[column], indptr[column + 1]
            scores[docs[lo:hi]] += count * idf[column] * part[lo:hi]
        # rank-bm25 ranks every passage; the others only passages with a query term.
        candidates = np.arange(n_docs) if dense_all else np.flatnonzero(scores)
        best = candidates[np.lexsort((candidates, -scores[candidates]))][:K]
        return best.tolist(), scores[best].tolist()

    return {
        "lucene": [top10(query, idf_lucene, False) for query in queries],
        "okapi": [top10(query, idf_okapi, True) for query in queries[:okapi_queries]],
    }


def child(engine: str, corpus: Path, queries_path: Path, n_queries: int, rank_queries: int, out: Path) -> None:
    queries = [line.split() for line in queries_path.read_text(encoding="utf-8").splitlines()][:n_queries]
    work = Path(tempfile.mkdtemp(prefix=f"scale-{engine}-"))
    try:
        if engine == "askidcpc":
            result = run_askidcpc(corpus, queries, work)
        elif engine == "askidcpc-e2e":
            result = run_askidcpc_e2e(corpus, queries, work)
        elif engine.startswith("bm25s-"):
            result = run_bm25s(corpus, queries, work, engine.removeprefix("bm25s-"))
        elif engine == "tantivy":
            result = run_tantivy(corpus, queries, work)
        elif engine == "rank-bm25":
            result = run_rank_bm25(corpus, queries[:rank_queries], work)
        elif engine == "exact":
            result = run_exact(corpus, queries, rank_queries)
        else:
            raise SystemExit(f"unknown engine {engine}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["peak_mb"] = peak_mb()
    if "latencies" in result:
        result["latencies"] = result["latencies"].tolist()
    out.write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# The parent: corpora, one child per engine, the table.


def agreement(hits: Hits, exact: Hits, scale: float, tolerance: float) -> tuple[float, float | None, float | None]:
    """Mean top-10 overlap (share of the exact ids found); share of queries whose ten scores (times ``scale``) are
    the exact ten to ``tolerance`` (relative), which is ties-proof; and the largest absolute score difference.
    The last two are None when the scores are not comparable (``scale`` 0)."""
    overlap = [len(set(h[0]) & set(e[0])) / max(len(e[0]), 1) for h, e in zip(hits, exact, strict=False)]
    if not scale:
        return float(np.mean(overlap)), None, None
    same, diffs = [], []
    for h, e in zip(hits, exact, strict=False):
        got, want = np.array(h[1]) * scale, np.array(e[1])
        if len(got) != len(want):
            same.append(False)
            continue
        same.append(bool(np.allclose(got, want, rtol=tolerance, atol=0)))
        diffs.append(float(np.max(np.abs(got - want))) if len(got) else 0.0)
    return float(np.mean(overlap)), float(np.mean(same)), max(diffs, default=0.0)


def versions() -> str:
    names = ["numpy", "scipy", "numba", "rank-bm25", "bm25s", "tantivy"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} × {os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_size(kind: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    corpus, queries_path = write_corpus(kind, size, args.data)
    results: dict[str, Any] = {}
    for engine in ("exact", *args.engines):
        out = args.data / f"result-{kind}-{size}-{engine}.json"
        source = write_news(kind, size, args.data) if engine == "askidcpc-e2e" else corpus
        command = [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--corpus",
            str(source),
            "--queries-file",
            str(queries_path),
            "--n-queries",
            str(args.queries),
            "--rank-bm25-queries",
            str(args.rank_bm25_queries),
            "--out",
            str(out),
        ]
        print(f"[{time.strftime('%H:%M:%S')}] {kind} {size:,}: {engine}", file=sys.stderr, flush=True)
        load_before = os.getloadavg()[0]
        subprocess.run(command, check=True)
        results[engine] = json.loads(out.read_text(encoding="utf-8"))
        results[engine]["load_average"] = [load_before, os.getloadavg()[0]]
    return {"kind": kind, "size": size, "results": results}


def table(run: dict[str, Any], rank_queries: int) -> str:
    exact = run["results"]["exact"]
    lines = [
        "| engine | build s | build peak MB | index MB | load s | first query ms | p50 ms | p99 ms |"
        " batch q/s (2 threads) | top-10 overlap | exact top-10 scores | max score diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    labels = {
        "askidcpc": "**askidcpc** (MaxScore + block-max, numba)",
        "bm25s-numba": "bm25s, numba backend",
        "bm25s-numpy": "bm25s, numpy backend",
        "tantivy": "tantivy (Rust, block-max WAND, `count=False`)",
        "rank-bm25": f"rank-bm25 BM25Okapi ({rank_queries} queries)",
    }
    for engine, result in run["results"].items():
        if engine in ("exact", "askidcpc-e2e"):
            continue
        reference = exact["okapi"] if engine == "rank-bm25" else exact["lucene"]
        # bm25s's Lucene scores leave out the constant (k1 + 1) factor and are float32; tantivy quantizes lengths.
        scale, tolerance = {"askidcpc": (1.0, 1e-9), "rank-bm25": (1.0, 1e-9)}.get(engine, (0.0, 0.0))
        if engine.startswith("bm25s"):
            scale, tolerance = K1 + 1, 1e-5
        overlap, same, diff = agreement(result["hits"], reference, scale, tolerance)
        latencies = np.array(result["latencies"])

        def fmt(value: Any, pattern: str) -> str:
            return pattern.format(value) if value is not None else "—"

        lines.append(
            f"| {labels[engine]} | {result['build_s']:.1f} | {result['build_peak_mb']:,.0f} | "
            f"{fmt(result.get('index_mb'), '{:,.0f}')} | {fmt(result.get('load_s'), '{:.2f}')} | "
            f"{fmt(result.get('first_ms'), '{:,.1f}')} | {np.median(latencies):.2f} | "
            f"{np.percentile(latencies, 99):.2f} | {fmt(result.get('batch_qps'), '{:,.0f}')} | {overlap:.3f} | "
            f"{fmt(same, '{:.3f}')} | {fmt(diff, '{:.1e}')} |"
        )
    return "\n".join(lines)


def e2e_rows(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run with an end-to-end result: its figures beside bm25s-numba's bare retrieval of the same run."""
    rows = []
    for run in runs:
        ours = run.get("results", {}).get("askidcpc-e2e")
        if ours is None:
            continue
        latencies = np.array(ours["latencies"])
        peer = run["results"].get("bm25s-numba")
        peer_mean = float(np.mean(peer["latencies"])) if peer else None
        rows.append(
            {
                **{key: value for key, value in ours.items() if key != "latencies"},
                "kind": run["kind"],
                "size": run["size"],
                "mean_ms": float(latencies.mean()),
                "p50_ms": float(np.median(latencies)),
                "p99_ms": float(np.percentile(latencies, 99)),
                "peer_mean_ms": peer_mean,
                "peer_p50_ms": float(np.median(peer["latencies"])) if peer else None,
                "ratio": peer_mean / float(latencies.mean()) if peer_mean else None,
            }
        )
    return rows


def e2e_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| corpus | `askidcpc index` s | build peak MB (all processes' PSS / largest RSS) | saved index MB (texts) |"
        " fresh `ask` s (Python alone) | open verified + first answer s | ask per question mean / p50 / p99 ms |"
        " `ask --json -` per question ms | bm25s-numba bare mean / p50 ms | ratio | load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = f"{row['peer_mean_ms']:.2f} / {row['peer_p50_ms']:.2f}" if row["peer_mean_ms"] is not None else "—"
        ratio = f"{row['ratio']:.2g}×" if row["ratio"] is not None else "—"
        load = "{:.1f} → {:.1f}".format(*row["load_average"]) if "load_average" in row else "—"
        lines.append(
            f"| {row['kind']} {row['size']:,} | {row['build_s']:.1f} | {row['build_peak_sum_mb']:,.0f} / "
            f"{row['build_peak_one_mb']:,.0f} | {row['index_mb']:,.0f} ({row['texts_mb']:,.0f}) | "
            f"{row['fresh_answer_s']:.2f} ({row['python_start_s']:.2f}) | {row['open_first_answer_s']:.2f} | "
            f"{row['mean_ms']:.2f} / {row['p50_ms']:.2f} / {row['p99_ms']:.2f} | "
            f"{row['batch_per_question_ms']:.2f} | {peer} | {ratio} | {load} |"
        )
    return "\n".join(lines)


def e2e_targets(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The 1M rows against issue 16's targets."""
    lines = []
    for row in rows:
        if row["size"] != 1_000_000:
            continue
        checks = [
            ("build", row["build_s"], "≤ 30 s", row["build_s"] <= 30),
            ("build peak (all processes)", row["build_peak_sum_mb"], "≤ 1,024 MB", row["build_peak_sum_mb"] <= 1024),
            ("saved index", row["index_mb"], "≤ 250 MB", row["index_mb"] <= 250),
            ("open verified + first answer", row["open_first_answer_s"], "≤ 0.5 s", row["open_first_answer_s"] <= 0.5),
            ("p99 / p50", row["p99_ms"] / row["p50_ms"], "≤ 3", row["p99_ms"] <= 3 * row["p50_ms"]),
        ]
        if row["ratio"] is not None:
            checks.append(("bm25s-numba mean / ask mean", row["ratio"], "≥ 1.0", row["ratio"] >= 1.0))
        marks = [
            f"{name} {value:,.2f} (target {limit}: {'met' if ok else 'missed'})" for name, value, limit, ok in checks
        ]
        lines += [f"Targets, {row['kind']} 1M end to end: " + "; ".join(marks) + ".", ""]
    return lines


def http_ceiling(rounds: int) -> dict[str, Any]:
    """benchmarks/http_ceiling.py: ``POST /ask`` of ``askidcpc serve`` (one worker, its defaults) against a bare
    FastAPI endpoint returning the same answer bytes, under wrk."""
    print(f"[{time.strftime('%H:%M:%S')}] HTTP: http_ceiling.py, {rounds} round(s)", file=sys.stderr, flush=True)
    command = [sys.executable, str(HERE / "http_ceiling.py"), "--rounds", str(rounds)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def http_lines(result: dict[str, Any]) -> list[str]:
    names = {
        "repeated": "one question repeated",
        "mixed": "the question set's requests in turn",
        "distinct": "requests never sent before (none from the answer cache)",
    }
    lines = [
        "| wrk run | askidcpc req/s | bare FastAPI req/s | ratio | askidcpc p50 / p99 ms | bare p50 / p99 ms |"
        " non-2xx | load average |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, label in names.items():
        run = result.get(key)
        if run is None:
            continue
        ours, bare = run["askidcpc"], run["bare_fastapi"]
        lines.append(
            f"| {label} | {ours['requests_per_s']:,.0f} | {bare['requests_per_s']:,.0f} | {run['ratio']:.2f}× | "
            f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} | {bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} | "
            f"{ours['non_2xx'] + bare['non_2xx']} | {ours['load_average_1min'][0]:.1f} |"
        )
    repeated = result.get("repeated")
    if repeated is not None:
        met = "met" if repeated["ratio"] >= 0.5 else "missed"
        lines += ["", f"Target, HTTP: one question repeated {repeated['ratio']:.2f}× the bare endpoint (≥ 0.5: {met})."]
    return lines


def write_section(text: str, path: Path) -> None:
    """Replace (or append) the ``## Scale`` section of ``path``, leaving every other section as it is."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    head, marker, rest = current.partition("\n## Scale\n")
    tail = ""
    if marker:
        next_section = rest.find("\n## ")
        tail = rest[next_section:] if next_section >= 0 else ""
    body = head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + tail
    path.write_text(body, encoding="utf-8")


NOTES = [
    "How askidcpc gets there (`src/askidcpc/_kernels.py`): document-at-a-time MaxScore over the query terms "
    "sorted by their largest weight, with a threshold seeded from the exact scores of the best postings of the two "
    "strongest terms; terms whose bounds together cannot reach the current 10th score become non-essential and are "
    "only looked up (galloping) for passages that can still make it; with one essential list left, blocks of 64 "
    "postings whose maximum cannot lift a passage to the threshold are skipped. Every bound is compared strictly, "
    "with slack, so results are exactly the exhaustive ones (tests compare with a plain reference and rank-bm25). "
    "Compiled with numba (`cache=True`, `nogil`); numpy-only fallback when numba is missing.",
    "",
    "Where the time goes (1M zipf, counted in an instrumented copy of the kernel): a typical query has one rare "
    "term; it is the only essential list after the seed, so a query visits a few hundred postings and does as many "
    "lookups into the common lists (0.1–0.3 ms, of which about 20 µs is Python: the query dict to arrays and the "
    "result list). The slow tail is queries made only of common words: their BM25 weights are flat (the largest "
    "is within 2× of the typical one), so bounds prune little. Example: three words in 29–44% of the sentences "
    "(1.08M postings): the threshold ends at 4.73 against bounds summing to 5.79, the strongest list (289k "
    "postings) stays essential and 217k lookups are needed; two mid-frequency essential lists (57k + 79k) cost "
    "131k merge steps. Exhaustive engines pay for every posting plus a scan of 1M scores on every query.",
]


def targets(runs: Sequence[dict[str, Any]]) -> list[str]:
    """askidcpc's 1M rows against issue 7's targets, and whether it is ahead of every other engine."""
    lines = []
    for run in runs:
        results = run.get("results", {})
        ours = results.get("askidcpc")
        if run.get("size") != 1_000_000 or ours is None:
            continue
        latencies = np.array(ours["latencies"])
        p50, p99 = float(np.median(latencies)), float(np.percentile(latencies, 99))
        others = {name: np.array(r["latencies"]) for name, r in results.items() if name not in ("exact", "askidcpc")}
        best_p50 = min(others.items(), key=lambda item: float(np.median(item[1])))
        best_p99 = min(others.items(), key=lambda item: float(np.percentile(item[1], 99)))
        checks = [
            ("p50", p50, 0.6, "ms"),
            ("p99", p99, 1.5, "ms"),
            ("build", ours["build_s"], 30, "s"),
            ("build peak", ours["build_peak_mb"], 1024, "MB"),
            ("saved index", ours["index_mb"], 150, "MB"),
            ("load (verified)", ours["load_s"], 0.3, "s"),
        ]
        marks = [
            f"{name} {value:,.2f} {unit} (target ≤ {limit:,}: {'met' if value <= limit else 'missed'})"
            for name, value, limit, unit in checks
        ]
        marks.append(
            f"batch {ours['batch_qps']:,.0f} q/s (target ≥ 2,500: {'met' if ours['batch_qps'] >= 2500 else 'missed'})"
        )
        lines.append(
            f"Targets, {run['kind']} 1M: " + "; ".join(marks) + ". Next best p50: "
            f"{best_p50[0]} {float(np.median(best_p50[1])):.2f} ms; next best p99: {best_p99[0]} "
            f"{float(np.percentile(best_p99[1], 99)):.2f} ms."
        )
        lines.append("")
    return lines


def report(runs: Sequence[dict[str, Any]], args: argparse.Namespace) -> str:
    parts = [
        "## Scale",
        "",
        "BM25 retrieval side by side (`benchmarks/scale.py`; corpora from `benchmarks/gen_corpus.py`). Same "
        "whitespace tokens, same queries, top-10, k1 = 1.2, b = 0.75, Lucene idf (rank-bm25: its Okapi idf); "
        "each engine in its own process. Latency: one query at a time, one thread, after "
        f"{WARMUP} warm-up queries; {args.queries:,} queries (rank-bm25: the first {args.rank_bm25_queries}). "
        "Build: from the text file (read, split, index). Build peak MB: the child's `ru_maxrss` right after the "
        "build (the process holds nothing else yet). Index MB / load s: askidcpc's saved index "
        "(`askidcpc.index.store`, the `askidcpc index` format: memory-mapped `.npy` arrays, load verifies every "
        "file's SHA-256; index MB leaves "
        "out the stored document texts, which no other engine keeps), bm25s `save`/`load(mmap=True)`, tantivy's "
        "index folder. First query: the first query after loading (askidcpc: term bounds and numba's cached "
        "code; bm25s-numba: JIT compilation; askidcpc's very first query after installing or changing the kernel "
        "compiles it once, tens of seconds, then numba's disk cache serves every later process). "
        "Agreement: against an exhaustive numpy computation of the same formula, written separately "
        "(ties ranked by lower passage id): top-10 overlap (mean share of the exact ids returned; below 1 where "
        "an engine breaks a tie at 10th place otherwise), exact top-10 scores (share of queries whose ten scores "
        "are the exact ten, to 1e-9 relative; bm25s: times k1 + 1, to 1e-5 as it computes in float32; tantivy "
        "stores passage lengths quantized, so its scores differ slightly by design) and the largest score "
        "difference.",
        "",
        f"Machine: {cpu()}, Python {platform.python_version()}; {versions()}. "
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; other jobs were running on the machine, so "
        "absolute times are noisy; engines ran one after another in the same conditions.",
    ]
    parts += ["", *NOTES]
    parts += ["", *targets(runs)]
    for run in (run for run in runs if "results" in run):
        cold = run["results"].get("askidcpc", {}).get("cold")
        parts += ["", f"### {run['kind']}, {run['size']:,} sentences", "", table(run, args.rank_bm25_queries)]
        if cold:
            parts += [
                "",
                f"askidcpc in a fresh process: import {cold['import_s']:.2f} s, load the saved index (verified) "
                f"{cold['open_s']:.2f} s, first query {cold['first_query_s'] * 1000:.0f} ms (numba's cached code "
                f"and the term bounds), second query {cold['second_query_ms']:.2f} ms. Load without checksum "
                f"verification: {run['results']['askidcpc']['load_unverified_s']:.2f} s; stored document texts: "
                f"{run['results']['askidcpc']['texts_mb']:,.0f} MB.",
            ]
    rows = e2e_rows(runs)
    if rows:
        parts += [
            "",
            "### askidcpc end to end",
            "",
            "The same sentences as news articles (`gen_corpus.py --news`: 25 sentences an article in five "
            "paragraphs, capitalised, each ending in a full stop), as a user runs askidcpc: `askidcpc index "
            "ARTICLES.jsonl --out IDX` in a child process (reading, sentence splitting, tokenizing, counting, "
            "writing, compiling the search kernels; peak memory: the command's and its worker processes' "
            "proportional set sizes summed (pages they share after fork counted once), sampled every 20 ms, "
            "and the largest single "
            "process's resident set, from a second build: sampling slows a build, so the time is an unsampled "
            "one's), the saved index's size on disk (all files; the "
            "stored article texts in brackets), a fresh `askidcpc ask --corpus IDX --json Q` (start Python, import, "
            "open the index with every checksum verified, answer; Python's own start in brackets), the same open and "
            "first answer inside a process that has imported askidcpc, and `ask --json -`: each question through the "
            "code the command runs on each line (request checks, `Pipeline.ask` with the reader, the answer object, "
            f"JSON), one at a time after {WARMUP} warm-up questions, and the command itself with every query on "
            "stdin (its wall time less a one-question run's, per question). Ratio: bm25s-numba's bare top-10 "
            "retrieval mean (same sentences, same queries, same run, from the table above) over askidcpc's "
            "whole answer's mean; ≥ 1 means askidcpc answers faster than bm25s retrieves.",
            "",
            e2e_table(rows),
            "",
            *e2e_targets(rows),
        ]
    http = next((run["http"] for run in runs if "http" in run), None)
    if http is not None:
        parts += [
            "",
            "### HTTP: `POST /ask` against a bare FastAPI endpoint",
            "",
            f"`benchmarks/http_ceiling.py --rounds {http['rounds']}` (bundled corpus): `askidcpc serve`, one worker, "
            "as a user starts it (answer cache on), against a bare FastAPI app on the same uvicorn settings whose "
            "`POST /ask` validates a body of the same shape and returns askidcpc's answer bytes (checked identical); "
            f"wrk with {http['connections']} connections and {http['threads']} threads, {http['duration_s']} s a "
            "run after a warm-up, loopback only.",
            "",
            *http_lines(http),
        ]
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["zipf"], choices=["zipf", "squad"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rank-bm25-queries", type=int, default=50)
    parser.add_argument("--data", type=Path, default=Path("/tmp/askidcpc-bench"))
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--http-rounds", type=int, default=1, help="rounds of benchmarks/http_ceiling.py (0: leave HTTP out)"
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the table from the last run's data")
    parser.add_argument("--child")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--queries-file", type=Path)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cold", type=Path)
    parser.add_argument("--query")
    args = parser.parse_args()
    if args.cold:
        cold_start(args.cold, args.query)
        return
    if args.child:
        child(args.child, args.corpus, args.queries_file, args.n_queries, args.rank_bm25_queries, args.out)
        return
    if args.report_only:
        text = report(json.loads((args.data / "scale-runs.json").read_text(encoding="utf-8")), args)
        print(text)
        if not args.no_write:
            write_section(text, args.results)
        return
    runs: list[dict[str, Any]] = []
    for kind in args.kinds:
        for size in args.sizes:
            runs.append(run_size(kind, size, args))
            (args.data / "scale-runs.json").write_text(json.dumps(runs), encoding="utf-8")
    if args.http_rounds:
        runs.append({"http": http_ceiling(args.http_rounds)})
        (args.data / "scale-runs.json").write_text(json.dumps(runs), encoding="utf-8")
    text = report(runs, args)
    print(text)
    if not args.no_write:
        write_section(text, args.results)


if __name__ == "__main__":
    main()
