"""Faults during an index write: a full disk (ENOSPC), an I/O error (EIO), a file-size limit the kernel enforces,
and SIGKILL during ``askidcpc index --add`` / ``--remove``. Each leaves the previous index whole and loadable, the
user gets one line (no traceback), and the lock is free for the next writer."""

from __future__ import annotations

import errno
import io
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from askidcpc.edges.cli import main
from askidcpc.errors import AskError
from askidcpc.index import _atomic, store
from askidcpc.types import Document
from tests.conftest import answers
from tests.index.test_store import random_documents

WAIT = 120  # seconds: a bound on a subprocess, never a timing assertion
ROOT = Path(__file__).resolve().parents[2]


class _FullDisk(io.RawIOBase):
    """A file opened for writing on a disk with ``room`` bytes left (shared by every file of one write): the write
    that would pass it writes what fits and raises ENOSPC, as write(2) does. numpy writes through ``write`` (not
    ``tofile``) to such an object, so the store's real code path fails mid-file."""

    def __init__(self, path: str, mode: str, room: list[int]) -> None:
        self._file = open(path, mode)  # noqa: SIM115 - closed with this object
        self._room = room
        self.name = path

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(memoryview(data).cast("B")) if not isinstance(data, str) else data.encode("utf-8")
        if len(chunk) > self._room[0]:
            self._file.write(chunk[: self._room[0]] if "b" in self._file.mode else chunk[: self._room[0]].decode())
            self._room[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room[0] -= len(chunk)
        self._file.write(data)
        return len(chunk)

    def fileno(self) -> int:
        return self._file.fileno()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        super().close()
        self._file.close()


def full_disk(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    left = [room]
    real_open = open

    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            return _FullDisk(os.fspath(path), mode.replace("t", ""), left)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(store, "open", fake_open, raising=False)  # the store's own open(): its index files


def failing_call(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, code: int, nth: int) -> None:
    """Make the ``nth`` call (0-based) of ``owner.name`` fail with ``code``, as the kernel would."""
    real = getattr(owner, name)
    calls = [0]

    def call(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] - 1 == nth:
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, call)


FAULTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "ENOSPC in the first file": lambda mp: full_disk(mp, 100),
    "ENOSPC mid-way": lambda mp: full_disk(mp, 15_000),  # the bundled index takes about 35 kB
    "EIO on the first fsync": lambda mp: failing_call(mp, os, "fsync", errno.EIO, 0),
    "EIO on the last file's fsync": lambda mp: failing_call(mp, os, "fsync", errno.EIO, len(store.ARRAYS) - 1),
    "EIO fsyncing the new folder": lambda mp: failing_call(mp, store, "fsync_dir", errno.EIO, 0),
    "EIO on the swap": lambda mp: failing_call(mp, _atomic, "exchange", errno.EIO, 0),
    "ENOSPC creating the folder": lambda mp: failing_call(mp, store.tempfile, "mkdtemp", errno.ENOSPC, 0),
}

OPERATIONS: dict[str, Callable[[Path], object]] = {
    "rebuild": lambda path: store.build_saved_index(path, random_documents(20, 40)),
    "add": lambda path: store.add_documents(path, random_documents(21, 40)),
    "remove": lambda path: store.remove_documents(path, ["2007-cpc-party-diplomacy"]),
}


def assert_untouched(saved: Path, manifest: bytes, before: list[dict[str, object]]) -> None:
    assert (saved / store.MANIFEST).read_bytes() == manifest
    assert answers(saved) == before
    assert [p.name for p in saved.parent.iterdir() if p.name.startswith(".")] == []  # no temporary, no lock file


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_disk_fault_mid_write_keeps_the_old_index_and_says_so(
    saved: Path, monkeypatch: pytest.MonkeyPatch, fault: str, operation: str
) -> None:
    before = answers(saved)
    manifest = (saved / store.MANIFEST).read_bytes()
    with monkeypatch.context() as patch:
        FAULTS[fault](patch)
        with pytest.raises(AskError) as raised:
            OPERATIONS[operation](saved)
    message = str(raised.value)
    reason = os.strerror(errno.ENOSPC if "ENOSPC" in fault else errno.EIO)
    assert message.startswith(f"could not write the index {saved}: {reason} (")
    assert message.endswith("; the index there is unchanged") and "\n" not in message
    assert_untouched(saved, manifest, before)
    OPERATIONS[operation](saved)  # the lock is free and the next write works
    assert answers(saved) != before


def test_eio_flushing_the_parent_after_the_swap_keeps_the_new_index_and_warns(
    saved: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing_call(monkeypatch, _atomic, "fsync_dir", errno.EIO, 0)  # only the parent's, after the swap
    documents = random_documents(25, 5)
    store.build_saved_index(saved, documents)
    assert list(store.load_index(saved).documents) == documents
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"wrote {saved}, but could not flush its folder to disk (Input/output error)"
    ]


def test_enospc_at_every_byte_budget_keeps_the_old_index(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk with room for anything less than the whole new index (to its manifest's last byte) refuses the add
    and keeps the old index; with room for exactly all of it, the add succeeds."""
    before = answers(saved)
    manifest = (saved / store.MANIFEST).read_bytes()
    documents = random_documents(22, 30)
    trial = tmp_path / "trial" / "index"
    shutil.copytree(saved, trial)
    store.add_documents(trial, documents)
    needed = sum(p.stat().st_size for p in trial.iterdir())
    budgets = [*range(0, needed, needed // 30), needed - 1]
    for room in budgets:
        with monkeypatch.context() as patch:
            full_disk(patch, room)
            with pytest.raises(AskError, match=r"No space left on device .*; the index there is unchanged"):
                store.add_documents(saved, documents)
        assert_untouched(saved, manifest, before)
    with monkeypatch.context() as patch:
        full_disk(patch, needed)
        store.add_documents(saved, documents)
    assert list(store.load_index(saved).documents)[-len(documents) :] == documents


@pytest.mark.parametrize("fault", ["ENOSPC mid-way", "EIO on the swap"])
@pytest.mark.parametrize("command", ["add", "remove", "build"])
def test_the_cli_reports_a_disk_fault_in_one_line(
    saved: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    command: str,
) -> None:
    sources = tmp_path / "articles"
    sources.mkdir()
    for document in random_documents(23, 30):
        (sources / f"{document.doc_id}.txt").write_text(document.text, encoding="utf-8")
    manifest = (saved / store.MANIFEST).read_bytes()
    argv = {
        "add": ["index", "--add", str(sources), "--to", str(saved)],
        "remove": ["index", "--remove", "2007-cpc-party-diplomacy", "--from", str(saved)],
        "build": ["index", str(sources), "--out", str(saved)],
    }[command]
    FAULTS[fault](monkeypatch)
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"askidcpc: could not write the index {saved}: ")
    assert "Traceback" not in captured.err + captured.out
    monkeypatch.undo()
    assert (saved / store.MANIFEST).read_bytes() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "index"]


# --- the kernel's own faults, in a subprocess -------------------------------------------------------------------


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so write(2) fails with EFBIG instead of killing the process

    return apply


def _corpus_folder(folder: Path, documents: list[Document]) -> Path:
    folder.mkdir()
    for document in documents:
        (folder / f"{document.doc_id}.txt").write_text(f"{document.title}\n\n{document.text}", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_file_size_limit_set_by_the_kernel_fails_the_write_cleanly(saved: Path, tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse write(2) past a size (EFBIG): a real failing write, no mock."""
    before = answers(saved)
    manifest = (saved / store.MANIFEST).read_bytes()
    sources = _corpus_folder(tmp_path / "articles", random_documents(24, 400))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "index", "--add", str(sources), "--to", str(saved)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env,
        preexec_fn=_limit_file_size(16_384),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"askidcpc: could not write the index {saved}: File too large (writing ")
    assert done.stderr.endswith("; the index there is unchanged\n") and done.stderr.count("\n") == 1
    assert_untouched(saved, manifest, before)


# --- SIGKILL during askidcpc index --add / --remove ---------------------------------------------------------------


def _temporaries(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(".index.tmp-")]


def _kill_when(process: subprocess.Popen[str], parent: Path, files: int) -> bool:
    """SIGKILL ``process`` once its temporary index folder holds ``files`` files; True when that happened before it
    finished (it was killed mid-write), False when it finished first."""
    deadline = time.monotonic() + WAIT
    while process.poll() is None and time.monotonic() < deadline:
        for folder in _temporaries(parent):
            try:
                held = len(os.listdir(folder))
            except FileNotFoundError:  # swapped in or removed between the two calls
                continue
            if held >= files:
                process.send_signal(signal.SIGKILL)
                process.wait(WAIT)
                return process.returncode == -signal.SIGKILL
    process.wait(WAIT)
    return False


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Document]]]:
    """An index of 6,000 documents (about 7 MB: writing it takes long enough to be caught mid-way)."""
    path = tmp_path_factory.mktemp("big") / "index"
    documents = random_documents(30, 6000)
    store.build_saved_index(path, documents)
    yield path, documents


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["add", "remove"])
def test_sigkill_during_the_cli_write_leaves_the_index_as_before_or_as_after(
    big_index: tuple[Path, list[Document]], tmp_path: Path, operation: str
) -> None:
    original, documents = big_index
    added = random_documents(31, 300, prefix="new")
    sources = _corpus_folder(tmp_path / "articles", added)
    removed = [document.doc_id for document in documents[::50]]
    before = [d.doc_id for d in documents]
    # A folder's files are read in name order (new-31-1, new-31-10, ...), not in the list's order.
    added_ids = sorted(d.doc_id for d in added)
    after = before + added_ids if operation == "add" else [i for i in before if i not in removed]
    command = ["--add", str(sources), "--to"] if operation == "add" else ["--remove", *removed, "--from"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    mid_write = 0
    outcomes: set[str] = set()
    for files in [0, 1, 3, 6, 10, 14, 18, len(store.ARRAYS), len(store.ARRAYS) + 1]:
        index = tmp_path / "work" / "index"
        index.parent.mkdir(exist_ok=True)
        subprocess.run(["cp", "-a", str(original), str(index)], check=True)
        writer = subprocess.Popen(
            [sys.executable, "-m", "askidcpc", "index", *command, str(index)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            mid_write += _kill_when(writer, index.parent, files)
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait(WAIT)
            if writer.stderr is not None:
                writer.stderr.close()
        loaded = [d.doc_id for d in store.load_index(index).documents]  # verified: every checksum
        assert loaded in (before, after)
        outcomes.add("before" if loaded == before else "after")
        # The kernel dropped the killed writer's lock: the next writer gets it at once and cleans up after it.
        store.remove_documents(index, [before[1]])
        assert sorted(p.name for p in index.parent.iterdir()) == ["index"]
        subprocess.run(["rm", "-rf", str(index.parent)], check=True)
    assert mid_write >= 5  # most kills landed during the write, not after it
    assert "before" in outcomes


@pytest.mark.slow
def test_two_cli_builds_of_different_indexes_in_one_folder_both_succeed(tmp_path: Path) -> None:
    """A small build runs from start to end while a big one of another index in the same folder holds its lock."""
    sizes = {"big": 8000, "small": 200}
    sources = {name: _corpus_folder(tmp_path / name, random_documents(40, n, prefix=name)) for name, n in sizes.items()}
    out = tmp_path / "indexes"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def build(name: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "askidcpc", "index", str(sources[name]), "--out", str(out / name)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    big = build("big")
    deadline = time.monotonic() + WAIT
    while not _atomic.lock_path(out / "big").exists():
        assert big.poll() is None and time.monotonic() < deadline, big.communicate()
        time.sleep(0.005)
    # The big build is paused while it holds its lock (a fast machine could otherwise finish it first), so the
    # small one runs entirely inside it.
    big.send_signal(signal.SIGSTOP)
    try:
        small = build("small")
        small_output = small.communicate(timeout=WAIT)
        big_still_writing = big.poll() is None and _atomic.lock_path(out / "big").exists()
    finally:
        big.send_signal(signal.SIGCONT)
    big_output = big.communicate(timeout=WAIT)
    assert (small.returncode, big.returncode) == (0, 0), (small_output, big_output)
    assert big_still_writing  # the small build ran entirely inside the big one's
    for name, n in sizes.items():
        expected = [d.doc_id for d in random_documents(40, n, prefix=name)]
        assert sorted(d.doc_id for d in store.load_index(out / name).documents) == sorted(expected)
    assert sorted(p.name for p in out.iterdir()) == ["big", "small"]


@pytest.mark.slow
def test_a_second_cli_build_of_the_same_index_is_refused_at_once(saved: Path, tmp_path: Path) -> None:
    sources = _corpus_folder(tmp_path / "articles", random_documents(42, 20))
    manifest = (saved / store.MANIFEST).read_bytes()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\nfrom askidcpc.index import _atomic\n"
            "with _atomic.locked(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(600)\n",
            str(saved),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], WAIT)
        assert ready and holder.stdout.readline() == "locked\n"
        done = subprocess.run(
            [sys.executable, "-m", "askidcpc", "index", str(sources), "--out", str(saved)],
            capture_output=True,
            text=True,
            timeout=WAIT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            check=False,
        )
    finally:
        holder.kill()
        holder.wait(WAIT)
        if holder.stdout is not None:
            holder.stdout.close()
    assert done.returncode == 1
    assert done.stderr == (
        f"askidcpc: another askidcpc process is writing the index {saved}; try again when it is done\n"
    )
    assert (saved / store.MANIFEST).read_bytes() == manifest
