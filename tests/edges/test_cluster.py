"""`askidcpc index --cluster`: a local cluster and a scheduler with two workers on 127.0.0.1 build the index of
`--jobs 1` byte for byte, which answers the same; a bad address, Dask missing or an unreachable scheduler is one
line, before anything is read or written."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from askidcpc.config import Settings
from askidcpc.edges import indexer
from askidcpc.edges.cli import main
from askidcpc.index import cluster, partition
from askidcpc.pipeline import Pipeline
from tests.conftest import QUESTIONS
from tests.edges.test_indexer import news, run_cli
from tests.index.test_cluster import needs_dask, scheduler_and_workers
from tests.index.test_partition import WORDS, write_corpus

# Questions in the test corpus's words, and the bundled corpus's (no answer here: citations still compared).
ASKED = [
    *QUESTIONS,
    "When did the council approve the harbour budget?",
    "What did the minister say about the treaty at the border?",
    "Which museum held the festival?",
    " ".join(WORDS[:6]),
]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return news(tmp_path / "src", 40)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The sources `askidcpc index` reads (none, when it refuses first)."""
    read: list[object] = []
    original = indexer.ingest
    monkeypatch.setattr(indexer, "ingest", lambda paths, on_file=None: read.append(paths) or original(paths, on_file))
    return read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SRC", "--out", "IDX", "--cluster", "local:0"], "--cluster: local:N needs 1 to 1024 workers, not 0"),
        (["SRC", "--out", "IDX", "--cluster", "127.0.0.1:8786"], "is neither local:N nor tcp://HOST:PORT"),
        (["SRC", "--out", "IDX", "--cluster", "local:2", "--jobs", "2"], "--jobs (processes on this machine) or"),
        (["--add", "SRC", "--to", "IDX", "--cluster", "local:2"], "--cluster goes with building"),
        (["--remove", "n1", "--from", "IDX", "--cluster", "local:2"], "--cluster goes with building"),
    ],
)
def test_cluster_usage_errors(
    tmp_path: Path,
    archive: Path,
    reads: list[object],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = [
        "index",
        *(str(archive) if arg == "SRC" else str(tmp_path / "index") if arg == "IDX" else arg for arg in args),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert reads == [] and not (tmp_path / "index").exists()


def test_without_dask_the_error_names_the_extra(
    tmp_path: Path,
    archive: Path,
    reads: list[object],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    assert main(["index", str(archive), "--out", str(tmp_path / "index"), "--cluster", "local:2"]) == 1
    assert capsys.readouterr().err == "askidcpc: --cluster needs Dask: pip install 'askidcpc[cluster]'\n"
    assert reads == [] and not (tmp_path / "index").exists()


def free_port() -> int:
    """A loopback port nothing listens on (just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@needs_dask
def test_an_unreachable_scheduler_is_one_line_and_nothing_is_read_or_written(
    tmp_path: Path,
    archive: Path,
    reads: list[object],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    assert main(["index", str(archive), "--out", str(tmp_path / "index"), "--cluster", address]) == 1
    assert capsys.readouterr().err == (
        f"askidcpc: cannot reach the Dask scheduler at {address} within 1 s; nothing was written\n"
    )
    assert reads == [] and not (tmp_path / "index").exists()


def array_files(index: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(index.iterdir()) if path.suffix == ".npy"}


def answers(index: Path) -> list[dict[str, object]]:
    pipeline = Pipeline.load(Settings(corpus=index))
    return [pipeline.ask(question).to_dict() for question in ASKED]


@pytest.fixture
def articles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A few hundred small articles in every format, cut into a few dozen partitions."""
    (tmp_path / "articles").mkdir()
    write_corpus(tmp_path / "articles")
    monkeypatch.setattr(partition, "PARTITION_CHARS", 3000)
    monkeypatch.setattr(partition, "MIN_PARTITION_CHARS", 1)
    return tmp_path / "articles"


@needs_dask
@pytest.mark.slow  # starts a local cluster: a scheduler and two worker processes
def test_a_local_cluster_builds_the_index_of_one_process(tmp_path: Path, articles: Path) -> None:
    assert main(["index", str(articles), "--out", str(tmp_path / "one"), "--jobs", "1"]) == 0
    assert main(["index", str(articles), "--out", str(tmp_path / "local"), "--cluster", "local:2"]) == 0
    expected = array_files(tmp_path / "one")
    assert len(expected) > 10 and array_files(tmp_path / "local") == expected


@needs_dask
@pytest.mark.slow  # starts `dask scheduler` and two `dask worker` processes
def test_a_scheduler_with_two_workers_builds_the_index_of_one_process_and_answers_the_same(
    tmp_path: Path, articles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(articles), "--out", str(tmp_path / "one"), "--jobs", "1"]) == 0
    with scheduler_and_workers(tmp_path, workers=2) as (address, _, _):
        assert main(["index", str(articles), "--out", str(tmp_path / "cluster"), "--cluster", address]) == 0
    first, second = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Indexed ")]
    assert first.split(" into ")[0] == second.split(" into ")[0]
    assert array_files(tmp_path / "cluster") == array_files(tmp_path / "one")
    expected = answers(tmp_path / "one")
    assert any(answer["answer"] for answer in expected)
    assert answers(tmp_path / "cluster") == expected


def descendants(pid: int) -> set[int]:
    """The processes ``pid`` started, and theirs (started from any of its threads: the cluster's from its own)."""
    found: set[int] = set()
    for children_file in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            for child in map(int, children_file.read_text().split()):
                found |= {child, *descendants(child)}
    return found


@needs_dask
@pytest.mark.slow  # starts a local cluster in a child process, then interrupts it
def test_ctrl_c_shuts_the_local_cluster_down_with_one_line_and_leaves_the_old_index(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group (the command and the cluster's workers), pressed every second until
    the command ends (the first ones may come while the cluster starts, when it is ignored): one line, status 130,
    the old index as it was, and no process of the cluster left running."""
    archive = news(tmp_path / "src", 20_000)  # about 7 MB of text: many seconds of splitting
    old = news(tmp_path / "old", 3)
    assert run_cli("index", str(old), "--out", str(tmp_path / "index"), cwd=tmp_path).returncode == 0
    before = (tmp_path / "index" / "manifest.json").read_bytes()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "askidcpc", "index", str(archive), "--out", str(tmp_path / "index")]
    process = subprocess.Popen(
        [*command, "--cluster", "local:2"], env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    cluster_processes: set[int] = set()
    deadline = time.monotonic() + 60
    while len(cluster_processes) < 2 and time.monotonic() < deadline:  # the workers: started before reading
        cluster_processes = descendants(process.pid)
        time.sleep(0.1)
    assert len(cluster_processes) >= 2
    while process.poll() is None and time.monotonic() < deadline:
        cluster_processes |= descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["askidcpc: interrupted"]
    assert (tmp_path / "index" / "manifest.json").read_bytes() == before
    deadline = time.monotonic() + 30
    while [pid for pid in cluster_processes if Path(f"/proc/{pid}").exists()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in cluster_processes if Path(f"/proc/{pid}").exists()]


@needs_dask
@pytest.mark.slow  # starts a scheduler and a worker, then kills the scheduler mid-build
def test_a_lost_scheduler_ends_the_build_with_one_line_and_the_old_index(tmp_path: Path) -> None:
    from distributed import Client

    archive = news(tmp_path / "src", 20_000)  # a few partitions of 2 MB: seconds each on one worker
    old = news(tmp_path / "old", 3)
    assert run_cli("index", str(old), "--out", str(tmp_path / "index"), cwd=tmp_path).returncode == 0
    before = (tmp_path / "index" / "manifest.json").read_bytes()
    with scheduler_and_workers(tmp_path, workers=1) as (address, _, scheduler):
        src = str(Path(__file__).resolve().parents[2] / "src")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "askidcpc", "index", str(archive), "--out", str(tmp_path / "index")]
        process = subprocess.Popen([*command, "--cluster", address], env=env, stderr=subprocess.PIPE, text=True)
        try:
            with Client(address, timeout=30, set_as_default=False) as observer:
                deadline = time.monotonic() + 60
                while not any(observer.processing().values()) and time.monotonic() < deadline:
                    time.sleep(0.05)  # until the worker runs a partition
                assert any(observer.processing().values())
                scheduler.kill()
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 1
    assert stderr == f"askidcpc: lost the connection to the Dask scheduler at {address}; the index was not changed\n"
    assert (tmp_path / "index" / "manifest.json").read_bytes() == before
