"""A saved index's size, its open + verify + first answer time, and its search latency, for two indexes (and the
askidcpc code of each) side by side in one run:

    python benchmarks/saved_index.py --index OLD_IDX:OLD_SRC --index NEW_IDX:NEW_SRC \\
        --queries /tmp/askidcpc-bench/zipf-1000000.queries.txt [--n 1000] [--repeat 5]

``SRC`` is the ``src`` folder of the askidcpc that reads that index (each measurement runs in a fresh process with
``PYTHONPATH=SRC``). Measured per index: every file's size, the total, and the total without the documents' texts;
``Pipeline.load`` and the first ``pipeline.ask`` in a process where askidcpc is already imported (the median of
``--repeat`` fresh processes; the page cache is warm, as for an index in use); the wall time of the whole
``askidcpc ask --corpus IDX "question"`` command; and ``index.search`` (k = 10 and 100, one thread) over ``--n``
queries after 50 warm-up ones: p50 and p99, the first pass (each term met for the first time) apart. The machine's
load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CHILD = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from askidcpc.config import Settings
from askidcpc.pipeline import Pipeline
from askidcpc.index.bm25 import query_weights
from askidcpc.text.tokenize import tokenize

index, queries_file, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
questions = Path(queries_file).read_text(encoding="utf-8").splitlines()
start = time.perf_counter()
pipeline = Pipeline.load(Settings(corpus=Path(index)))
loaded = time.perf_counter()
pipeline.ask(questions[0])
asked = time.perf_counter()
result = {"load": loaded - start, "first_ask": asked - loaded}
if mode == "search":
    bm25 = pipeline.index
    queries = [query_weights(tokenize(q)) for q in questions[: n + 50]]
    # The first pass meets each query term for the first time (an index of format 3 computes a term's weights
    # then); the later passes are the steady state.
    for k, name in ((10, "search_k10_first_pass"), (10, "search_k10"), (100, "search_k100")):
        for query in queries[:50]:
            bm25.search(query, k)
        times = []
        for query in queries[50 : n + 50]:
            t = time.perf_counter()
            bm25.search(query, k)
            times.append(time.perf_counter() - t)
        result[f"{name}_p50"] = float(np.percentile(times, 50))
        result[f"{name}_p99"] = float(np.percentile(times, 99))
    t = time.perf_counter()
    for question in questions[1:101]:
        pipeline.ask(question)
    result["ask_mean_100"] = (time.perf_counter() - t) / 100
print(json.dumps(result))
"""


def sizes(index: Path) -> dict[str, int]:
    return {file.name: file.stat().st_size for file in sorted(index.iterdir()) if file.is_file()}


def child(src: str, index: str, queries: str, n: int, mode: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, index, queries, str(n), mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def cli_wall(src: str, index: str, question: str) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "askidcpc", "ask", "--corpus", index, question], env=env, capture_output=True, check=True
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", required=True, help="INDEX:SRC")
    parser.add_argument("--queries", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pairs = [tuple(spec.split(":", 1)) for spec in args.index]
    question = Path(args.queries).read_text(encoding="utf-8").splitlines()[0]
    table: dict[str, dict[str, float]] = {}
    files: dict[str, dict[str, int]] = {}
    for index, src in pairs:
        files[index] = sizes(Path(index))
        child(src, index, args.queries, 10, "open")  # warm the page cache and numba's cache
    opens: dict[str, list[dict[str, float]]] = {index: [] for index, _ in pairs}
    walls: dict[str, list[float]] = {index: [] for index, _ in pairs}
    for _ in range(args.repeat):  # alternating, so that a change in load hits both alike
        for index, src in pairs:
            opens[index].append(child(src, index, args.queries, 10, "open"))
            walls[index].append(cli_wall(src, index, question))
    for index, src in pairs:
        row = {
            "load": statistics.median(run["load"] for run in opens[index]),
            "first_ask": statistics.median(run["first_ask"] for run in opens[index]),
            "load+first_ask": statistics.median(run["load"] + run["first_ask"] for run in opens[index]),
            "cli_ask_wall": statistics.median(walls[index]),
        }
        searched = child(src, index, args.queries, args.n, "search")
        row.update({key: value for key, value in searched.items() if key.startswith(("search", "ask_mean"))})
        table[index] = row
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    names = sorted(set().union(*(set(f) for f in files.values())))
    print(f"{'file':32}" + "".join(f"{Path(i).name:>18}" for i, _ in pairs))
    for name in names:
        print(f"{name:32}" + "".join(f"{files[i].get(name, 0) / 1e6:>15.1f} MB" for i, _ in pairs))
    total = {i: sum(files[i].values()) for i, _ in pairs}
    texts = {i: sum(size for name, size in files[i].items() if name.startswith("doc_text")) for i, _ in pairs}
    print(f"{'TOTAL':32}" + "".join(f"{total[i] / 1e6:>15.1f} MB" for i, _ in pairs))
    print(f"{'total without texts':32}" + "".join(f"{(total[i] - texts[i]) / 1e6:>15.1f} MB" for i, _ in pairs))
    for key in table[pairs[0][0]]:
        print(f"{key + ' (ms)':32}" + "".join(f"{table[i][key] * 1000:>18.2f}" for i, _ in pairs))


if __name__ == "__main__":
    main()
