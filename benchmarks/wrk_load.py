"""The load run of benchmarks/load.py measured with wrk (a compiled load generator, Debian package ``wrk``), so that
the client is not the bottleneck: the same mix of valid and hostile requests against ``askidcpc serve`` on a free
127.0.0.1 port, for a fixed time.

    python benchmarks/wrk_load.py [--duration 60] [--connections 64] [--threads 2] [--hostile 0.5] [--workers 1]

Prints JSON: requests, requests per second, p50 and p99 latency, statuses, wrk's socket errors and the server's
memory before and after. Exits with one line when wrk is not installed (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from load import (  # benchmarks/load.py: python puts this script's folder first on the path
    HOSTILE,
    loopback_only,
    requests_from_question_set,
    rss_kib,
    start_server,
    valid_probes,
    wait_healthy,
)

SCRIPT = Path(__file__).resolve().parent / "wrk_mixed.lua"
# wrk's response parser does not know a HEAD response has no body (it waits for Content-Length bytes and then reads
# the next response as that body: a read error each time), so the HEAD probe is left to benchmarks/load.py.
SENDABLE = tuple(probe for probe in HOSTILE if probe.method != "HEAD")


def request_lines(hostile_fraction: float, count: int = 2000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    valid = valid_probes(requests_from_question_set())
    lines = []
    for _ in range(count):
        probe = rng.choice(SENDABLE) if rng.random() < hostile_fraction else rng.choice(valid)
        content_type = dict(probe.headers).get("content-type", "-").replace(" ", "")
        body = probe.body.hex() if probe.body else "-"
        lines.append(f"{probe.method} {probe.path} {content_type} {body}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60, help="seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hostile", type=float, default=0.5, help="fraction of hostile requests (0 to 1)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk_load.py: wrk is not installed (Debian: apt-get install wrk)")
    server, url = start_server(args.workers)
    loopback_only(url)
    try:
        wait_healthy(url)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.write("\n".join(request_lines(args.hostile)) + "\n")
        command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
        command += ["-s", str(SCRIPT), url, "--", listing.name]
        subprocess.run([*command[:4], "-d5s", *command[5:]], capture_output=True, check=True)  # warm-up
        memory_start = rss_kib(server.pid)
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        memory_end = rss_kib(server.pid)
        Path(listing.name).unlink()
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = done.stdout
    statuses = json.loads(re.search(r"STATUSES (\{.*\})", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"ERRORS connect (\d+) read (\d+) write (\d+) timeout (\d+)", out)
    assert errors is not None, out
    result = {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": int(re.search(r"P50_US (\d+)", out).group(1)) / 1000,  # type: ignore[union-attr]
        "p99_ms": int(re.search(r"P99_US (\d+)", out).group(1)) / 1000,  # type: ignore[union-attr]
        "statuses": dict(sorted(statuses.items(), key=lambda item: int(item[0]))),
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)),
        "duration_s": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "hostile": args.hostile,
        "workers": args.workers,
        "server_rss_mib_start": round(memory_start / 1024, 1),
        "server_rss_mib_end": round(memory_end / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
