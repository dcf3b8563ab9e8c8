"""How a command ends on Ctrl-C: one line and status 130, at any moment (used by :mod:`askidcpc.edges.launch` while
the command's modules import, and by :func:`askidcpc.edges.cli.main` afterwards). Imports nothing heavy."""

from __future__ import annotations

import signal
import sys
import threading

__all__ = ["interrupted"]


def interrupted() -> int:
    """Tell the user the command was interrupted and return status 130, ignoring any further Ctrl-C: the command
    is on its way out, and a Ctrl-C while the interpreter exits (after Python has put back the signal's default
    action) would otherwise end the process by the signal itself, not with 130."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("askidcpc: interrupted", file=sys.stderr)
    return 130
