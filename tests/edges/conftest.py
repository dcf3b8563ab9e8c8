"""Helpers shared by the edge tests: the real ``askidcpc serve`` on a free port; a CORS origin; Ctrl-C's handler."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(*args: str, timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``askidcpc serve`` on a free loopback port; yields its base URL once /health answers, then stops it."""
    port = free_port()
    command = [sys.executable, "-m", "askidcpc", "serve", "--port", str(port), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise AssertionError(f"askidcpc serve exited with {server.returncode}: {server.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"askidcpc serve did not answer /health within {timeout:.0f} s")
            time.sleep(0.1)
        yield url, server
    finally:
        # Ctrl-C, as a user stops it; then SIGTERM, as a service manager would; then kill.
        for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if server.poll() is not None:
                break
            server.send_signal(stop)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue


ORIGIN = "https://example.org"


@pytest.fixture
def sigint_handler() -> Iterator[None]:
    """Ctrl-C's handler in this process put back after the test (an interrupted command ignores further ones)."""
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)
