"""In-process ``ask()`` latency on two small corpora: SQuAD 2.0's first 17 articles and the bundled corpus.

- SQuAD 2.0: each article one document (its paragraphs separated by blank lines), ``Pipeline.from_documents``;
  ``--n`` of its questions drawn with seed 0, the first ``--warm`` asked untimed (the per-sentence caches fill as a
  server's do), the rest timed one at a time.
- Bundled corpus (``corpus/``): every question and dialogue turn of eval/questions.yaml (turns with their history),
  asked once untimed, then once timed.

Reported: the median and mean milliseconds of one ``ask()`` (``top_k`` 3) on each, wall clock and (``_cpu``) the
process's CPU time. With ``--src DIR`` given twice or
more (e.g. a checkout's ``src`` before and after a change), each is measured in its own process, alternating for
``--rounds`` rounds so that both see the same machine load, and the per-question times of all rounds are pooled:

    python benchmarks/reader_latency.py --src /tmp/before/src --src src --rounds 3

One JSON object a line on standard output.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "eval"))

from squad import DATA_DIR  # noqa: E402

SQUAD2 = DATA_DIR / "squad-dev-v2.0-first17.json.zip"


Asked = list[tuple[str, tuple[str, ...]]]  # questions with their history


def _times(pipeline: Any, warm: Asked, timed: Asked) -> tuple[list[float], list[float]]:
    for question, history in warm:
        pipeline.ask(question, history=history)
    elapsed = []
    cpu = []
    for question, history in timed:
        started, started_cpu = time.perf_counter(), time.process_time()
        pipeline.ask(question, history=history)
        cpu.append((time.process_time() - started_cpu) * 1000)
        elapsed.append((time.perf_counter() - started) * 1000)
    return elapsed, cpu


def measure(data: Path, n: int, warm: int) -> dict[str, list[float]]:
    """Per-question milliseconds of ``ask()`` on each corpus (wall clock, and CPU time as ``<corpus>_cpu``: on a
    shared machine the process's own CPU time varies less), with whatever ``askidcpc`` imports."""
    import evaluate

    from askidcpc.config import Settings
    from askidcpc.pipeline import Pipeline
    from askidcpc.types import Document

    with zipfile.ZipFile(data) as archive:
        spec = json.loads(archive.read(next(name for name in archive.namelist() if name.endswith(".json"))))
    documents = []
    questions = []
    for at, article in enumerate(spec["data"]):
        text = "\n\n".join(paragraph["context"] for paragraph in article["paragraphs"])
        documents.append(Document(f"a{at:02d}", article["title"], text))
        questions += [qa["question"] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    sample = [(question, ()) for question in random.Random(0).sample(questions, n)]
    squad = Pipeline.from_documents(documents)
    bundled = Pipeline.load(Settings(corpus=ROOT / "corpus"))
    cases = [(case.question, case.history) for case in evaluate.load_cases(evaluate.QUESTIONS)]
    squad_wall, squad_cpu = _times(squad, sample[:warm], sample[warm:])
    bundled_wall, bundled_cpu = _times(bundled, cases, cases)
    return {"squad2": squad_wall, "squad2_cpu": squad_cpu, "bundled": bundled_wall, "bundled_cpu": bundled_cpu}


def summary(times: dict[str, list[float]]) -> dict[str, Any]:
    return {
        f"{corpus}_{stat}": round(value, 3)
        for corpus, elapsed in times.items()
        for stat, value in (("p50_ms", statistics.median(elapsed)), ("mean_ms", statistics.fmean(elapsed)))
    } | {f"{corpus}_questions": len(elapsed) for corpus, elapsed in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SQUAD2, help="SQuAD 2.0 dev JSON (or a zip holding it)")
    parser.add_argument("--n", type=int, default=600, help="SQuAD questions drawn (warm-up included)")
    parser.add_argument("--warm", type=int, default=100, help="of which asked untimed first")
    parser.add_argument("--src", type=Path, action="append", default=[], help="a source tree to import askidcpc from")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --src")
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)  # a child: per-question times
    args = parser.parse_args()
    if not args.src:
        times = measure(args.data, args.n, args.warm)
        print(json.dumps(times if args.raw else summary(times)))
        return
    pooled: dict[Path, dict[str, list[float]]] = {src: {} for src in args.src}
    for _ in range(args.rounds):
        for src in args.src:
            command = [sys.executable, __file__, "--raw", "--data", str(args.data), "--n", str(args.n)]
            command += ["--warm", str(args.warm)]
            environment = {**os.environ, "PYTHONPATH": str(src.resolve())}
            output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
            for corpus, elapsed in json.loads(output).items():
                pooled[src].setdefault(corpus, []).extend(elapsed)
    for src, times in pooled.items():
        print(json.dumps({"src": str(src), "rounds": args.rounds} | summary(times)))


if __name__ == "__main__":
    main()
