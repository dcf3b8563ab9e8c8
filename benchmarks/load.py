"""Bounded load run against ``askidcpc serve`` on loopback: N requests at C concurrent, then p50/p99, requests per
second, errors, and the server's memory at start and end.

    python benchmarks/load.py --requests 10000 --concurrency 32 [--workers 1] [--time-limit 300] [--hostile 0.5]

With ``--hostile F``, a fraction F of the requests are drawn from :data:`HOSTILE` (invalid UTF-8, lone surrogates,
deep nesting, duplicate keys, oversized and wrong-typed bodies, odd methods and paths); each kind has the statuses it
may get, and anything else (a 5xx other than the 503 overload answer, a dropped connection) counts as an error.

It starts the server itself on a free 127.0.0.1 port (or uses ``--url`` on a loopback address), sends only to that
address, and stops by itself after ``--requests`` or ``--time-limit`` seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Tally:
    latencies: list[float]
    errors: int
    statuses: dict[int, int]
    failures: dict[str, int] = field(default_factory=dict)  # "kind -> status": count, for the unacceptable answers


@dataclass(frozen=True)
class Probe:
    """One kind of request: method, path, body, headers, and the statuses it may get (503: the overload answer)."""

    kind: str
    method: str
    path: str
    body: bytes | None
    allowed: frozenset[int]
    headers: tuple[tuple[str, str], ...]


JSON = (("content-type", "application/json"),)


def _probe(
    kind: str, method: str, path: str, body: bytes | None, *allowed: int, headers: tuple[tuple[str, str], ...] = JSON
) -> Probe:
    return Probe(kind, method, path, body, frozenset({*allowed, 503}), headers)


# The hostile requests of a mixed run; every one must get a 4xx (or the answer a valid request gets), never a 500.
HOSTILE: tuple[Probe, ...] = (
    _probe("invalid UTF-8", "POST", "/ask", b'{"question": "\xff\xfe caf\xe9?"}', 422),
    _probe("lone surrogate", "POST", "/ask", b'{"question": "Who \\ud800 heads it?"}', 422),
    _probe("surrogate in history", "POST", "/ask", b'{"question": "ok?", "history": ["\\udfff"]}', 422),
    _probe("deep nesting", "POST", "/ask", b"[" * 20_000 + b"]" * 20_000, 422),
    _probe("deep object", "POST", "/ask", b'{"question": ' * 3000 + b"1" + b"}" * 3000, 422),
    _probe("duplicate keys", "POST", "/ask", b'{"question": 7, "question": "Who heads the department?"}', 200),
    _probe("huge body", "POST", "/ask", b'{"question": "' + b"x" * 70_000 + b'"}', 413),
    _probe("question too long", "POST", "/ask", b'{"question": "' + b"why " * 600 + b'"}', 422),
    _probe("wrong types", "POST", "/ask", b'{"question": ["a"], "top_k": "3", "history": 5}', 422),
    _probe("not an object", "POST", "/ask", b'"When was it founded?"', 422),
    _probe("truncated JSON", "POST", "/ask", b'{"question": "When was', 422),
    _probe("NUL and BOM", "POST", "/ask", b'\xef\xbb\xbf{"question": "When\\u0000 founded?"}\r\n', 200, 422),
    _probe("empty body", "POST", "/ask", b"", 422),
    _probe("text/plain", "POST", "/ask", b'{"question": "ok?"}', 422, headers=(("content-type", "text/plain"),)),
    _probe("unknown field", "POST", "/ask", b'{"question": "ok?", "mode": "fast"}', 422),
    _probe("HEAD /", "HEAD", "/", None, 200),
    _probe("OPTIONS /ask", "OPTIONS", "/ask", None, 204),
    _probe("GET /ask", "GET", "/ask", None, 405),
    _probe("traversal", "GET", "/documents/..%2F..%2Fpyproject.toml", None, 404),
    _probe("bad offsets", "GET", "/documents/x/context?start=%ff&end=-1", None, 422),
    _probe("unknown route", "GET", "/%00%ff/../admin", None, 404),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_only(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to load-test {host}: loopback addresses only")


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn workers), in KiB, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        status = Path(f"/proc/{one}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def requests_from_question_set() -> list[dict[str, object]]:
    spec = yaml.safe_load((ROOT / "eval" / "questions.yaml").read_text(encoding="utf-8"))
    bodies: list[dict[str, object]] = [{"question": q["question"]} for q in spec["questions"]]
    for dialogue in spec["dialogues"]:
        asked: list[str] = []
        for turn in dialogue["turns"]:
            bodies.append({"question": turn["question"], "history": list(asked), "top_k": 5})
            asked.append(turn["question"])
    return bodies


def valid_probes(bodies: list[dict[str, object]]) -> list[Probe]:
    return [_probe("valid", "POST", "/ask", json.dumps(body).encode(), 200) for body in bodies]


def mixed(valid: list[Probe], hostile_fraction: float) -> Callable[[random.Random], Probe]:
    """Draws a hostile probe with probability ``hostile_fraction``, else a valid one."""

    def draw(rng: random.Random) -> Probe:
        return rng.choice(HOSTILE) if rng.random() < hostile_fraction else rng.choice(valid)

    return draw


def judge(probe: Probe, status: int, body: bytes) -> bool:
    """Whether ``status`` and ``body`` are an acceptable answer to ``probe``: one of its statuses; a 503 only as the
    overload or time-limit answer (never "internal error"); a 200 of /ask an answer object."""
    if status not in probe.allowed:
        return False
    if status == 503:
        return b"internal error" not in body
    if status == 200 and probe.path == "/ask" and probe.method == "POST":
        try:
            return "citations" in json.loads(body)
        except ValueError:
            return False
    return True


async def run_load(
    url: str, draw: Callable[[random.Random], Probe], total: int, concurrency: int, limit_s: float
) -> Tally:
    tally = Tally([], 0, {})
    deadline = time.monotonic() + limit_s
    counter = iter(range(total))
    rng = random.Random(7)
    # Idle connections kept under uvicorn's keep-alive timeout (5 s, httpx's default expiry too): at equal values a
    # request sent on a connection the server is closing at that moment fails with ReadError, a client-side race.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                probe = draw(rng)
                started = time.perf_counter()
                try:
                    response = await client.request(
                        probe.method, probe.path, content=probe.body, headers=dict(probe.headers)
                    )
                    status = response.status_code
                    ok = judge(probe, status, response.content)
                except httpx.HTTPError as exc:  # no answer: a dropped or refused connection, or a time-out
                    status, ok = 0, False
                    tally.failures[f"{probe.kind} -> {type(exc).__name__}: {exc}"[:200]] = 1
                tally.latencies.append(time.perf_counter() - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if not ok:
                    tally.errors += 1
                    tally.failures[f"{probe.kind} -> {status}"] = tally.failures.get(f"{probe.kind} -> {status}", 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not become healthy in {timeout_s:.0f} s")


def start_server(workers: int, options: Sequence[str] = ()) -> tuple[subprocess.Popen[bytes], str]:
    """``askidcpc serve`` on a free 127.0.0.1 port with ``options`` (more of serve's options), its output discarded;
    returns it and its URL."""
    port = free_port()
    command = [sys.executable, "-m", "askidcpc", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    if workers > 1:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}"


def summary(tally: Tally, elapsed: float) -> dict[str, object]:
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "errors": tally.errors,
        "statuses": dict(sorted(tally.statuses.items())),
        "failures": tally.failures,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0, help="stop after this many seconds in any case")
    parser.add_argument("--hostile", type=float, default=0.0, help="fraction of hostile requests (0 to 1)")
    parser.add_argument("--url", default=None, help="an already running server on a loopback address")
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    url = args.url
    if url is None:
        server, url = start_server(args.workers)
    loopback_only(url)
    try:
        wait_healthy(url)
        draw = mixed(valid_probes(requests_from_question_set()), args.hostile)
        asyncio.run(run_load(url, draw, min(200, args.requests), args.concurrency, 30.0))  # warm-up
        memory_start = rss_kib(server.pid) if server else 0
        started = time.perf_counter()
        tally = asyncio.run(run_load(url, draw, args.requests, args.concurrency, args.time_limit))
        elapsed = time.perf_counter() - started
        memory_end = rss_kib(server.pid) if server else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    result = {
        **summary(tally, elapsed),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "hostile": args.hostile,
        "server_rss_mib_start": round(memory_start / 1024, 1),
        "server_rss_mib_end": round(memory_end / 1024, 1),
        "cpu": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
