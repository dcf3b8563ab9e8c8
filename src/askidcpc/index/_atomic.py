"""Replace a folder atomically, and one writer at a time.

:func:`swap_into_place` makes a fully written and fsynced folder take the place of another in one step (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames, and a crash between them leaves the old folder at a
``.NAME.old-PID`` path that :func:`backups` finds). :func:`locked` holds the write lock of one index: an ``flock``
on ``.NAME.lock`` beside it (outside the index folder, so a swap does not move it; per index, so writers of two
indexes in one folder do not wait for each other; an ``flock``, so the kernel drops it when its holder dies).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from askidcpc.errors import AskError, IndexBusyError

__all__ = ["backups", "exchange", "fsync_dir", "lock_path", "locked", "swap_into_place"]

log = logging.getLogger(__name__)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.old-*"))


def swap_into_place(built: Path, target: Path) -> None:
    """Make ``built`` the folder at ``target``, atomically, and remove what was there.

    An OSError raised here means ``target`` is as it was (the old index, or nothing); once ``built`` is in place,
    failing to remove the old folder or to flush the parent folder is logged, not raised: the new index is there.
    """
    if not target.exists():
        os.rename(built, target)
        old = None
    elif exchange(built, target):
        old = built  # it now holds the old index
    else:
        # No atomic exchange here: two renames. A crash between them leaves the old index at the backup path,
        # which load_index names in its error message.
        backup = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, backup)
        try:
            os.rename(built, target)
        except OSError:
            os.rename(backup, target)  # put the old index back; if even that fails, load_index names the backup
            raise
        old = backup
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        if old.exists():
            log.warning("could not remove %s after replacing the index; remove it by hand", old)
    try:
        fsync_dir(target.parent)
    except OSError as exc:
        log.warning("wrote %s, but could not flush its folder to disk (%s)", target, exc.strerror or exc)


def lock_path(target: Path) -> Path:
    """The lock file of the index at ``target``: ``.NAME.lock`` in the folder that holds it."""
    return target.parent / f".{target.name}.lock"


def _stale_temporaries(target: Path) -> list[Path]:
    """The temporary folders a killed writer of ``target`` left (``.NAME.tmp-XXXXXXXX``; the random part never holds
    a dot, so those of another index whose name starts with ``NAME.tmp-`` are not among them)."""
    prefix = f".{target.name}.tmp-"
    return [
        path
        for path in target.parent.glob(f"{glob.escape(prefix)}*")
        if path.name.startswith(prefix) and "." not in path.name[len(prefix) :]
    ]


def _open_lock(target: Path) -> int:
    """Open (creating it if needed) the lock file of ``target`` and take its ``flock`` without waiting."""
    import fcntl

    path = lock_path(target)
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise AskError(f"cannot write the index {target}: cannot create its lock file {path} ({exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexBusyError(
                f"another askidcpc process is writing the index {target}; try again when it is done"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # The holder before us removes the file before it lets go; if it did so between our open and our flock, we
        # hold a lock on a file nobody else will open: open the path again.
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the write lock of the index at ``target`` (an ``flock`` on :func:`lock_path`, removed again on release;
    one a killed writer leaves behind is free, as the kernel dropped its lock); IndexBusyError at once when another
    writer holds it. Writers of other indexes in the same folder are not affected."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # not POSIX: no lock; writes are still atomic
        yield
        return
    fd = _open_lock(target)
    try:
        # A writer killed mid-write leaves its temporary folder; nobody else can be using it while we hold the lock.
        for stale in _stale_temporaries(target):
            log.info("removing %s, left by an interrupted write", stale)
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        # Removed while still held, so that a writer that opens the path from now on gets a new file and a free lock.
        with contextlib.suppress(OSError):
            os.unlink(lock_path(target))
        os.close(fd)  # releases the lock
