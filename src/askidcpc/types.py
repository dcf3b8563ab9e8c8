"""The values that flow through askidcpc: Document → Passage → Hit → Citation → Answer.

All are frozen dataclasses. Offsets are half-open ``[start, end)`` into :attr:`Document.text`, in Python characters,
so ``document.text[passage.start:passage.end] == passage.text`` always holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Citation", "Document", "Hit", "Passage", "ShortAnswer"]


@dataclass(frozen=True)
class Document:
    """One article: its metadata and its body text, which citations index into."""

    doc_id: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    author: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def metadata(self) -> dict[str, Any]:
        """The document's metadata as a JSON-ready dict (no text)."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "author": self.author,
            "url": self.url,
            "chars": len(self.text),
        }


@dataclass(frozen=True)
class Passage:
    """One sentence of a document. ``pid`` is its position in the index; neighbours are pids in the same document.
    ``paragraph``: the number of its paragraph in the index (the passages of a paragraph are consecutive and share
    it; a document's first passage and one after a line break start a new one), None when not known."""

    pid: int
    doc_id: str
    start: int
    end: int
    text: str
    prev_pid: int | None = None
    next_pid: int | None = None
    paragraph: int | None = None


@dataclass(frozen=True)
class Hit:
    """A passage with its retrieval score for one query."""

    passage: Passage
    score: float


@dataclass(frozen=True)
class Citation:
    """Where an answer sentence comes from, per CONTRACT.md."""

    doc_id: str
    title: str
    date: str | None
    source: str | None
    sentence: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The phrase of the first cited answer sentence that answers the question: ``text == document.text[start:end]``,
    inside that citation's ``[start, end)``."""

    text: str
    doc_id: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "doc_id": self.doc_id, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    """The answer object. ``answer`` is ``None`` when the corpus does not answer the question; ``short_answer`` is
    ``None`` then too, and when no phrase of the answer sentence can be singled out."""

    question: str
    answer: str | None
    confidence: float
    citations: tuple[Citation, ...]
    short_answer: ShortAnswer | None = None

    @property
    def abstained(self) -> bool:
        return self.answer is None

    def to_dict(self) -> dict[str, Any]:
        """The CONTRACT.md answer object, ready for ``json.dumps``."""
        return {
            "question": self.question,
            "answer": self.answer,
            "confidence": round(self.confidence, 4),
            "citations": [citation.to_dict() for citation in self.citations],
            "short_answer": None if self.short_answer is None else self.short_answer.to_dict(),
        }
