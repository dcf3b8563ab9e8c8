"""Ingest articles for indexing: folders and files of ``.md``, ``.txt``, ``.html`` and ``.jsonl``.

- ``.md`` and ``.txt``: as :func:`askidcpc.corpus.read_document` reads them (front matter; scraped-text cleaning).
- ``.html``/``.htm``: the main text, without navigation, footers and other page boilerplate, and the title, date,
  author, site name and canonical URL from the page's metadata, extracted by trafilatura. ``doc_id`` is the file
  name without its suffix.
- ``.jsonl``: one document a line, a JSON object with ``id`` and ``text`` and optionally ``title``, ``date``,
  ``source``, ``url`` (and ``author``); other fields are kept as extra metadata. A bad line is reported and skipped.

Documents with the same text (by :func:`~askidcpc.corpus.content_hash`) are kept once; a second document with a
doc_id already taken is skipped. Nothing here prints: :func:`ingest` returns what it read and what it skipped, and
an edge reports it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from askidcpc.corpus import MAX_FILE_BYTES, content_hash, read_document
from askidcpc.errors import CorpusError, DocumentError
from askidcpc.types import Document

__all__ = [
    "HTML_SUFFIXES",
    "INGEST_SUFFIXES",
    "Duplicate",
    "IngestResult",
    "find_sources",
    "ingest",
    "parse_html",
    "read_html",
    "read_jsonl",
    "read_source",
]

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm")
INGEST_SUFFIXES = (".md", ".txt", *HTML_SUFFIXES, ".jsonl")
# Fewer words than this is a page of links or a stub (trafilatura returns "Home" for a menu-only page), not an article.
MIN_HTML_WORDS = 5
_JSONL_FIELDS = {"id", "text", "title", "date", "source", "url", "author"}


@dataclass(frozen=True)
class Duplicate:
    """A document left out because another with the same text was kept."""

    doc_id: str
    origin: str
    kept: str


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest` read: the documents to index, in source order, and what it left out and why."""

    documents: tuple[Document, ...]
    skipped: tuple[DocumentError, ...]
    duplicates: tuple[Duplicate, ...]
    files: int


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(path, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc


def _clean(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None


def parse_html(doc_id: str, html: str | bytes) -> Document:
    """A document from an HTML page: its main text and metadata. Raises DocumentError when no article text is found."""
    import trafilatura  # imported here: it takes about a second, and only HTML needs it

    extracted = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        # Dates from the page's own metadata, not guessed from its text.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if extracted is None or isinstance(extracted, dict):
        raise DocumentError(doc_id, "no article text found in the page")
    text = (extracted.text or "").strip()
    title = _clean(extracted.title)
    lines = text.split("\n")
    if title and lines and lines[0].strip() == title:  # the headline is metadata, not a sentence of the article
        text = "\n".join(lines[1:]).strip()
    if len(text.split()) < MIN_HTML_WORDS:
        raise DocumentError(doc_id, f"no article text found in the page (only {len(text.split())} words)")
    return Document(
        doc_id=doc_id,
        title=title or doc_id,
        text=text,
        date=_clean(extracted.date),
        source=_clean(extracted.sitename),
        author=_clean(extracted.author),
        url=_clean(extracted.url),
        extra={"description": extracted.description} if extracted.description else {},
    )


def read_html(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read one HTML page. Raises DocumentError naming the file when it cannot be used."""
    data = _read_bytes(path, max_bytes)
    if not data.strip():
        raise DocumentError(path, "is empty")
    try:
        return parse_html(path.stem, data)  # bytes: trafilatura detects the page's encoding
    except DocumentError as exc:
        raise DocumentError(path, exc.reason) from exc


def _jsonl_document(record: Any) -> Document:
    if not isinstance(record, dict):
        raise ValueError("is not a JSON object")
    doc_id = record.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or not str(doc_id).strip():
        raise ValueError("needs an 'id' (a non-empty string or a number)")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("needs a non-empty 'text' string")
    for name in ("title", "date", "source", "url", "author"):
        if record.get(name) is not None and not isinstance(record[name], str | int | float):
            raise ValueError(f"field {name!r} must be a string")
    return Document(
        doc_id=str(doc_id).strip(),
        title=_clean(record.get("title")) or str(doc_id).strip(),
        text=text.replace("\r\n", "\n").replace("\r", "\n").strip(),
        date=_clean(record.get("date")),
        source=_clean(record.get("source")),
        author=_clean(record.get("author")),
        url=_clean(record.get("url")),
        extra={key: value for key, value in record.items() if key not in _JSONL_FIELDS},
    )


def read_jsonl(path: Path) -> Iterator[Document | DocumentError]:
    """The documents of a JSON Lines file, one a line, read as a stream (an archive can be large); a bad line
    yields a DocumentError naming ``file:line``. Raises DocumentError when the file itself cannot be opened.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as exc:
        raise DocumentError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                yield _jsonl_document(json.loads(raw.decode("utf-8")))
            except UnicodeDecodeError as exc:
                yield DocumentError(where, f"is not UTF-8 text (bad byte at offset {exc.start} of the line)")
            except json.JSONDecodeError as exc:
                yield DocumentError(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
            except ValueError as exc:
                yield DocumentError(where, str(exc))


def read_source(path: Path) -> Iterator[Document | DocumentError]:
    """The documents in one file, by its suffix; what cannot be used comes as a DocumentError."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            yield from read_jsonl(path)
        elif suffix in HTML_SUFFIXES:
            yield read_html(path)
        elif suffix in (".md", ".txt"):
            yield read_document(path)
        else:
            yield DocumentError(path, f"unsupported file type {suffix or '(none)'}; use {', '.join(INGEST_SUFFIXES)}")
    except DocumentError as exc:
        yield exc


def find_sources(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError]]:
    """The files to read under ``paths`` (folders searched recursively, hidden entries and symlinks that leave the
    folder left out), in order, and the paths that could not be used."""
    files: list[Path] = []
    problems: list[DocumentError] = []
    for root in paths:
        if not root.exists():
            problems.append(DocumentError(root, "not found"))
        elif root.is_file():
            files.append(root)
        else:
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if path.suffix.lower() not in INGEST_SUFFIXES or any(p.startswith(".") for p in relative.parts):
                    continue
                if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
                    problems.append(DocumentError(path, "symlink points outside the folder; not followed"))
                elif path.is_file():
                    files.append(path)
    return files, problems


def ingest(paths: Sequence[Path], on_file: Callable[[Path, int], None] | None = None) -> IngestResult:
    """Read every article under ``paths``; ``on_file(file, total_files)`` is called after each file (progress).

    Raises CorpusError when no document at all could be read.
    """
    files, skipped = find_sources(paths)
    documents: list[Document] = []
    duplicates: list[Duplicate] = []
    by_hash: dict[str, str] = {}
    doc_ids: set[str] = set()
    for file in files:
        for item in read_source(file):
            if isinstance(item, DocumentError):
                skipped.append(item)
                continue
            digest = content_hash(item.text)
            if digest in by_hash:
                duplicates.append(Duplicate(item.doc_id, str(file), by_hash[digest]))
            elif item.doc_id in doc_ids:
                skipped.append(DocumentError(file, f"doc_id {item.doc_id!r} is already taken by another document"))
            else:
                by_hash[digest] = item.doc_id
                doc_ids.add(item.doc_id)
                documents.append(item)
        if on_file is not None:
            on_file(file, len(files))
    if not documents:
        reasons = "; ".join(str(error) for error in skipped[:3])
        detail = f" ({reasons})" if reasons else f" (no {', '.join(INGEST_SUFFIXES)} files found)"
        raise CorpusError(f"no readable documents in {', '.join(map(str, paths))}{detail}")
    return IngestResult(tuple(documents), tuple(skipped), tuple(duplicates), len(files))
