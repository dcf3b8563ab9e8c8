"""The ``askidcpc`` command's entry point: :func:`askidcpc.edges.cli.main`, reached through a light module so that a
Ctrl-C while the command's modules are still importing (numpy, the index, the reader: the first few tenths of a
second) ends it with the same one line as a Ctrl-C later on, not with Python's traceback."""

from __future__ import annotations

from collections.abc import Sequence

from askidcpc.edges.interrupt import interrupted

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """:func:`askidcpc.edges.cli.main` (status 130 and one line on Ctrl-C, at any moment)."""
    try:
        from askidcpc.edges.cli import main as run
    except KeyboardInterrupt:
        return interrupted()
    return run(argv)
