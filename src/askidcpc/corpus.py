"""Load documents: a folder of ``.md`` files with YAML front matter and ``.txt`` files of raw article text.

Raw text is cleaned with the rules that fit scraped news pages: a first line that looks like a headline becomes the
title (and its repetition further down is dropped), ``Updated: ...`` becomes the date, a ``By NAME(Source)`` byline
becomes author and source, the share-button line is dropped, and a photo caption (a paragraph ending in a bracketed
``[By ...]`` credit) is kept as metadata, not as article prose: it describes a picture the reader cannot see here.

A file that cannot be read is reported (:class:`~askidcpc.errors.DocumentError`) and skipped; an empty result is a
:class:`~askidcpc.errors.CorpusError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from askidcpc.errors import CorpusError, DocumentError
from askidcpc.types import Document

__all__ = ["SUFFIXES", "LoadResult", "content_hash", "load_corpus", "parse_markdown", "parse_text", "read_document"]

log = logging.getLogger(__name__)

SUFFIXES = (".md", ".txt")
MAX_FILE_BYTES = 50 * 1024 * 1024

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_UPDATED = re.compile(r"^\s*Updated:\s*(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2}))?\s*$")
_BYLINE = re.compile(r"^\s*By\s+(?P<author>[^()\n]+?)\s*(?:\((?P<source>[^()\n]+)\))?\s*$")
_SHARE = re.compile(r"^\s*(?:Print\s+Mail\b|Share\b|分享).*$", re.IGNORECASE)
_CREDIT = re.compile(r"\s*\[By\s+(?P<credit>[^\]]+)\]\s*$")


@dataclass(frozen=True)
class LoadResult:
    """Documents that loaded, in file-name order, and the files that were skipped with the reason."""

    documents: tuple[Document, ...]
    skipped: tuple[DocumentError, ...]


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
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(path, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
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


def _candidate_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            log.warning("%s: symlink points outside the corpus folder; not followed", path)
            continue
        if path.is_file():
            yield path


def load_corpus(path: Path, max_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Load every ``.md``/``.txt`` document under ``path`` (a folder, searched recursively, or one file).

    Raises CorpusError when the path does not exist or no document could be loaded; files that fail are skipped,
    logged, and listed in ``LoadResult.skipped``.
    """
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} (give a folder of .md/.txt articles or a saved index)")
    files = [path] if path.is_file() else list(_candidate_files(path))
    documents: list[Document] = []
    skipped: list[DocumentError] = []
    seen: set[str] = set()
    for file in files:
        try:
            document = read_document(file, max_bytes)
            if document.doc_id in seen:
                raise DocumentError(file, f"duplicate doc_id {document.doc_id!r} (another file has the same name)")
        except DocumentError as exc:
            log.warning("skipped %s", exc)
            skipped.append(exc)
            continue
        seen.add(document.doc_id)
        documents.append(document)
    if not documents:
        reasons = "; ".join(str(error) for error in skipped[:3])
        detail = f" ({reasons})" if reasons else f" (no {'/'.join(SUFFIXES)} files found)"
        raise CorpusError(f"no readable documents in {path}{detail}")
    return LoadResult(tuple(documents), tuple(skipped))
