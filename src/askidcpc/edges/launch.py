"""The ``askidcpc`` command's entry point: :func:`askidcpc.edges.cli.main`, reached through a light module so that a
Ctrl-C while the command's modules are still importing (numpy, the index, the reader: the first few tenths of a
second) ends it with the same one line as a Ctrl-C later on, not with Python's traceback."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

__all__ = ["interrupted", "main"]


def interrupted() -> int:
    """Tell the user the command was interrupted and return status 130, ignoring any further Ctrl-C: the command
    is on its way out, and a Ctrl-C while the interpreter exits (after Python has put back the signal's default
    action) would otherwise end the process by the signal itself, not with 130."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("askidcpc: interrupted", file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """:func:`askidcpc.edges.cli.main` (status 130 and one line on Ctrl-C, at any moment)."""
    try:
        from askidcpc.edges.cli import main as run
    except KeyboardInterrupt:
        return interrupted()
    return run(argv)
