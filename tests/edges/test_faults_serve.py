"""A saved index replaced or deleted under a running server: answers continue from the loaded (memory-mapped) copy;
a reload (SIGHUP, or ``app.state.reload``) swaps a rebuilt index in without dropping a request, and a reload that
fails logs one line and keeps serving the old one."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from askidcpc.config import Settings
from askidcpc.edges.server import create_app
from askidcpc.index import store
from askidcpc.types import Document
from tests.edges.conftest import free_port
from tests.index.test_store import random_documents

WAIT = 60  # seconds: a bound on waits that should end soon, never a timing assertion


def build(path: Path, documents: list[Document]) -> None:
    store.build_saved_index(path, documents)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build(path, random_documents(50, 40, prefix="old"))
    return path


def test_reload_swaps_in_a_rebuilt_index_and_keeps_the_old_on_failure(
    index: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(corpus=index))
    with TestClient(app) as client:
        assert client.get("/health").json()["documents"] == 40
        old_text = client.get("/documents/old-50-0").json()["text"]
        build(index, random_documents(51, 25, prefix="new"))  # replaced on disk: the loaded copy still answers
        assert client.get("/documents/old-50-0").json()["text"] == old_text
        assert client.portal.call(app.state.reload) is True  # type: ignore[union-attr]
        assert client.get("/health").json()["documents"] == 25
        assert client.get("/documents/old-50-0").status_code == 404
        shutil.rmtree(index)  # deleted: still answering from the loaded copy
        assert client.get("/documents/new-51-0").status_code == 200
        with caplog.at_level(logging.WARNING, logger="askidcpc.edges.server"):
            assert client.portal.call(app.state.reload) is False  # type: ignore[union-attr]
        assert client.get("/health").json()["documents"] == 25
        assert client.post("/ask", json={"question": "river bridge council"}).status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"reload failed, still serving the previous 25 documents: corpus not found: {index} "
        "(give a folder of articles or a saved index)"
    ]


class Traffic:
    """Requests sent one after another from a few threads until stopped; every status (0: no answer) counted."""

    QUESTIONS = ("river bridge council", "Who is the mayor?", "harbour railway election", "storm flood museum")

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, seed: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30.0) as client:
            i = seed
            while not self._stop.is_set():
                i += 1
                try:
                    if i % 3:
                        status = client.post("/ask", json={"question": self.QUESTIONS[i % 4]}).status_code
                    else:
                        status = client.get("/health").status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.statuses[status] += 1

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(WAIT)

    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values())


@contextmanager
def logged_server(log: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``askidcpc serve`` on a free loopback port, its output going to ``log`` (a pipe nobody drains would fill with
    the access log and stop the server); yields its URL once /health answers, stops it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "askidcpc", "serve", "--port", str(port), *args],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:

        def healthy() -> bool:
            assert server.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            try:
                return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, "the server to answer")
        yield url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(WAIT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(WAIT)


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        time.sleep(0.05)


def documents_served(url: str) -> int:
    return int(httpx.get(f"{url}/health", timeout=10).json()["documents"])


@pytest.mark.slow
def test_a_served_index_replaced_deleted_and_reloaded_on_sighup_drops_no_request(index: Path) -> None:
    log_file = index.parent / "serve.log"
    with logged_server(log_file, "--corpus", str(index)) as (url, server), Traffic(url) as traffic:
        old_text = httpx.get(f"{url}/documents/old-50-0").json()["text"]
        wait_for(lambda: traffic.total() > 50, "traffic")

        build(index, random_documents(52, 30, prefix="new"))  # replaced while answering
        assert httpx.get(f"{url}/documents/old-50-0").json()["text"] == old_text
        assert documents_served(url) == 40
        seen = traffic.total()
        server.send_signal(signal.SIGHUP)
        wait_for(lambda: documents_served(url) == 30, "the rebuilt index to be served")
        assert httpx.get(f"{url}/documents/old-50-0").status_code == 404

        shutil.rmtree(index)  # deleted while answering
        assert httpx.post(f"{url}/ask", json={"question": "river bridge"}).status_code == 200
        assert httpx.get(f"{url}/documents/new-52-0").status_code == 200
        server.send_signal(signal.SIGHUP)  # fails: nothing there to load
        wait_for(lambda: traffic.total() > seen + 200, "more traffic")
        assert documents_served(url) == 30
    log = log_file.read_text(encoding="utf-8")
    assert traffic.statuses[200] > 200 and set(traffic.statuses) == {200}, traffic.statuses
    assert "Traceback" not in log
    assert log.count("reloaded: 30 documents") == 1
    [failed] = [line for line in log.splitlines() if "reload failed" in line]
    assert failed.endswith(
        f"reload failed, still serving the previous 30 documents: corpus not found: {index} "
        "(give a folder of articles or a saved index)"
    )


@pytest.mark.slow
def test_sighup_before_the_server_is_ready_does_not_stop_it(index: Path) -> None:
    # SIGHUP's default action ends a process; the server ignores one that comes while it loads.
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "askidcpc", "serve", "--corpus", str(index), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()  # the "serving" line: past the point where SIGHUP is ignored
        assert "serving 40 documents" in first
        server.send_signal(signal.SIGHUP)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return documents_served(url) == 40
            except httpx.HTTPError:
                return False

        wait_for(healthy, "the server to answer")
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=WAIT)
