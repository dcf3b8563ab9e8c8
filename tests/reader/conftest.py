"""Helpers shared by the reader tests."""

from __future__ import annotations

from askidcpc.types import Hit, Passage


def _hit(text: str, score: float, pid: int = 0) -> Hit:
    return Hit(Passage(pid, "d", 0, len(text), text), score)
