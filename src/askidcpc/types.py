"""The values that flow through askidcpc: Document → Passage → Hit → Citation → Answer.

All are frozen dataclasses. Offsets are half-open ``[start, end)`` into :attr:`Document.text`, in Python characters,
so ``document.text[passage.start:passage.end] == passage.text`` always holds.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from askidcpc.errors import QuestionError

__all__ = ["Answer", "Citation", "Document", "Filter", "Hit", "Passage", "ShortAnswer", "date_span"]


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
    ``None`` then too, and when no phrase of the answer sentence can be singled out. ``read_as``: the question as it
    was read, when that differs from ``question`` (a mistyped word read as the word of the articles it most likely
    means); ``None`` when it was read as asked."""

    question: str
    answer: str | None
    confidence: float
    citations: tuple[Citation, ...]
    short_answer: ShortAnswer | None = None
    read_as: str | None = None

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
            "read_as": self.read_as,
        }


# A filter names at most this many documents or sources (a request stays small).
MAX_FILTER_VALUES = 100
MAX_FILTER_CHARS = 200
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def date_span(date: str | None) -> tuple[str, str] | None:
    """The days an ISO 8601 date as exact as an article gives it covers, as ``(first, last)`` ``YYYY-MM-DD``
    strings: "2007" covers 2007-01-01 to 2007-12-31, "2016-06" all of June, "2016-06-26 23:19" that day. None for
    no date or one that is not ISO 8601."""
    if not date:
        return None
    found = _ISO_DATE.match(date.strip())
    if found is None:
        return None
    year, month, day = found.groups()
    if month is not None and not 1 <= int(month) <= 12:
        return None
    if day is not None and not 1 <= int(day) <= _DAYS[int(month) - 1]:
        return None
    if day is not None:
        return (f"{year}-{month}-{day}",) * 2
    if month is not None:
        return f"{year}-{month}-01", f"{year}-{month}-{_DAYS[int(month) - 1]}"
    return f"{year}-01-01", f"{year}-12-31"


def _filter_date(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise QuestionError(f"{name} must be an ISO date such as 2007, 2016-06 or 2016-06-26")
    trimmed = value.strip()
    if not trimmed:
        return None
    if _ISO_DATE.fullmatch(trimmed) is None or date_span(trimmed) is None:
        raise QuestionError(f"{name} must be an ISO date such as 2007, 2016-06 or 2016-06-26, not {trimmed[:40]!r}")
    return trimmed


def _filter_values(name: str, values: str | Iterable[str] | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    listed = [values] if isinstance(values, str) else list(values)
    if len(listed) > MAX_FILTER_VALUES or not all(isinstance(value, str) for value in listed):
        raise QuestionError(f"{name} must be a string or a list of at most {MAX_FILTER_VALUES} strings")
    if any(not value.strip() for value in listed):
        raise QuestionError(f"{name} must not be empty; name a {'document' if name == 'doc_id' else name}")
    trimmed = frozenset(value.strip() for value in listed)
    if any(len(value) > MAX_FILTER_CHARS for value in trimmed):
        raise QuestionError(f"each {name} must be at most {MAX_FILTER_CHARS} characters")
    return trimmed


@dataclass(frozen=True)
class Filter:
    """Which documents a question or search may cite: any of ``doc_ids`` (exact), any of ``sources`` (compared
    without regard to case), and dated within ``since`` … ``until`` (ISO dates as exact as wanted; a document's
    date counts as the whole span it covers, so an article dated "2007" is in ``since=2007-06``; an undated one is
    in no date range). An empty part does not restrict. Build one with :meth:`build` or :meth:`parse`, which
    validate (QuestionError)."""

    doc_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    since: str | None = None
    until: str | None = None

    @classmethod
    def build(
        cls,
        doc_ids: str | Iterable[str] | None = None,
        sources: str | Iterable[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Filter:
        """A validated filter: the one place the CLI, the chat and HTTP turn what a user gave into a filter."""
        built = cls(
            _filter_values("doc_id", doc_ids),
            frozenset(source.casefold() for source in _filter_values("source", sources)),
            _filter_date("since", since),
            _filter_date("until", until),
        )
        first, last = date_span(built.since), date_span(built.until)
        if first is not None and last is not None and first[0] > last[1]:
            raise QuestionError(f"since {built.since} is after until {built.until}: no date is in that range")
        return built

    @classmethod
    def parse(cls, text: str) -> Filter:
        """A filter from words such as ``doc=ID source="China Daily" since=2016 until=2016-12`` (a key may repeat;
        ``doc=A,B`` names two documents)."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise QuestionError(f"cannot read the filter: {exc}") from None
        parts: dict[str, list[str]] = {"doc": [], "source": [], "since": [], "until": []}
        for word in words:
            key, equals, value = word.partition("=")
            if not equals or key not in parts:
                raise QuestionError(f"unknown filter {word!r}; use doc=ID source=NAME since=DATE until=DATE, or off")
            parts[key].extend(value.split(",") if key == "doc" else [value])
        for key in ("since", "until"):
            if len(parts[key]) > 1:
                raise QuestionError(f"{key} is given {len(parts[key])} times; give it once")
        return cls.build(
            parts["doc"], parts["source"], next(iter(parts["since"]), None), next(iter(parts["until"]), None)
        )

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.sources or self.since or self.until)

    def matches(self, document: Document) -> bool:
        """Whether ``document`` passes every part of the filter."""
        if self.doc_ids and document.doc_id not in self.doc_ids:
            return False
        if self.sources and (document.source or "").strip().casefold() not in self.sources:
            return False
        if self.since is None and self.until is None:
            return True
        span = date_span(document.date)
        if span is None:
            return False
        since, until = date_span(self.since), date_span(self.until)
        return (since is None or span[1] >= since[0]) and (until is None or span[0] <= until[1])

    def describe(self) -> str:
        """The filter in :meth:`parse`'s words (sources in lower case), e.g. ``doc=a source="china daily"
        since=2016``; empty when it does not restrict."""
        words = [f"doc={shlex.quote(doc_id)}" for doc_id in sorted(self.doc_ids)]
        words += [f"source={shlex.quote(source)}" for source in sorted(self.sources)]
        words += [f"{key}={value}" for key, value in (("since", self.since), ("until", self.until)) if value]
        return " ".join(words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": sorted(self.doc_ids),
            "source": sorted(self.sources),
            "since": self.since,
            "until": self.until,
        }
