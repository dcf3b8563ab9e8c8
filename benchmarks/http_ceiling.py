"""How close ``POST /ask`` of ``askidcpc serve`` (one worker) comes to the ceiling of its web stack: a bare FastAPI
app on the same uvicorn settings whose ``POST /ask`` takes the same JSON body and returns askidcpc's answer bytes
for that question, computed once beforehand. Both run on free 127.0.0.1 ports and are driven by wrk (a compiled
load generator, Debian package ``wrk``) after a warm-up: first with one question sent over and over, then with the
question set's requests in turn (eval/questions.yaml, as benchmarks/wrk_load.py sends them; the bare app answers
every one with the same bytes, so that run is the stack's ceiling for those bodies); then with 3,534 requests no
two alike (the question set at every other top_k), none sent twice until the list wraps (see ``requests``), so that no
answer can come from askidcpc's answer cache.

    python benchmarks/http_ceiling.py [--duration 15] [--warm-up 3] [--rounds 1] [--connections 16] [--threads 2]
                                      [--answer-cache N] [--corpus PATH] [--no-mixed]

``--answer-cache N`` is handed to ``askidcpc serve`` (0 turns its answer cache off); without it the server runs
with its defaults, as a user gets it. Prints JSON: for each run and each server, requests per second, p50 and p99
latency, the statuses and non-2xx count, and wrk's socket errors; the ratio ours / bare; the load average before
and after. Loopback only; every run is bounded by its duration, and both servers are stopped at the end. Exits
with one line when wrk is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from load import free_port, loopback_only, requests_from_question_set, start_server, wait_healthy  # this folder
from pydantic import BaseModel
from wrk_load import SCRIPT, request_lines

from askidcpc.config import DEFAULT_TOP_K

QUESTION = "When was the International Department founded?"


class Body(BaseModel):
    """The request object's shape, as a plain model with no limits: what a bare endpoint would declare."""

    question: str
    top_k: int = 3
    history: list[str] = []


def bare_app(answer: bytes) -> object:
    """A FastAPI app whose ``POST /ask`` validates a :class:`Body` and answers ``answer``; ``GET /health`` for the
    start-up wait."""
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.post("/ask")
    async def ask(body: Body) -> Response:
        return Response(answer, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve_bare(port: int, answer_file: Path) -> None:
    import uvicorn

    # The settings askidcpc.edges.server.run.serve gives uvicorn for one worker.
    uvicorn.run(
        bare_app(answer_file.read_bytes()),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="info",
        timeout_graceful_shutdown=30,
    )


def wrk_run(
    url: str, lines: Sequence[str], duration_s: int, connections: int, threads: int, split: bool = False
) -> dict[str, object]:
    """wrk with benchmarks/wrk_mixed.lua sending ``lines`` in turn (see request_lines), each thread from its own
    share of them with ``split``; its figures as a dict."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(lines) + "\n")
    try:
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(SCRIPT), url]
        load_before = os.getloadavg()[0]
        script_args = [listing.name, str(threads)] if split else [listing.name]
        done = subprocess.run([*command, "--", *script_args], capture_output=True, text=True, check=True)
        load_after = os.getloadavg()[0]
    finally:
        Path(listing.name).unlink()
    out = done.stdout
    statuses = json.loads(re.search(r"STATUSES (\{.*\})", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"ERRORS connect (\d+) read (\d+) write (\d+) timeout (\d+)", out)
    assert errors is not None, out
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,  # type: ignore[union-attr]
        "p99_ms": int(re.search(r"P99_US (\d+)", out).group(1)) / 1000,  # type: ignore[union-attr]
        "statuses": dict(sorted(statuses.items(), key=lambda item: int(item[0]))),
        "non_2xx": sum(count for status, count in statuses.items() if not 200 <= int(status) < 300),
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
    }


def compare(
    ours: str,
    bare: str,
    lines: Sequence[str],
    args: argparse.Namespace,
    warm_up_s: int,
    rounds: int,
    split: bool = False,
) -> dict[str, object]:
    """The same wrk run against both servers (each warmed up first), ours first, ``rounds`` times in turn (on a
    shared machine, the other load then falls alike on both); each server's round with the median rate, the ratio
    of those medians, and each round's ratio."""
    servers = {"askidcpc": ours, "bare_fastapi": bare}
    if warm_up_s:
        for url in servers.values():
            wrk_run(url, lines, warm_up_s, args.connections, args.threads)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for _ in range(rounds):
        for name, url in servers.items():
            measured[name].append(wrk_run(url, lines, args.duration, args.connections, args.threads, split))
    figures: dict[str, object] = {}
    for name, runs in measured.items():
        figures[name] = sorted(runs, key=lambda run: float(run["requests_per_s"]))[len(runs) // 2]
    rate = {name: float(figures[name]["requests_per_s"]) for name in servers}  # type: ignore[index]
    figures["ratio"] = round(rate["askidcpc"] / rate["bare_fastapi"], 3) if rate["bare_fastapi"] else None
    figures["round_ratios"] = [
        round(float(one["requests_per_s"]) / float(other["requests_per_s"]), 3)
        for one, other in zip(measured["askidcpc"], measured["bare_fastapi"], strict=True)
        if other["requests_per_s"]
    ]
    figures["distinct_requests"] = len(set(lines))
    return figures


def distinct_lines(seed: int = 7) -> list[str]:
    """wrk_mixed.lua lines of the question set's requests at every top_k (1 to 20) but the one the mixed run sends,
    shuffled: 19 x 186 requests, no two alike and none the mixed run sent."""
    bodies = [
        {**body, "top_k": top_k}
        for body in requests_from_question_set()
        for top_k in range(1, 21)
        if top_k != body.get("top_k", DEFAULT_TOP_K)
    ]
    random.Random(seed).shuffle(bodies)
    return [f"POST /ask application/json {json.dumps(body).encode().hex()}" for body in bodies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured run")
    parser.add_argument("--warm-up", type=int, default=3, help="seconds of load before each measured run")
    parser.add_argument("--rounds", type=int, default=1, help="measured runs of each server, in turn (median kept)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--question", default=QUESTION, help="the question of the repeated run")
    parser.add_argument("--answer-cache", type=int, default=None, help="askidcpc serve --answer-cache (0: off)")
    parser.add_argument("--corpus", default=None, help="askidcpc serve --corpus (default: the bundled corpus)")
    parser.add_argument("--no-mixed", action="store_true", help="only the repeated-question run")
    parser.add_argument("--bare-app", nargs=2, metavar=("PORT", "ANSWER_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_app:
        serve_bare(int(args.bare_app[0]), Path(args.bare_app[1]))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("http_ceiling.py: wrk is not installed (Debian: apt-get install wrk)")

    options = [] if args.answer_cache is None else ["--answer-cache", str(args.answer_cache)]
    options += [] if args.corpus is None else ["--corpus", args.corpus]
    ours, ours_url = start_server(1, options)
    bare: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory() as folder:
        try:
            loopback_only(ours_url)
            wait_healthy(ours_url)
            body = json.dumps({"question": args.question}).encode()
            reply = httpx.post(f"{ours_url}/ask", content=body, headers={"content-type": "application/json"})
            reply.raise_for_status()
            answer_file = Path(folder) / "answer.json"
            answer_file.write_bytes(reply.content)
            port = free_port()
            bare_command = [sys.executable, __file__, "--bare-app", str(port), str(answer_file)]
            bare = subprocess.Popen(bare_command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bare_url = f"http://127.0.0.1:{port}"
            wait_healthy(bare_url)
            same = httpx.post(f"{bare_url}/ask", content=body, headers={"content-type": "application/json"})
            if same.content != reply.content:
                raise SystemExit("http_ceiling.py: the bare app does not send askidcpc's answer bytes")
            repeated = [f"POST /ask application/json {body.hex()}"]
            result: dict[str, object] = {
                "question": args.question,
                "answer_bytes": len(reply.content),
                "answer_cache": "default" if args.answer_cache is None else args.answer_cache,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "connections": args.connections,
                "threads": args.threads,
                "cpu": os.cpu_count(),
                "repeated": compare(ours_url, bare_url, repeated, args, args.warm_up, args.rounds),
            }
            if not args.no_mixed:
                mixed = request_lines(0.0, count=len(requests_from_question_set()) * 4)
                result["mixed"] = compare(ours_url, bare_url, mixed, args, args.warm_up, args.rounds)
                # No warm-up (both servers are warm by now), one round, and no request sent twice until the list
                # wraps (see "requests"): each is new to the answer cache, so this is ask()'s rate over HTTP.
                result["distinct"] = compare(ours_url, bare_url, distinct_lines(), args, 0, 1, split=True)
        finally:
            for server in (ours, bare):
                if server is not None:
                    server.terminate()
                    server.wait(timeout=60)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
