"""Read one file into documents, by its format: ``.md`` (YAML front matter), ``.txt`` (scraped article text, cleaned),
``.html``/``.htm`` (main text and metadata extracted by trafilatura) and ``.jsonl`` (one document a line).

Raw text is cleaned with the rules that fit scraped news pages: a first line that looks like a headline becomes the
title (and its repetition further down is dropped), ``Updated: ...`` becomes the date, a ``By NAME(Source)`` byline
becomes author and source, the share-button line is dropped, and a photo caption (a paragraph ending in a bracketed
``[By ...]`` credit) is kept as metadata, not as article prose: it describes a picture the reader cannot see here.

HTML: the main text, without navigation, footers and other page boilerplate, and the title, date, author, site name
and canonical URL from the page's metadata. ``doc_id`` is the file name without its suffix.

JSON Lines: a JSON object a line with ``id`` and ``text`` and optionally ``title``, ``date``, ``source``, ``url``
(and ``author``); other fields are kept as extra metadata. A bad line is reported and skipped.

What cannot be used is a :class:`~askidcpc.errors.DocumentError` naming the file (and line).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from askidcpc.errors import DocumentError
from askidcpc.types import Document

__all__ = [
    "HTML_SUFFIXES",
    "MAX_FILE_BYTES",
    "SUFFIXES",
    "content_hash",
    "parse_html",
    "parse_markdown",
    "parse_text",
    "read_document",
    "read_html",
    "read_jsonl",
    "read_source",
    "unsupported_type",
]

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm")
# Every format askidcpc reads, whichever command reads it.
SUFFIXES = (".md", ".txt", *HTML_SUFFIXES, ".jsonl")
MAX_FILE_BYTES = 50 * 1024 * 1024
# Fewer words than this is a page of links or a stub (trafilatura returns "Home" for a menu-only page), not an article.
MIN_HTML_WORDS = 5
_JSONL_FIELDS = {"id", "text", "title", "date", "source", "url", "author"}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_UPDATED = re.compile(r"^\s*Updated:\s*(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2}))?\s*$")
_BYLINE = re.compile(r"^\s*By\s+(?P<author>[^()\n]+?)\s*(?:\((?P<source>[^()\n]+)\))?\s*$")
_SHARE = re.compile(r"^\s*(?:Print\s+Mail\b|Share\b|分享).*$", re.IGNORECASE)
_CREDIT = re.compile(r"\s*\[By\s+(?P<credit>[^\]]+)\]\s*$")


def content_hash(text: str) -> str:
    """The SHA-256 of a document's text (UTF-8), hex: what makes two documents duplicates and citations checkable."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _iso_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None


def _looks_like_title(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 150 and line[-1] not in '.!?"”’:;,' and len(line.split()) <= 20


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(doc_id: str, raw: str) -> Document:
    """A document from raw scraped article text, cleaned of page boilerplate."""
    lines = _normalize_newlines(raw).lstrip("\ufeff").split("\n")
    meta: dict[str, Any] = {}
    title: str | None = None
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and _looks_like_title(lines[first]):
        title = lines[first].strip()
        lines[first] = ""
    body: list[str] = []
    for line in lines:
        stripped = line.strip()
        if (updated := _UPDATED.match(line)) and "date" not in meta:
            meta["date"] = updated.group(1)
            if updated.group(2):
                meta["updated"] = f"{updated.group(1)} {updated.group(2)}"
        elif (byline := _BYLINE.match(line)) and "author" not in meta and not any(body):
            meta["author"] = byline.group("author").strip().title()
            if byline.group("source"):
                meta["source"] = byline.group("source").strip()
        elif _SHARE.match(line) or (title is not None and stripped == title):
            continue
        elif (credit := _CREDIT.search(line)) and "photo_caption" not in meta:
            meta["photo_caption"] = line[: credit.start()].strip()
            meta["photo_credit"] = credit.group("credit").strip()
        else:
            body.append(line)
    text = "\n".join(body).strip()
    return Document(
        doc_id=doc_id,
        title=title or doc_id,
        text=re.sub(r"\n{3,}", "\n\n", text),
        date=meta.pop("date", None),
        source=meta.pop("source", None),
        author=meta.pop("author", None),
        extra=meta,
    )


def parse_markdown(doc_id: str, raw: str) -> Document:
    """A document from Markdown with an optional YAML front-matter block (title, date, source, author, url)."""
    raw = _normalize_newlines(raw).lstrip("\ufeff")
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(raw)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise DocumentError(doc_id, f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise DocumentError(doc_id, "front matter must be a YAML mapping of field: value")
        meta = dict(loaded or {})
        raw = raw[match.end() :]
    elif raw.startswith("---\n"):
        raise DocumentError(doc_id, "front matter opened with '---' but never closed")
    text = raw.strip()
    known = {"title", "date", "source", "author", "url"}
    return Document(
        doc_id=doc_id,
        title=_text_or_none(meta.get("title")) or doc_id,
        text=text,
        date=_iso_date(meta.get("date")),
        source=_text_or_none(meta.get("source")),
        author=_text_or_none(meta.get("author")),
        url=_text_or_none(meta.get("url")),
        extra={key: value for key, value in meta.items() if key not in known},
    )


def read_document(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read one ``.md`` or ``.txt`` file. Raises DocumentError naming the file when it cannot be used."""
    data = _read_bytes(path, max_bytes)
    if b"\x00" in data:
        raise DocumentError(path, "looks like a binary file (contains NUL bytes), not text")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(path, f"is not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8") from exc
    parse = parse_markdown if path.suffix.lower() == ".md" else parse_text
    try:
        document = parse(path.stem, raw)
    except DocumentError as exc:
        raise DocumentError(path, exc.reason) from exc
    if not document.text.strip():
        raise DocumentError(path, "has no article text")
    return document


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(path, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc


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
    title = _text_or_none(extracted.title)
    lines = text.split("\n")
    if title and lines and lines[0].strip() == title:  # the headline is metadata, not a sentence of the article
        text = "\n".join(lines[1:]).strip()
    if len(text.split()) < MIN_HTML_WORDS:
        words = len(text.split())
        raise DocumentError(doc_id, f"no article text found in the page (only {words} word{'' if words == 1 else 's'})")
    return Document(
        doc_id=doc_id,
        title=title or doc_id,
        text=text,
        date=_text_or_none(extracted.date),
        source=_text_or_none(extracted.sitename),
        author=_text_or_none(extracted.author),
        url=_text_or_none(extracted.url),
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
        title=_text_or_none(record.get("title")) or str(doc_id).strip(),
        text=text.replace("\r\n", "\n").replace("\r", "\n").strip(),
        date=_text_or_none(record.get("date")),
        source=_text_or_none(record.get("source")),
        author=_text_or_none(record.get("author")),
        url=_text_or_none(record.get("url")),
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
            except RecursionError:
                yield DocumentError(where, "invalid JSON (nested too deeply)")
            except ValueError as exc:
                yield DocumentError(where, str(exc))


def unsupported_type(path: Path) -> str:
    """Why a file of a type askidcpc does not read is not used."""
    return f"unsupported file type {path.suffix.lower() or '(no suffix)'}; askidcpc reads {', '.join(SUFFIXES)}"


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
            yield DocumentError(path, unsupported_type(path))
    except DocumentError as exc:
        yield exc
