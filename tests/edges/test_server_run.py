"""The listening socket ``askidcpc serve`` binds before it loads the corpus (askidcpc.edges.server.run._bind)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from askidcpc.edges.server import run


async def _nodelay_of_an_accepted_connection(listening: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=listening)
    async with server:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        nodelay = await asyncio.wait_for(accepted, timeout=30)
        writer.close()
    return nodelay


def test_connections_of_the_bound_socket_send_without_delay() -> None:
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections of a socket bound as TCP; with it on,
    every response written in two parts waited ~40 ms for the client's delayed ACK."""
    listening = run._bind("127.0.0.1", 0, "a test address")
    try:
        assert listening.proto == socket.IPPROTO_TCP
        assert asyncio.run(_nodelay_of_an_accepted_connection(listening)) != 0
    finally:
        listening.close()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_the_http_ceiling_benchmark_runs() -> None:
    """benchmarks/http_ceiling.py, briefly: both servers answer every request 200 (no timing is asserted)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "http_ceiling.py"
    options = ["--duration", "1", "--warm-up", "0", "--connections", "2", "--threads", "1"]
    done = subprocess.run([sys.executable, str(script), *options], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for load in ("repeated", "mixed", "distinct"):
        for server in ("askidcpc", "bare_fastapi"):
            figures = result[load][server]
            assert list(figures["statuses"]) == ["200"] and figures["non_2xx"] == 0, figures
            assert figures["requests_per_s"] > 0
        assert result[load]["ratio"] > 0
    assert result["mixed"]["distinct_requests"] > 1 == result["repeated"]["distinct_requests"]
    assert result["distinct"]["distinct_requests"] > result["distinct"]["askidcpc"]["requests"]
