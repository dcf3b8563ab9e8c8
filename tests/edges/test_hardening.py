"""The HTTP edge under pressure: the time limit, the cap on admitted work (503 at once, not an endless queue), an
unexpected exception (503 with nothing internal in it), what is exposed (binding, paths, CORS), and a graceful
shutdown of the real `askidcpc serve` on SIGTERM."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges import server as server_module
from askidcpc.edges.server import INTERNAL_ERROR, NOT_ONLY_WHITE_SPACE, ServerLimits, create_app
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer
from tests.edges.conftest import ORIGIN

SETTINGS = Settings(corpus=DEFAULT_CORPUS)
QUESTION = {"question": "Who is Song Tao?"}
LOCAL_PATHS = (str(DEFAULT_CORPUS.parent), str(Path(server_module.__file__).parents[1]), "/site-packages/")


class StubPipeline:
    """The real pipeline's documents and passages, with an ``ask`` (same signature) that can block or fail."""

    def __init__(self, real: Pipeline, fail: BaseException | None = None) -> None:
        self.real = real
        self.documents = real.documents
        self.passages = real.passages
        self.documents_by_id = real.documents_by_id
        self.fail = fail
        self.release = threading.Event()
        self.blocking = False
        self.started = 0
        self.finished = 0
        self._lock = threading.Condition()

    def ask(self, question: str, top_k: int = 3, history: Sequence[str] = ()) -> Answer:
        with self._lock:
            self.started += 1
            self._lock.notify_all()
        try:
            if self.fail is not None:
                raise self.fail
            if self.blocking:
                assert self.release.wait(timeout=60), "the test never released the stub"
            return self.real.ask(question, top_k=top_k, history=history)
        finally:
            with self._lock:
                self.finished += 1

    def wait_started(self, count: int) -> None:
        with self._lock:
            assert self._lock.wait_for(lambda: self.started >= count, timeout=30), (self.started, count)


def stub_client(stub: StubPipeline, **limits: Any) -> TestClient:
    # No answer cache: each request here must reach ask() (a repeat would be answered from memory, slots or not).
    settings = dataclasses.replace(SETTINGS, answer_cache=0)
    return TestClient(create_app(settings, pipeline=stub, limits=ServerLimits(**limits)))  # type: ignore[arg-type]


def post_in_thread(client: TestClient, body: dict[str, Any]) -> Callable[[], httpx.Response]:
    """Send ``body`` to /ask from another thread; returns a function that waits for the response."""
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(client.post("/ask", json=body)), daemon=True)
    thread.start()

    def response() -> httpx.Response:
        thread.join(timeout=60)
        assert result, "the request did not finish"
        return result[0]

    return response


def assert_unavailable(response: httpx.Response, words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == str(ServerLimits().retry_after_s)
    assert words in response.json()["detail"]


def eventually_ok(client: TestClient, attempts: int = 200) -> httpx.Response:
    # A slot comes back a moment after its thread returns; poll a bounded number of times.
    for _ in range(attempts):
        response = client.post("/ask", json=QUESTION)
        if response.status_code == 200:
            return response
        time.sleep(0.02)
    raise AssertionError(f"still {response.status_code} after {attempts} attempts: {response.text}")


def wait_for(condition: Callable[[], bool], attempts: int = 1500) -> None:
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


# ---- limits ----


def test_an_ask_over_the_time_limit_is_answered_503(pipeline: Pipeline) -> None:
    stub = StubPipeline(pipeline)
    stub.blocking = True
    with stub_client(stub, ask_timeout_s=0.2) as client:
        assert_unavailable(client.post("/ask", json=QUESTION), "longer than the limit of 0.2 s")
        assert stub.started == 1 and stub.finished == 0  # the thread is still in ask(); the request did not wait
        stub.release.set()
        assert eventually_ok(client).json() == pipeline.ask(QUESTION["question"]).to_dict()


@pytest.mark.parametrize(("threads", "admitted"), [(1, 1), (2, 2), (2, 5)])
def test_overload_is_turned_away_at_once_with_retry_after(pipeline: Pipeline, threads: int, admitted: int) -> None:
    stub = StubPipeline(pipeline)
    stub.blocking = True
    with stub_client(stub, ask_threads=threads, max_pending=admitted, ask_timeout_s=60) as client:
        in_hand = [post_in_thread(client, QUESTION) for _ in range(admitted)]
        stub.wait_started(threads)  # `threads` asks run; the others are admitted and wait for a thread
        wait_for(lambda: client.app.state.admission.pending == admitted)  # type: ignore[attr-defined]
        # One more than admitted: 503 at once, while all the others are still blocked.
        assert_unavailable(client.post("/ask", json=QUESTION), f"busy: {admitted} questions")
        assert stub.finished == 0 and stub.started == threads
        assert client.get("/health").status_code == 200  # other routes still answer
        stub.release.set()
        expected = pipeline.ask(QUESTION["question"]).to_dict()
        assert [response().json() for response in in_hand] == [expected] * admitted
        assert stub.started == admitted
        assert client.post("/ask", json=QUESTION).status_code == 200  # every slot came back


def test_abandoned_work_keeps_its_slot_until_its_thread_returns(pipeline: Pipeline) -> None:
    """A timed-out ask's thread cannot be stopped; it still counts, so abandoned work cannot pile up."""
    stub = StubPipeline(pipeline)
    stub.blocking = True
    with stub_client(stub, ask_threads=1, max_pending=1, ask_timeout_s=0.2) as client:
        assert_unavailable(client.post("/ask", json=QUESTION), "longer than the limit")
        assert_unavailable(client.post("/ask", json=QUESTION), "busy: 1 questions")
        assert stub.started == 1
        stub.release.set()
        eventually_ok(client)


def test_a_queued_ask_that_times_out_is_skipped_and_gives_its_slot_back(pipeline: Pipeline) -> None:
    stub = StubPipeline(pipeline)
    stub.blocking = True
    with stub_client(stub, ask_threads=1, max_pending=2, ask_timeout_s=0.3) as client:
        running = post_in_thread(client, QUESTION)
        stub.wait_started(1)
        queued = client.post("/ask", json=QUESTION)  # waits for the one thread, then times out
        assert_unavailable(queued, "longer than the limit")
        assert_unavailable(running(), "longer than the limit")
        stub.release.set()
        eventually_ok(client)
        # The queued ask never ran: only the first and the last reached ask().
        assert stub.started == 2


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(f"secret state at {DEFAULT_CORPUS}/x.md"),
        KeyError("internal-key"),
        ZeroDivisionError("division by zero in /opt/secret/module.py"),
        MemoryError(),
        RecursionError("maximum recursion depth exceeded"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_an_unexpected_exception_is_a_generic_503_and_logged_in_full(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture, failure: BaseException
) -> None:
    stub = StubPipeline(pipeline, fail=failure)
    with caplog.at_level(logging.ERROR, logger="askidcpc.edges.server"), stub_client(stub) as client:
        response = client.post("/ask", json=QUESTION)
        assert client.get("/health").status_code == 200  # the server carries on
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"detail": INTERNAL_ERROR}
    for secret in ("secret", "internal-key", "Traceback", type(failure).__name__, *LOCAL_PATHS):
        assert secret not in response.text
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1 and logged[0].exc_info is not None and logged[0].exc_info[1] is failure
    assert "POST /ask" in logged[0].getMessage()
    assert stub.started == 1


class FailingDocuments(list[Any]):
    def __iter__(self) -> Iterator[Any]:
        raise OSError(f"[Errno 5] Input/output error: '{DEFAULT_CORPUS}/index/documents.bin'")


def test_an_unexpected_exception_in_another_route_is_a_generic_503(pipeline: Pipeline) -> None:
    stub = StubPipeline(pipeline)
    stub.documents = FailingDocuments(pipeline.documents)
    with stub_client(stub) as client:
        response = client.get("/documents")
    assert response.status_code == 503 and response.json() == {"detail": INTERNAL_ERROR}
    assert "Errno" not in response.text and str(DEFAULT_CORPUS) not in response.text


def test_the_published_question_pattern_is_exactly_what_trimming_keeps() -> None:
    pattern = re.compile(NOT_ONLY_WHITE_SPACE)
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        assert bool(pattern.fullmatch(character)) is not character.isspace(), hex(code)


# ---- exposure ----

TRAVERSALS = [
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2fcorpus%2f2007-cpc-party-diplomacy",
    "..%2Fcorpus%2F2007-cpc-party-diplomacy.md",
    "2007-cpc-party-diplomacy.md",
    "%2Fetc%2Fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "....%2F%2Fetc%2Fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    "2007-cpc-party-diplomacy%00",
    "~%2F.bashrc",
]


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS, pipeline=pipeline)) as test_client:
        yield test_client


@pytest.mark.parametrize("doc_id", TRAVERSALS)
@pytest.mark.parametrize("route", ["/documents/{}", "/documents/{}/context?start=0&end=10"])
def test_a_doc_id_is_looked_up_never_joined_to_a_path(client: TestClient, route: str, doc_id: str) -> None:
    response = client.get(route.format(doc_id))
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/json"
    # An id with a "/" once decoded matches no route at all; any other is looked up among the documents.
    detail = response.json()["detail"]
    assert detail == "Not Found" or detail.startswith("no document "), detail
    if "/" not in unquote(doc_id) and "%" not in unquote(doc_id):
        assert detail.startswith(f"no document {unquote(doc_id)!r}")
    for leaked in ("root:", "title:", "China Daily", *LOCAL_PATHS):
        assert leaked not in response.text


@pytest.mark.parametrize("mount", ["/static", "/docs-assets"])
@pytest.mark.parametrize("escape", ["%2E%2E/server.py", "..%2Fserver.py", "%2e%2e%2f%2e%2e%2fpyproject.toml"])
def test_static_files_do_not_escape_their_folder(client: TestClient, mount: str, escape: str) -> None:
    response = client.get(f"{mount}/{escape}")
    assert response.status_code == 404
    assert "import" not in response.text and "[project]" not in response.text


def test_no_route_takes_a_file_path(client: TestClient) -> None:
    app = client.app
    routes = [route for route in app.routes if isinstance(route, APIRoute)]  # type: ignore[attr-defined]
    assert routes
    for route in routes:
        assert ":path}" not in route.path, route.path
        names = {param.name for param in route.dependant.path_params + route.dependant.query_params}
        assert not names & {"path", "file", "filename", "dir", "folder"}, (route.path, names)
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert parameter["schema"].get("format") not in ("path", "uri"), (path, parameter)


@pytest.mark.parametrize(
    ("host", "reach"),
    [
        ("127.0.0.1", "this machine only"),
        ("::1", "this machine only"),
        ("localhost", "this machine only"),
        ("0.0.0.0", "reachable from other machines"),
        ("192.0.2.7", "reachable from other machines"),
    ],
)
def test_serve_binds_where_asked_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, reach: str
) -> None:
    import uvicorn

    from askidcpc.edges.server import run

    bound: list[dict[str, Any]] = []

    class Server:
        def __init__(self, config: uvicorn.Config) -> None:
            bound.append(vars(config))
            self.started = True

        def run(self, sockets: list[socket.socket]) -> None:
            bound.append({"sockets": sockets})

    monkeypatch.setattr(run, "_bind", lambda host, port, where: socket.socket())  # 192.0.2.7 is not this machine
    monkeypatch.setattr(uvicorn, "Server", Server)
    with caplog.at_level(logging.INFO, logger="askidcpc.edges.server"):
        assert server_module.serve(SETTINGS, host=host, port=8123) == 0
    assert bound[0]["host"] == host and bound[0]["port"] == 8123
    assert bound[0]["timeout_graceful_shutdown"] == server_module.GRACEFUL_SHUTDOWN_S
    assert len(bound[1]["sockets"]) == 1  # served on the socket bound before the "serving" line
    assert any(f":8123/ ({reach})" in record.getMessage() for record in caplog.records), caplog.text


@pytest.mark.parametrize(
    ("origins", "sent", "allowed"),
    [
        ((), ORIGIN, None),
        ((ORIGIN,), ORIGIN, ORIGIN),
        ((ORIGIN,), "https://evil.example", None),
        ((ORIGIN, "http://localhost:3000"), "http://localhost:3000", "http://localhost:3000"),
        (("*",), "https://anywhere.example", "*"),
    ],
)
def test_cors_is_off_unless_configured(
    pipeline: Pipeline, origins: tuple[str, ...], sent: str, allowed: str | None
) -> None:
    app = create_app(Settings(corpus=DEFAULT_CORPUS, cors_origins=origins), pipeline=pipeline)
    with TestClient(app) as client:
        simple = client.post("/ask", json=QUESTION, headers={"origin": sent})
        preflight = client.options(
            "/ask",
            headers={
                "origin": sent,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
    assert simple.status_code == 200
    assert simple.headers.get("access-control-allow-origin") == allowed
    assert preflight.headers.get("access-control-allow-origin") == allowed
    if allowed is None:  # no CORS: a plain OPTIONS answer (204, Allow); CORS on, another origin: its 400
        assert preflight.status_code == (400 if origins else 204)
    else:
        assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ()),
        (
            {"ASKIDCPC_CORS_ORIGINS": " https://a.example, ,https://b.example "},
            ("https://a.example", "https://b.example"),
        ),
    ],
)
def test_cors_origins_from_the_environment(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert Settings.from_env(environ).cors_origins == expected


# ---- graceful shutdown of the real server ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, *options: str) -> tuple[subprocess.Popen[str], list[str]]:
    """``askidcpc serve`` on ``port``, once /health answers, and the list its output lines are read into."""
    command = [sys.executable, "-m", "askidcpc", "serve", "--port", str(port), *options]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    assert server.stdout is not None
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "".join(lines)
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server, lines
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "askidcpc serve did not answer /health within 60 s"
        time.sleep(0.1)


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response read to the end of its Content-Length (a preceding 100 Continue skipped)."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a response: {data!r}"
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 100:
            break
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(data) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        data += chunk
    return status, headers, data[:length]


IN_FLIGHT = 24


@pytest.mark.slow
@pytest.mark.parametrize(("options", "processes"), [([], 1), (["--workers", "2"], 2)], ids=["one-process", "workers"])
def test_sigterm_lets_requests_in_flight_finish_then_exits_0(
    pipeline: Pipeline, options: list[str], processes: int
) -> None:
    """Requests whose handler is running (it has asked for the body: 100 Continue) when SIGTERM arrives all get
    their answer once the server is shutting down; the process then exits with status 0."""
    port = free_port()
    server, lines = start_server(port, *options)
    questions = [f"{q} ({n})" for n, q in enumerate(["Who is Song Tao?", "When was the department founded?"] * 12)]
    sockets: list[socket.socket] = []
    try:
        for question in questions[:IN_FLIGHT]:
            body = json.dumps({"question": question}).encode()
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(
                b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
            )
            sockets.append(sock)
        for sock in sockets:  # each request is in the app, waiting for its body
            assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        server.send_signal(signal.SIGTERM)
        # Every server process is shutting down (uvicorn logs it) before the bodies are sent.
        wait_for(lambda: sum("Shutting down" in line for line in lines) >= processes)
        if processes == 1:  # (worker processes share a socket their supervisor holds open until the end)
            assert refuses_connections(port)
        assert server.poll() is None  # still finishing what is in flight
        for sock, question in zip(sockets, questions, strict=True):
            sock.sendall(json.dumps({"question": question}).encode())
        answers = [read_response(sock) for sock in sockets]
        server.wait(timeout=60)
        log = "".join(lines)
    finally:
        for sock in sockets:
            sock.close()
        if server.poll() is None:
            server.kill()
            server.wait()
    for (status, headers, body), question in zip(answers, questions, strict=True):
        assert status == 200, body
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == pipeline.ask(question).to_dict()
    assert server.returncode == 0, log
    assert "Traceback" not in log


# ---- corpus and index faults at start-up: a one-line error, nothing served ----


def _flip_last_byte(index: Path) -> None:
    postings = index / "tf_indices.npy"
    data = bytearray(postings.read_bytes())
    data[-1] ^= 0x01
    postings.write_bytes(bytes(data))


def _truncate_text(index: Path) -> None:
    text = index / "doc_text.npy"
    text.write_bytes(text.read_bytes()[: text.stat().st_size // 2])


def _only_bad_files(folder: Path) -> None:
    for name in ("*.npy", "manifest.json"):
        for file in folder.glob(name):
            file.unlink()
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip_last_byte, "checksum does not match"),
        (_truncate_text, "truncated or damaged"),
        (_only_bad_files, "no readable documents"),
    ],
    ids=["tampered-index", "truncated-index", "only-bad-files"],
)
def test_serve_refuses_a_damaged_corpus_with_one_line(
    pipeline: Pipeline, tmp_path: Path, damage: Callable[[Path], None], message: str
) -> None:
    from askidcpc.index import store

    index = tmp_path / "news.index"
    store.save_index(index, pipeline.documents, pipeline.passages, pipeline.index)
    damage(index)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "serve", "--corpus", str(index), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("askidcpc: ") and message in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") <= 4, done.stderr
    assert refuses_connections(port)
