"""One writer per saved index: a second writer of the same index is refused at once, writers of other indexes in
the same folder are not, and a killed writer's lock blocks nobody."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from askidcpc.edges.cli import main
from askidcpc.errors import IndexBusyError
from askidcpc.index import _atomic, store
from askidcpc.types import Document

WAIT = 60  # seconds: a bound on waits that should end at once, never a timing assertion


def documents(tag: str, n: int = 3) -> list[Document]:
    return [
        Document(f"{tag}-{i}", f"Title {i}", f"The {tag} council met on day {i}. The mayor spoke about the budget.")
        for i in range(n)
    ]


def no_work(*args: object, **kwargs: object) -> None:
    raise AssertionError("a refused writer must not read or tokenize anything")


WRITES: dict[str, Callable[[Path], object]] = {
    "build": lambda path: store.build_saved_index(path, documents("build")),
    "save": lambda path: store.save_index(path, documents("save"), [], None),  # type: ignore[arg-type]
    "add": lambda path: store.add_documents(path, documents("add")),
    "remove": lambda path: store.remove_documents(path, ["anything"]),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_a_second_writer_of_the_same_index_is_refused_before_any_work(
    saved: Path, operation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = (saved / store.MANIFEST).read_bytes()
    for name in ("with_documents", "tables_from_pipeline_parts", "_verified_tables", "_write_tables"):
        monkeypatch.setattr(store, name, no_work)
    with _atomic.locked(saved), pytest.raises(IndexBusyError) as raised:
        WRITES[operation](saved)
    message = str(raised.value)
    assert str(saved) in message
    assert "another askidcpc process is writing" in message
    assert (saved / store.MANIFEST).read_bytes() == manifest
    assert sorted(p.name for p in saved.parent.iterdir()) == ["index"]  # the lock file went with its lock


@pytest.fixture
def blocked_build(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A build of tmp_path/index that holds its lock, stopped in its first progress call until the event is set."""
    path = tmp_path / "index"
    started, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def progress(*args: object) -> None:
        started.set()
        assert go.wait(WAIT)

    def build() -> None:
        try:
            store.build_saved_index(path, documents("first"), progress=progress)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    assert started.wait(WAIT)
    try:
        yield path, go
    finally:
        go.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert not errors
    assert [document.doc_id for document in store.load_index(path).documents] == [d.doc_id for d in documents("first")]


@pytest.mark.parametrize(
    ("other", "refused"),
    [("index", True), ("other", False), ("index.tmp-x", False)],
)
def test_writers_of_one_index_are_refused_and_of_others_run_alongside(
    blocked_build: tuple[Path, threading.Event], other: str, refused: bool
) -> None:
    path, go = blocked_build
    target = path.parent / other
    if refused:
        with pytest.raises(IndexBusyError, match=f"another askidcpc process is writing the index {target}"):
            store.build_saved_index(target, documents("second"))
        assert not target.exists()  # the first build has not swapped in yet, and the second wrote nothing
    else:
        store.build_saved_index(target, documents("second"))
        assert [d.doc_id for d in store.load_index(target).documents] == [d.doc_id for d in documents("second")]
        assert _atomic.lock_path(path).exists()  # the first writer still holds its lock
    go.set()


def test_the_edge_reports_a_busy_index_in_one_line(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "articles"
    sources.mkdir()
    (sources / "story.md").write_text("# Story\n\nThe council met. The mayor spoke.\n", encoding="utf-8")
    manifest = (saved / store.MANIFEST).read_bytes()
    with _atomic.locked(saved):
        assert main(["index", str(sources), "--out", str(saved)]) == 1
    err = capsys.readouterr().err
    assert "another askidcpc process is writing the index" in err and str(saved) in err
    assert (saved / store.MANIFEST).read_bytes() == manifest


def test_a_writer_removes_only_its_own_index_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "index"
    own = tmp_path / ".index.tmp-abc_1234"
    others = [tmp_path / ".index.tmp-x.tmp-abc_1234", tmp_path / ".other.tmp-abc_1234"]
    for folder in (own, *others):
        folder.mkdir()
    with _atomic.locked(target):
        assert _atomic.lock_path(target).is_file()
    assert sorted(tmp_path.iterdir()) == sorted(others)


_HOLDER = """
import sys, time
from pathlib import Path
from askidcpc.index import _atomic
with _atomic.locked(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
def test_a_writer_killed_while_it_holds_the_lock_blocks_nobody(saved: Path) -> None:
    manifest = (saved / store.MANIFEST).read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(saved)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], WAIT)
        assert ready and holder.stdout.readline() == "locked\n"
        with pytest.raises(IndexBusyError, match="another askidcpc process is writing"):
            store.build_saved_index(saved, documents("refused"))
        assert (saved / store.MANIFEST).read_bytes() == manifest
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        assert holder.wait(WAIT) == -signal.SIGKILL
        if holder.stdout is not None:
            holder.stdout.close()
    assert _atomic.lock_path(saved).exists()  # killed: nothing removed the file, but the kernel dropped its lock
    store.build_saved_index(saved, documents("after"))
    assert [d.doc_id for d in store.load_index(saved).documents] == [d.doc_id for d in documents("after")]
    assert sorted(p.name for p in saved.parent.iterdir()) == ["index"]
