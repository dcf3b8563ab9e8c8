"""Building a saved index on a local Dask cluster against one process and a local process pool.

For each mode (``jobs1``: everything in this process; ``jobsN``: a pool of N processes; ``localN``: a Dask
LocalCluster of N one-thread worker processes) the same documents, read once, are indexed with
``store.build_saved_index`` into ``OUT_DIR/MODE``, one mode after the other, each in a fresh child process (so memory
and the word memo do not carry over). Reported per mode: wall time of the build (reading excluded; starting the
cluster timed apart), the time the client spent submitting partitions (pickling their documents) and waiting for
them (receiving them included), merging them (``Merger.add``, then ``Merger.merged``), computing the search bounds,
and writing the index, and its peak resident memory; for ``jobs1`` and the Dask modes, the
split-tokenize-count rate of one worker, sentences (passages) per second of partition compute time (Dask: from the
task stream's compute start/stop times); for ``jobs1``, also what receiving a partition would cost the client
(unpickling a sample of partials, sentences per second) and a partial's pickled size per sentence. The array files
of every mode are compared with those of ``jobs1``.

Run (on demand), on articles made by ``benchmarks/gen_corpus.py --news``:
``python benchmarks/cluster_build.py /tmp/askidcpc-bench/zipf-100000.news.jsonl --out-dir /tmp/dask/100k``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(totals: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def run_mode(corpus: Path, out: Path, mode: str) -> dict[str, Any]:
    from askidcpc.index import _tables, cluster, partition, store
    from askidcpc.text.corpus import ingest

    totals: dict[str, float] = {}
    start = time.perf_counter()
    documents = ingest([corpus]).documents
    read_s = time.perf_counter() - start
    partition.Merger.add = timed(totals, "add_s", partition.Merger.add)  # type: ignore[method-assign]
    partition.Merger.merged = timed(totals, "merged_s", partition.Merger.merged)  # type: ignore[method-assign]
    store._write_tables = timed(totals, "write_s", store._write_tables)  # type: ignore[attr-defined]
    _tables.search_bounds = timed(totals, "bounds_s", _tables.search_bounds)
    record: dict[str, Any] = {"mode": mode, "documents": len(documents), "read_s": read_s}
    if mode.startswith("local"):
        import distributed

        cluster.DaskWorkers.wait = timed(totals, "wait_s", cluster.DaskWorkers.wait)  # type: ignore[method-assign]
        cluster.DaskWorkers.submit = timed(totals, "submit_s", cluster.DaskWorkers.submit)  # type: ignore[method-assign]
        start = time.perf_counter()
        with cluster.connect(cluster.ClusterAddress(local=int(mode[5:]))) as workers:
            record["connect_s"] = time.perf_counter() - start
            with distributed.get_task_stream(client=workers.client) as stream:
                start = time.perf_counter()
                manifest = store.build_saved_index(out, documents, workers=workers)
                record["build_s"] = time.perf_counter() - start
            computes = [
                span["stop"] - span["start"]
                for task in stream.data
                for span in task["startstops"]
                if span["action"] == "compute"
            ]
        record["partitions"] = len(computes)
        record["compute_s"] = sum(computes)
        record["task_s_median"] = sorted(computes)[len(computes) // 2]
    else:
        jobs = int(mode[4:])
        if jobs == 1:
            partition.partition = timed(totals, "compute_s", partition.partition)
        start = time.perf_counter()
        manifest = store.build_saved_index(out, documents, jobs=jobs)
        record["build_s"] = time.perf_counter() - start
    record.update(totals)
    if mode == "jobs1":  # what receiving a partition costs the client: unpickling it (a sample of partitions)
        import pickle

        runs = partition.chunks(documents, partition.PARTITION_CHARS)[:20]
        pickled = [pickle.dumps(partition.partition(run), protocol=pickle.HIGHEST_PROTOCOL) for run in runs]
        start = time.perf_counter()
        parts = [pickle.loads(data) for data in pickled]
        record["unpickle_sentences_per_s"] = sum(part.n_passages for part in parts) / (time.perf_counter() - start)
        record["partial_bytes_per_sentence"] = sum(map(len, pickled)) / sum(part.n_passages for part in parts)
    record["sentences"] = manifest["counts"]["passages"]
    if "compute_s" in record:
        record["sentences_per_worker_s"] = record["sentences"] / record["compute_s"]
    record["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return record


def same_arrays(first: Path, second: Path) -> bool:
    names = sorted(path.name for path in first.iterdir() if path.suffix == ".npy")
    return all((first / name).read_bytes() == (second / name).read_bytes() for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--modes", nargs="+", default=["jobs1", "jobs2", "local2"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.corpus, args.out_dir / args.child, args.child)))
        return
    args.out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for mode in args.modes:
        command = [sys.executable, __file__, str(args.corpus), "--out-dir", str(args.out_dir), "--child", mode]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        record = json.loads(output.strip().splitlines()[-1])
        record["same_as_jobs1"] = same_arrays(args.out_dir / "jobs1", args.out_dir / mode)
        records.append(record)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
