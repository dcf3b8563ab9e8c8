"""Replace a folder atomically, and one writer at a time.

:func:`swap_into_place` makes a fully written and fsynced folder take the place of another in one step (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames, and a crash between them leaves the old folder at a
``.NAME.old-PID`` path that :func:`backups` finds). :func:`locked` holds an ``flock`` on the parent folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from askidcpc.errors import IndexBusyError

__all__ = ["backups", "exchange", "fsync_dir", "locked", "swap_into_place"]

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
    """Make ``built`` the folder at ``target``, atomically, and remove what was there."""
    if not target.exists():
        os.rename(built, target)
    elif exchange(built, target):
        shutil.rmtree(built)  # it now holds the old index
    else:
        # No atomic exchange here: two renames. A crash between them leaves the old index at the backup path,
        # which load_index names in its error message.
        backup = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, backup)
        os.rename(built, target)
        shutil.rmtree(backup)
    fsync_dir(target.parent)


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the write lock of the folder that holds the index (``flock`` on the folder itself, so no lock file is
    left behind); IndexBusyError when another writer has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock; writes are still atomic
        yield
        return
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another askidcpc process is writing an index in {target.parent}; try again when it is done"
            ) from None
        # A writer killed mid-write leaves its temporary folder; nobody else can be using it while we hold the lock.
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            log.info("removing %s, left by an interrupted write", stale)
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)  # releases the lock
