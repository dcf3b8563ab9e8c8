"""One question end to end, as ``askidcpc ask --corpus INDEX --json -`` answers a line, beside bm25s-numba's bare
top-10 retrieval of the same words over the same sentences; this code and another git revision of it side by side.

    askidcpc index /tmp/askidcpc-bench/zipf-1000000.news.jsonl --out /tmp/ask-scale/idx1M  # gen_corpus.py --news
    python benchmarks/ask_scale.py --index /tmp/ask-scale/idx1M \\
        --questions /tmp/askidcpc-bench/zipf-1000000.queries.txt --lines /tmp/askidcpc-bench/zipf-1000000.txt \\
        --before main --bm25s-index /tmp/ask-scale/bm25s-1M

Engines, each a worker process of its own that loads once, then answers what the driver sends it:

- ``after``: this checkout's ``src``; ``before``: the ``--before`` revision's ``src`` (``git archive``), both timing
  :func:`askidcpc.edges.cli.ask_json_lines` on one request line (parse the line, ``Pipeline.ask``, the answer object
  as a JSON line): the work ``askidcpc ask --json -`` does per line, less reading and writing the pipe.
- ``bm25s-numba``: ``bm25s.BM25.retrieve`` of the question's words, top 10, one thread (as ``benchmarks/scale.py``
  drives it), over ``--lines`` (one sentence a line, lowercased: the index's sentences); saved at ``--bm25s-index``
  on first use and loaded memory-mapped.

Each question is a line of ``--questions`` made a question ("zuno bocu dece jo" → "Zuno bocu dece jo?"). Every
worker answers ``--warmup`` questions first (untimed), then the driver sends the ``--n`` timed ones in chunks of
``--chunk``, the engines taking turns chunk by chunk, so that a machine busy at times slows all of them alike.
Reported per engine: mean, p50, p90, p99 and max in ms, wall clock and (``cpu``) the thread's CPU time, which
other jobs on the machine disturb less; for ``before`` and ``after``, how many of the answers are
identical (answer text, confidence, citations with their scores, short answer; floats to 1e-12). One JSON object
on standard output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

K = 10
ROOT = Path(__file__).resolve().parents[1]


def question_of(line: str) -> str:
    return f"{line[:1].upper()}{line[1:]}?"


# ---------------------------------------------------------------------------------------------------------------
# Workers: read one JSON command a line ({"questions": [...], "answers": bool}), write one JSON line back.


def ask_worker(index: Path) -> None:
    """One :func:`~askidcpc.edges.cli.ask_json_lines` over all the questions, as ``askidcpc ask --json -`` runs it;
    a question's time runs from its line being read to its answer being written."""
    from askidcpc.config import Settings
    from askidcpc.edges.cli import ask_json_lines
    from askidcpc.pipeline import Pipeline

    pipeline = Pipeline.load(Settings(corpus=index))
    out = _Written()

    def lines() -> Iterator[str]:
        print(json.dumps({"ready": True}), flush=True)
        for command_line in sys.stdin:
            command = json.loads(command_line)
            out.written.clear()
            started = []
            for question in command["questions"]:
                started.append((time.perf_counter(), time.thread_time()))
                yield json.dumps({"question": question}) + "\n"
            # the chunk's last answer is written by the time the next line is asked for
            pairs = list(zip(started, out.written, strict=True))
            latencies = [(end - start) * 1000 for (start, _), (end, _, _) in pairs]
            cpu = [(end - start) * 1000 for (_, start), (_, end, _) in pairs]
            answers = [text for _, _, text in out.written] if command.get("answers") else []
            print(json.dumps({"ms": latencies, "cpu_ms": cpu, "answers": answers}), flush=True)

    ask_json_lines(pipeline, lines(), out, 3)  # type: ignore[arg-type]


class _Written(io.StringIO):
    """Each line written, with when it was written."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[float, float, str]] = []

    def write(self, text: str) -> int:
        self.written.append((time.perf_counter(), time.thread_time(), text))
        return len(text)


def bm25s_worker(lines: Path, saved: Path) -> None:
    import bm25s

    if not (saved / "params.index.json").exists():
        with lines.open(encoding="utf-8") as text:
            tokens = [line.split() for line in text]
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene", backend="numba")
        retriever.index(tokens, show_progress=False)
        del tokens
        retriever.save(saved)
    retriever = bm25s.BM25.load(saved, mmap=True)
    retriever.backend = "numba"

    def search(question: str) -> Any:
        words = question.rstrip("?").lower().split()
        return retriever.retrieve([words], k=K, show_progress=False, n_threads=1)

    serve(search)


def serve(answer: Any) -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        latencies = []
        cpu = []
        for question in command["questions"]:
            started, started_cpu = time.perf_counter(), time.thread_time()
            answer(question)
            latencies.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
        print(json.dumps({"ms": latencies, "cpu_ms": cpu, "answers": []}), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# The driver.


class Worker:
    def __init__(self, name: str, argv: list[str], pythonpath: Path | None) -> None:
        env = dict(os.environ)
        if pythonpath is not None:
            env["PYTHONPATH"] = str(pythonpath)
        env["PYTHONHASHSEED"] = "0"
        self.name = name
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, __file__, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.receive()
        self.load_s = time.perf_counter() - started
        self.ms: list[float] = []
        self.cpu_ms: list[float] = []
        self.answers: list[str | None] = []

    def send(self, questions: list[str], answers: bool, timed: bool = True) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"questions": questions, "answers": answers}) + "\n")
        self.process.stdin.flush()
        reply = self.receive()
        if timed:
            self.ms += reply["ms"]
            self.cpu_ms += reply["cpu_ms"]
            self.answers += reply["answers"]

    def receive(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} worker stopped")
        return json.loads(line)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(statistics.median(ms), 3),
        "p90_ms": at(0.9),
        "p99_ms": at(0.99),
        "max_ms": round(max(ms), 3),
    }


def same(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-12 relative (string hashing moves the last bits of some sums between processes)."""
    if isinstance(got, float) and isinstance(want, float):
        return abs(got - want) <= 1e-12 * max(1.0, abs(want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[key], want[key]) for key in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(same(a, b) for a, b in zip(got, want, strict=True))
    return bool(got == want)


def export(revision: str, into: Path) -> Path:
    """The ``src`` folder of ``revision`` of this repository, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="the saved index to ask")
    parser.add_argument("--questions", type=Path, help="questions, one a line")
    parser.add_argument("--lines", type=Path, help="the index's sentences, one a line, for bm25s")
    parser.add_argument("--bm25s-index", type=Path, help="bm25s's saved index (built from --lines when missing)")
    parser.add_argument("--before", help="a git revision to compare with (none: this checkout alone)")
    parser.add_argument("--n", type=int, default=1000, help="timed questions")
    parser.add_argument("--warmup", type=int, default=20, help="untimed questions first")
    parser.add_argument("--chunk", type=int, default=50, help="questions an engine answers before the next's turn")
    parser.add_argument("--worker", choices=["ask", "bm25s"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "ask":
        ask_worker(args.index)
        return
    if args.worker == "bm25s":
        bm25s_worker(args.lines, args.bm25s_index)
        return
    if args.index is None or args.questions is None:
        parser.error("--index and --questions are required")
    lines = [line.strip() for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [question_of(line) for line in lines][: args.warmup + args.n]
    warmup, timed = questions[: args.warmup], questions[args.warmup :]
    with tempfile.TemporaryDirectory() as scratch:
        workers = [Worker("after", ["--worker", "ask", "--index", str(args.index)], ROOT / "src")]
        if args.before:
            before_src = export(args.before, Path(scratch))
            workers.insert(0, Worker("before", ["--worker", "ask", "--index", str(args.index)], before_src))
        if args.lines is not None and args.bm25s_index is not None:
            bm25s_argv = ["--worker", "bm25s", "--lines", str(args.lines), "--bm25s-index", str(args.bm25s_index)]
            workers.append(Worker("bm25s-numba", bm25s_argv, None))
        for worker in workers:
            worker.send(warmup, answers=False, timed=False)
        for first in range(0, len(timed), args.chunk):
            for worker in workers:
                worker.send(timed[first : first + args.chunk], answers=worker.name != "bm25s-numba")
        for worker in workers:
            worker.close()
    report: dict[str, Any] = {
        "index": str(args.index),
        "questions": len(timed),
        "before": args.before,
        "engines": {
            worker.name: {**summary(worker.ms), "cpu": summary(worker.cpu_ms), "load_s": round(worker.load_s, 2)}
            for worker in workers
        },
    }
    by_name = {worker.name: worker for worker in workers}
    if "before" in by_name:
        old, new = by_name["before"].answers, by_name["after"].answers
        report["identical_answers"] = sum(
            same(json.loads(a or "null"), json.loads(b or "null")) for a, b in zip(old, new, strict=True)
        )
        report["abstained"] = {
            name: sum(json.loads(a or "null").get("answer") is None for a in by_name[name].answers)
            for name in ("before", "after")
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
