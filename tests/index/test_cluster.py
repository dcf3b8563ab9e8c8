"""Building on a Dask cluster (index.cluster): a real scheduler and worker processes on 127.0.0.1 make the very files
of a single-process build; a worker killed mid-build has its partitions run again; a cluster that loses every worker
ends the build with one error and the old index as it was."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from askidcpc.errors import AskError
from askidcpc.index import cluster, partition, store
from askidcpc.index.cluster import ClusterAddress
from askidcpc.types import Document
from tests.index.test_partition import saved_files

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="Dask is not installed (pip install 'askidcpc[cluster]')"
)
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local:1", ClusterAddress(local=1)),
        ("local:16", ClusterAddress(local=16)),
        ("tcp://127.0.0.1:8786", ClusterAddress(scheduler="tcp://127.0.0.1:8786")),
        ("tcp://scheduler.example.org:8786", ClusterAddress(scheduler="tcp://scheduler.example.org:8786")),
        ("tcp://[::1]:8786", ClusterAddress(scheduler="tcp://[::1]:8786")),
        ("local:0", "1 to 1024 workers"),
        ("local:1025", "1 to 1024 workers"),
        ("local:", "neither"),
        ("local:two", "neither"),
        ("tcp://127.0.0.1", "neither"),
        ("tcp://127.0.0.1:0", "neither"),
        ("tcp://127.0.0.1:70000", "neither"),
        ("127.0.0.1:8786", "neither"),
        ("http://127.0.0.1:8786", "neither"),
        ("", "neither"),
    ],
)
def test_cluster_addresses(text: str, expected: ClusterAddress | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            ClusterAddress.parse(text)
    else:
        assert ClusterAddress.parse(text) == expected
        assert str(expected) == text


def test_without_dask_connecting_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with (
        pytest.raises(AskError, match=r"^--cluster needs Dask: pip install 'askidcpc\[cluster\]'$"),
        cluster.connect(ClusterAddress(local=2)),
    ):
        pass


class Processes(NamedTuple):
    address: str  # the scheduler's
    workers: list[subprocess.Popen[bytes]]
    scheduler: subprocess.Popen[bytes]


@contextlib.contextmanager
def scheduler_and_workers(folder: Path, workers: int = 2, pythonpath: Path = SRC) -> Iterator[Processes]:
    """A Dask scheduler and ``workers`` worker processes (one thread each, no nanny to restart them) on 127.0.0.1,
    started with ``dask scheduler`` and ``dask worker``, importing askidcpc from ``pythonpath`` first (this
    checkout's by default); all ended on exit."""
    from distributed import Client

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")])}
    address_file = folder / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> subprocess.Popen[bytes]:
        with (folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        processes.append(process)
        return process

    try:
        scheduler = start(
            "scheduler",
            "distributed.cli.dask_scheduler",
            "--host=127.0.0.1",
            "--port=0",
            "--no-dashboard",
            f"--scheduler-file={address_file}",
        )
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        started = [
            start(
                f"worker-{i}",
                "distributed.cli.dask_worker",
                address,
                "--host=127.0.0.1",
                "--nthreads=1",
                "--no-nanny",
                "--no-dashboard",
                f"--name=worker-{i}",
            )
            for i in range(workers)
        ]
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield Processes(address, started, scheduler)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait(timeout=30)


@pytest.fixture
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions of about 3,000 characters: a few dozen for the test corpus."""
    monkeypatch.setattr(partition, "PARTITION_CHARS", 3000)
    monkeypatch.setattr(partition, "MIN_PARTITION_CHARS", 1)


@needs_dask
@pytest.mark.slow  # starts a scheduler and two worker processes
@pytest.mark.usefixtures("small_partitions")
def test_a_worker_killed_mid_build_has_its_partitions_run_again(
    corpus: list[Document], reference: dict[str, bytes], tmp_path: Path
) -> None:
    store.build_saved_index(tmp_path / "index", corpus[:5])  # an old index, replaced
    done: list[int] = []
    lost: list[int] = []  # partitions the killed worker held or was running
    with (
        scheduler_and_workers(tmp_path, workers=2) as (address, workers, _),
        cluster.connect(ClusterAddress.parse(address)) as on_cluster,
    ):

        def progress(documents: int) -> None:
            if not done:  # the first partition merged: SIGKILL the worker holding or running the most later ones
                client = on_cluster.client
                names = {worker: info["name"] for worker, info in client.scheduler_info()["workers"].items()}
                held = {names[worker]: set(keys) for worker, keys in client.has_what().items()}
                for worker, keys in client.processing().items():
                    held[names[worker]].update(keys)
                name = max(held, key=lambda name: len(held[name]))
                victim = workers[int(name.rsplit("-", 1)[1])]
                victim.kill()
                victim.wait(timeout=30)
                lost.append(len(held[name]))
            done.append(documents)

        assert on_cluster.slots == 2
        store.build_saved_index(tmp_path / "index", corpus, progress=progress, workers=on_cluster)
        assert sorted(str(worker.poll()) for worker in workers) == ["-9", "None"]  # one killed, one still running
    assert lost[0] >= 1
    assert len(done) > 10 and sum(done) == len(corpus)
    built = saved_files(tmp_path / "index")
    assert sorted(built) == sorted(reference)
    assert [name for name, content in reference.items() if built[name] != content] == []


@needs_dask
@pytest.mark.slow  # starts a scheduler and two worker processes
@pytest.mark.usefixtures("small_partitions")
def test_a_cluster_left_without_workers_fails_with_one_error_and_the_old_index_intact(
    corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "NO_WORKERS_TIMEOUT", 1.0)
    monkeypatch.setattr(cluster, "_POLL", 0.2)
    store.build_saved_index(tmp_path / "index", corpus[:5])
    before = saved_files(tmp_path / "index")
    with scheduler_and_workers(tmp_path, workers=2) as (address, workers, _):

        def progress(documents: int) -> None:
            for worker in workers:
                worker.kill()
            for worker in workers:
                worker.wait(timeout=30)

        with cluster.connect(ClusterAddress.parse(address)) as on_cluster, pytest.raises(AskError) as failure:
            store.build_saved_index(tmp_path / "index", corpus, progress=progress, workers=on_cluster)
    assert str(failure.value) == (
        f"the Dask cluster at {address} has had no workers for 1 s; the index was not changed"
    )
    assert saved_files(tmp_path / "index") == before
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.endswith((".log", ".json"))) == ["index"]


@needs_dask
@pytest.mark.slow  # starts a scheduler and a worker process
@pytest.mark.parametrize(
    ("files", "message"),
    [
        (  # an askidcpc without this module
            {"__init__.py": "__version__ = '0.0.1'\n"},
            r"cannot run this askidcpc \(ModuleNotFoundError\(.No module named 'askidcpc\.index'.\)\): install",
        ),
        (  # one that tokenizes differently
            {
                "__init__.py": "__version__ = '0.0.1'\n",
                "index/__init__.py": "",
                "index/cluster.py": "def _fingerprint():\n    return '0.0.1', '0123456789abcdef'\n",
            },
            r"run another askidcpc \(0\.0\.1\) that splits or tokenizes differently: install this one",
        ),
    ],
)
def test_workers_with_another_askidcpc_are_refused(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / "other" / "askidcpc" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "other" / "askidcpc" / name).write_text(text)
    with (
        scheduler_and_workers(tmp_path, workers=1, pythonpath=tmp_path / "other") as (address, _, _),
        pytest.raises(AskError, match=message),
        cluster.connect(ClusterAddress.parse(address)),
    ):
        pass


@needs_dask
@pytest.mark.parametrize("interrupted", [True, False])
def test_dasks_gc_monitor_cut_off_by_ctrl_c_stays_quiet(interrupted: bool) -> None:
    """A Ctrl-C between a collection's start and its end leaves Dask's garbage-collection monitor failing an assertion
    at each later collection: after an interrupt that is kept quiet, and the monitor is stopped on the way out.
    Without an interrupt, the same failure still reaches the hook as any other does."""
    import gc

    from distributed.gc import _gc_diagnosis, disable_gc_diagnosis, enable_gc_diagnosis

    seen: list[BaseException | None] = []
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_value)
    enable_gc_diagnosis()
    try:
        with cluster._taking_interrupts() as event:
            # what an interrupt inside the monitor's end-of-collection callback leaves behind
            _gc_diagnosis._fractional_timer.start_timing()
            if interrupted:
                event.set()
            gc.collect()
        assert (seen == []) is interrupted
        assert interrupted or AssertionError in [type(error) for error in seen]
        assert _gc_diagnosis.enabled is not interrupted
        gc.collect()
        assert (seen == []) is interrupted
    finally:
        sys.unraisablehook = previous_hook
        if _gc_diagnosis.enabled:
            disable_gc_diagnosis(force=True)
        if _gc_diagnosis._fractional_timer is not None:
            _gc_diagnosis._fractional_timer._cur_start = None
