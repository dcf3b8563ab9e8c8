"""Hostile load on loopback: 10,000 requests, half of them hostile (benchmarks/load.py's HOSTILE: invalid UTF-8,
lone surrogates, deep nesting, duplicate keys, oversized bodies, odd methods and paths), at 64 concurrent against the
real ``askidcpc serve``. Every request gets an acceptable answer (its kind's 4xx, or 200; a 503 only as the overload
answer, never "internal error"), no connection is dropped, and the server's memory stays flat. Stops by itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from benchmarks.load import HOSTILE, mixed, requests_from_question_set, rss_kib, run_load, valid_probes
from tests.edges.test_faults_serve import logged_server

pytestmark = pytest.mark.slow

REQUESTS = 10_000
CONCURRENCY = 64
TIME_LIMIT_S = 900.0  # a bound on the run, not a performance assertion: the run stops here whatever happened
RSS_GROWTH_MIB = 16.0  # flat: far less than the bodies sent (over 100 MB) or one per-request leak would add


def test_ten_thousand_hostile_and_valid_requests_at_64_concurrent(tmp_path: Path) -> None:
    draw = mixed(valid_probes(requests_from_question_set()), hostile_fraction=0.5)
    log = tmp_path / "serve.log"
    with logged_server(log) as (url, server):
        asyncio.run(run_load(url, draw, 500, CONCURRENCY, 120.0))  # warm-up: caches, thread pools, allocator
        before = rss_kib(server.pid)
        started = time.monotonic()
        tally = asyncio.run(run_load(url, draw, REQUESTS, CONCURRENCY, TIME_LIMIT_S))
        elapsed = time.monotonic() - started
        after = rss_kib(server.pid)
    assert len(tally.latencies) == REQUESTS, f"stopped at the time limit after {elapsed:.0f} s"
    assert tally.errors == 0, tally.failures
    assert 0 not in tally.statuses and not any(500 <= status != 503 for status in tally.statuses), tally.statuses
    assert set(tally.statuses) >= {200, 204, 404, 405, 413, 422}  # the hostile kinds were all sent
    assert (after - before) / 1024 < RSS_GROWTH_MIB, (before, after)
    assert len(HOSTILE) >= 20
    assert "Traceback" not in log.read_text(encoding="utf-8")
