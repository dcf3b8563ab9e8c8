"""deploy/haproxy.cfg in front of two ``askidcpc serve`` replicas, all on free loopback ports.

A replica stopped (SIGTERM) or killed (SIGKILL) in the middle of a bounded load costs no request, nor cuts one
answer off: HAProxy retries what the replica did not answer on the other one, as it does a request a replica drops
unanswered (up to the longest body askidcpc takes) or answers with 503. A rebuilt index rolled out replica by
replica (SIGHUP, or drain and restart) while load runs drops no request, and every replica then answers from the new
index. In both, no replica answered an error either: HAProxy would retry it unseen, so each replica's own log is
read. Two replicas on one saved index map its files read-only and shared, and write nothing into its folder.

Skipped where HAProxy is not installed (``apt-get install haproxy``) and CI is not set; in CI (CI=true), which
installs it, a missing haproxy is a failure.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from askidcpc.index import store
from tests.edges.conftest import free_port
from tests.index.test_store import random_documents

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
BACKEND = "askidcpc_replicas"
WAIT = 60  # seconds: a bound on waits that should end soon, never a timing assertion
QUESTIONS = ("river bridge council", "Who is the mayor?", "harbour railway election", "storm flood museum")
OLD, NEW = ("old", 40), ("new", 30)  # doc_id prefix and document count of the index before and after a rollout
ASK_ANSWERED = re.compile(r'"POST /ask HTTP/1\.1" (\d{3}) ')  # uvicorn's access log: the status of one answer


def _haproxy_or_skip() -> str:
    # Debian installs it in /usr/sbin, which an unprivileged user's PATH may not name.
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("haproxy is not installed; CI installs it (apt-get install haproxy)")
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    return found


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT} s for {what}"
        time.sleep(0.05)


def build(path: Path, prefix: str, count: int) -> None:
    seed = {OLD[0]: 50, NEW[0]: 51}[prefix]
    store.build_saved_index(path, random_documents(seed, count, prefix=prefix))


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


class Replica:
    """``askidcpc serve --corpus INDEX`` on a fixed loopback port, its output appended to a log file."""

    def __init__(self, name: str, index: Path, log: Path) -> None:
        self.name = name
        self.index = index
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "askidcpc", "serve", "--corpus", str(self.index), "--port", str(self.port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        process = self.process

        def ready() -> bool:
            assert process.poll() is None, self.log.read_text(encoding="utf-8", errors="replace")
            return answers(self.url)

        wait_for(ready, f"{self.name} to answer")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` and wait for the process to end; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(WAIT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(WAIT)

    def documents(self) -> int:
        return int(httpx.get(f"{self.url}/health", timeout=10).json()["documents"])

    def asks_answered(self) -> Counter[int]:
        """The status of each ``POST /ask`` it answered, by its own log (uvicorn's access log, a line an answer)."""
        return Counter(int(status) for status in ASK_ANSWERED.findall(self._log_text()))

    def said(self, lines: int = 60) -> str:
        """The first ``lines`` of its log besides the access log's 200s: its first errors, with their tracebacks."""
        said = [line for line in self._log_text().splitlines() if not line.endswith(" 200 OK")]
        return f"{self.name}'s log:\n" + "\n".join(said[:lines])

    def _log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class HAProxy:
    """HAProxy in the foreground on deploy/haproxy.cfg, with the addresses filled in through its environment."""

    def __init__(self, ports: list[int], log: Path) -> None:
        self.binary = _haproxy_or_skip()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # A Unix socket's path is limited to about 100 bytes: a short folder of its own, not pytest's tmp_path.
        self._socket_dir = tempfile.mkdtemp(prefix="askidcpc-haproxy-")
        self.socket = Path(self._socket_dir) / "admin.sock"
        env = {
            **os.environ,
            "ASKIDCPC_HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "ASKIDCPC_HAPROXY_SOCKET": str(self.socket),
        }
        for number, port in enumerate(ports, start=1):
            env[f"ASKIDCPC_REPLICA_{number}"] = f"127.0.0.1:{port}"
        check = subprocess.run([self.binary, "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [self.binary, "-db", "-f", str(CONFIG)], stdout=output, stderr=subprocess.STDOUT, env=env
            )
        self.servers = [f"replica{number}" for number in range(1, len(ports) + 1)]

    def wait_until_ready(self) -> None:
        def all_up() -> bool:
            assert self.process.poll() is None, self.log.read_text(encoding="utf-8", errors="replace")
            return (
                self.socket.exists() and all(self.status(name) == "UP" for name in self.servers) and answers(self.url)
            )

        wait_for(all_up, "HAProxy to see every replica up")

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(10)
            admin.connect(str(self.socket))
            admin.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stats(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the backend: one row per server, and BACKEND."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").removeprefix("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == BACKEND}

    def status(self, server: str) -> str:
        return self.stats().get(server, {}).get("status", "")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(WAIT)
        shutil.rmtree(self._socket_dir, ignore_errors=True)


class FailingReplica:
    """A stand-in replica that passes HAProxy's health check and fails every other request: it reads the whole
    request, then sends ``answer`` and closes the connection, or (``answer`` None) closes it unanswered, as a replica
    killed mid-request does."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.failed: list[int] = []  # the body length of each request failed
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            # OSError: HAProxy went away mid-request, and there is nothing to answer
            with connection, contextlib.suppress(OSError):
                self._handle(connection)

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        if head.startswith(b"GET /health "):
            answer = b'{"status": "ok"}'
            connection.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + f"content-length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            return
        lengths = [
            line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ]
        length = int(lengths[0]) if lengths else 0
        while len(body) < length and (chunk := connection.recv(65536)):
            body += chunk
        self.failed.append(len(body))
        if self.answer is not None:
            connection.sendall(self.answer)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() that close() alone would leave blocked
        self.listener.close()
        self._thread.join(WAIT)
        assert not self._thread.is_alive()


@dataclass(frozen=True)
class Outcome:
    """One request as a client saw it: when it was sent and answered, its status (0: no whole HTTP answer), the
    replica HAProxy says answered it, the doc_id prefixes of its citations (which index answered), and whether an
    answer began (its status line and headers came) and was then cut off."""

    sent: float
    answered: float
    status: int
    replica: str
    indexes: frozenset[str]
    cut: bool = False


class Load:
    """POST /ask from a few threads, one request after another, until ``requests`` are sent or it is stopped."""

    def __init__(self, url: str, requests: int, threads: int = 4, pause_s: float = 0.0) -> None:
        self.url = url
        self.requests = requests
        self.pause_s = pause_s
        self.outcomes: list[Outcome] = []
        self._sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set() or self._sent >= self.requests:
                return None
            self._sent += 1
            return self._sent

    def _run(self, seed: int) -> None:
        # No retries on the client side: every retry counted here is HAProxy's.
        with httpx.Client(base_url=self.url, timeout=30.0) as client:
            while (number := self._take()) is not None:
                sent = time.monotonic()
                status, replica, indexes, began = 0, "", frozenset[str](), False
                question = QUESTIONS[(number + seed) % len(QUESTIONS)]
                try:
                    # Streamed, to tell an answer that never began from one cut off after its headers.
                    with client.stream("POST", "/ask", json={"question": question}) as response:
                        began = True
                        response.read()
                    status = response.status_code
                    replica = response.headers.get("x-askidcpc-replica", "")
                    if status == 200:
                        citations = response.json()["citations"]
                        indexes = frozenset(citation["doc_id"].split("-")[0] for citation in citations)
                except httpx.HTTPError:
                    pass
                outcome = Outcome(sent, time.monotonic(), status, replica, indexes, cut=began and not status)
                with self._lock:
                    self.outcomes.append(outcome)
                self._stop.wait(self.pause_s)

    def finished(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def wait_for_more(self, count: int) -> None:
        seen = self.finished()
        wait_for(lambda: self.finished() >= seen + count, f"{count} more requests to finish")

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in self._threads), "load threads still running"

    def statuses(self) -> Counter[int]:
        with self._lock:
            return Counter(outcome.status for outcome in self.outcomes)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build(path, *OLD)
    return path


@pytest.fixture
def haproxy_installed() -> None:
    _haproxy_or_skip()  # before starting any replica for it


@pytest.fixture
def replicas(haproxy_installed: None, index: Path, tmp_path: Path) -> Iterator[list[Replica]]:
    started = [Replica(f"replica{number}", index, tmp_path / f"replica{number}.log") for number in (1, 2)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        for replica in started:
            replica.close()
    for replica in started:
        assert "Traceback" not in replica.log.read_text(encoding="utf-8"), replica.log


@pytest.fixture
def haproxy(replicas: list[Replica], tmp_path: Path) -> Iterator[HAProxy]:
    proxy = HAProxy([replica.port for replica in replicas], tmp_path / "haproxy.log")
    try:
        proxy.wait_until_ready()
        yield proxy
    finally:
        proxy.close()


def retried(proxy: HAProxy) -> str:
    """HAProxy's retries and redispatches, in all and by the replica each request had been sent to first."""
    stats = proxy.stats()
    backend = stats["BACKEND"]
    first = ", ".join(f"{name} {stats[name]['wredis']}" for name in proxy.servers)
    return f"HAProxy retried {backend['wretr']} and redispatched {backend['wredis']} (away from {first})"


def assert_every_ask_answered_200(replicas: list[Replica], report: str) -> None:
    """Each replica answered every ``POST /ask`` it answered with 200, and answered some, by its own log. HAProxy
    retries a 503 on another replica, so the clients never see a replica's error: only the replica's log tells."""
    for replica in replicas:
        statuses = replica.asks_answered()
        assert set(statuses) == {200}, f"{replica.name} answered /ask {dict(statuses)}; {report}\n{replica.said()}"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_replica_stopped_under_load_fails_no_request(
    replicas: list[Replica], haproxy: HAProxy, signum: signal.Signals
) -> None:
    first, second = replicas
    # Bounded at 2,000 requests; stopped 150 requests after the replica has gone (its exit can take a while).
    with Load(haproxy.url, requests=2000, threads=6) as load:
        load.wait_for_more(150)
        # Stopped while it has requests in hand (HAProxy's count, read just before): those are the ones at stake.
        wait_for(lambda: int(haproxy.stats()[second.name]["scur"]) > 0, f"{second.name} to have requests in hand")
        status = second.stop(signum)
        gone = time.monotonic()
        load.wait_for_more(150)
    outcomes = load.outcomes
    lost = [outcome for outcome in outcomes if outcome.status != 200]
    report = f"{load.statuses()}, {sum(outcome.cut for outcome in lost)} cut off; {retried(haproxy)}"
    print(f"{signum.name}: {report}")
    assert status == (0 if signum == signal.SIGTERM else -signal.SIGKILL)
    assert 300 <= len(outcomes) < 2000, report
    # None lost, none cut off: HAProxy retries every request the replica had not answered, and a replica sends each
    # answer in one write, so it has sent an answer whole or not at all when killed (HAProxy could not retry one
    # cut off after its headers: deploy/README.md, "Stopping a replica, or losing one").
    assert not lost, report
    # No answer a replica sent was an error: HAProxy retries those too, hidden from the clients, so each replica's log
    # is read. (A replica whose every /ask failed, while its /health answered, once stayed in the rotation here.)
    assert_every_ask_answered_200(replicas, report)
    # Both replicas answered before the stop; only the one left answered what was sent after it had gone.
    answered = [outcome for outcome in outcomes if outcome.status == 200]
    before = Counter(outcome.replica for outcome in answered if outcome.answered < gone)
    after = Counter(outcome.replica for outcome in answered if outcome.sent > gone)
    assert before[first.name] > 0 and before[second.name] > 0, before
    assert set(after) == {first.name} and after[first.name] > 0, after
    assert all(outcome.indexes == {OLD[0]} for outcome in answered)


# The longest request askidcpc takes: 20 earlier questions of up to 2,000 characters, about 40 kB of JSON, more than
# HAProxy's default buffer (16 KiB); a request is retried only if it fits in one (haproxy.cfg's tune.bufsize).
LONG_HISTORY = [" ".join(WORD for _ in range(400))[:2000] for WORD in ("river", "bridge", "council", "mayor") * 5]
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b'connection: close\r\ncontent-length: 19\r\n\r\n{"detail": "busy!"}'
)


@pytest.mark.parametrize(
    ("answer", "history"),
    [(None, []), (None, LONG_HISTORY), (UNAVAILABLE, [])],
    ids=["unanswered", "unanswered-long-history", "503"],
)
def test_a_request_a_replica_fails_is_answered_by_another(
    index: Path, tmp_path: Path, answer: bytes | None, history: list[str]
) -> None:
    _haproxy_or_skip()
    failing, replica = FailingReplica(answer), Replica("replica2", index, tmp_path / "replica2.log")
    try:
        replica.start()
        proxy = HAProxy([failing.port, replica.port], tmp_path / "haproxy.log")
        try:
            proxy.wait_until_ready()
            statuses: Counter[tuple[int, str]] = Counter()
            for question in QUESTIONS * 2:
                # Both in the rotation before each request, so that some go to the failing one first.
                wait_for(lambda: proxy.status("replica1") == "UP", "HAProxy to see the failing replica up")
                response = httpx.post(f"{proxy.url}/ask", json={"question": question, "history": history}, timeout=30)
                statuses[response.status_code, response.headers.get("x-askidcpc-replica", "")] += 1
            report = f"{statuses}; failed {len(failing.failed)}; {retried(proxy)}"
            print(report)
        finally:
            proxy.close()
    finally:
        replica.close()
        failing.close()
    assert statuses == {(200, "replica2"): 2 * len(QUESTIONS)}, report
    assert failing.failed, report  # the requests above did reach it, and were answered all the same
    # whole bodies: what httpx sent for one of the questions
    sent = {len(httpx.Request("POST", "/", json={"question": q, "history": history}).content) for q in QUESTIONS}
    assert set(failing.failed) <= sent, report


def answered_from(replica: Replica, prefix: str) -> bool:
    response = httpx.post(f"{replica.url}/ask", json={"question": QUESTIONS[0]}, timeout=10)
    return response.status_code == 200 and {c["doc_id"].split("-")[0] for c in response.json()["citations"]} == {prefix}


def reload_on_sighup(replica: Replica, proxy: HAProxy) -> None:
    assert replica.process is not None
    replica.process.send_signal(signal.SIGHUP)
    wait_for(lambda: replica.documents() == NEW[1], f"{replica.name} to serve the rebuilt index")


def drain_and_restart(replica: Replica, proxy: HAProxy) -> None:
    server = f"{BACKEND}/{replica.name}"
    assert proxy.command(f"set server {server} state drain").strip() == ""
    wait_for(lambda: proxy.stats()[replica.name]["scur"] == "0", f"{replica.name} to finish its requests")
    assert replica.stop(signal.SIGTERM) == 0
    replica.start()
    assert proxy.command(f"set server {server} state ready").strip() == ""
    wait_for(lambda: proxy.status(replica.name) == "UP", f"HAProxy to see {replica.name} up again")


@pytest.mark.parametrize("roll", [reload_on_sighup, drain_and_restart], ids=["sighup", "drain-and-restart"])
def test_a_rebuilt_index_rolled_out_replica_by_replica_drops_no_request(
    index: Path, replicas: list[Replica], haproxy: HAProxy, roll: Callable[[Replica, HAProxy], None]
) -> None:
    with Load(haproxy.url, requests=10_000, threads=3, pause_s=0.02) as load:
        load.wait_for_more(50)
        build(index, *NEW)  # rebuilt in place (atomically): the replicas keep answering from the index they mapped
        assert all(replica.documents() == OLD[1] for replica in replicas)
        for replica in replicas:
            roll(replica, haproxy)
            load.wait_for_more(50)
        done = time.monotonic()
        load.wait_for_more(100)
    outcomes = load.outcomes
    report = f"{load.statuses()}; {retried(haproxy)}"
    print(f"{roll.__name__}: {report}")
    assert load.finished() < load.requests, "the load ended before the rollout did"
    assert load.statuses() == {200: len(outcomes)}, report
    assert_every_ask_answered_200(replicas, report)
    # Every answer comes from one index; both indexes answered; after the rollout only the new one does.
    assert {outcome.indexes for outcome in outcomes} == {frozenset({OLD[0]}), frozenset({NEW[0]})}
    assert {outcome.indexes for outcome in outcomes if outcome.sent > done} == {frozenset({NEW[0]})}
    # No replica answers from the old index once it has answered from the new one.
    for replica in replicas:
        mine = [outcome for outcome in outcomes if outcome.replica == replica.name]
        first_new = min((outcome.answered for outcome in mine if NEW[0] in outcome.indexes), default=float("inf"))
        assert all(outcome.sent < first_new for outcome in mine if OLD[0] in outcome.indexes), replica.name
    for replica in replicas:
        assert replica.documents() == NEW[1]
        assert answered_from(replica, NEW[0])


def test_replicas_map_one_saved_index_read_only_and_write_nothing_to_it(index: Path, tmp_path: Path) -> None:
    files = {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in index.iterdir()}
    started = [Replica(f"replica{number}", index, tmp_path / f"replica{number}.log") for number in (1, 2)]
    try:
        for replica in started:
            replica.start()
            assert answered_from(replica, OLD[0])
        arrays = {name for name in files if name.endswith(".npy")}
        for replica in started:
            assert replica.process is not None
            maps = Path(f"/proc/{replica.process.pid}/maps").read_text().splitlines()
            mapped = {line.split()[-1]: line.split()[1] for line in maps if line.split()[-1].startswith(str(index))}
            # r--s: read-only and shared, so the page cache holds one copy for every replica
            assert set(mapped.values()) == {"r--s"}, mapped
            # the postings and the documents' texts, the bulk of an index, among them
            assert {"tf_data.npy", "doc_text.npy"} <= {Path(name).name for name in mapped} <= arrays, mapped
    finally:
        for replica in started:
            replica.close()
    assert {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in index.iterdir()} == files
