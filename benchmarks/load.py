"""Bounded load run against ``askidcpc serve`` on loopback: N requests at C concurrent, then p50/p99, requests per
second, errors, and the server's memory at start and end.

    python benchmarks/load.py --requests 10000 --concurrency 32 [--workers 1] [--time-limit 300]

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
from dataclasses import dataclass
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


async def run_load(url: str, bodies: list[dict[str, object]], total: int, concurrency: int, limit_s: float) -> Tally:
    tally = Tally([], 0, {})
    deadline = time.monotonic() + limit_s
    counter = iter(range(total))
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                body = rng.choice(bodies)
                started = time.perf_counter()
                try:
                    response = await client.post("/ask", json=body)
                    status = response.status_code
                    ok = status == 200 and "citations" in response.json()
                except (httpx.HTTPError, json.JSONDecodeError):
                    status, ok = 0, False
                tally.latencies.append(time.perf_counter() - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                tally.errors += 0 if ok else 1

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0, help="stop after this many seconds in any case")
    parser.add_argument("--url", default=None, help="an already running server on a loopback address")
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    url = args.url
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "askidcpc", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if args.workers > 1:
            command += ["--workers", str(args.workers)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loopback_only(url)
    try:
        wait_healthy(url)
        bodies = requests_from_question_set()
        asyncio.run(run_load(url, bodies, min(200, args.requests), args.concurrency, 30.0))  # warm-up
        memory_start = rss_kib(server.pid) if server else 0
        started = time.perf_counter()
        tally = asyncio.run(run_load(url, bodies, args.requests, args.concurrency, args.time_limit))
        elapsed = time.perf_counter() - started
        memory_end = rss_kib(server.pid) if server else 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    result = {
        "requests": len(latencies),
        "concurrency": args.concurrency,
        "workers": args.workers,
        "errors": tally.errors,
        "statuses": tally.statuses,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "server_rss_mib_start": round(memory_start / 1024, 1),
        "server_rss_mib_end": round(memory_end / 1024, 1),
        "cpu": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
