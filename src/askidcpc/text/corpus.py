"""The one corpus loader: every article under the given folders and files, in every supported format
(:mod:`askidcpc.text.formats`), with the same skip rules whichever command reads them (``ask --corpus``, ``chat``,
``serve`` and ``index``).

Folders are searched recursively; hidden entries are left out, and every other file that is not used is reported
with why (a type askidcpc does not read, a symlink that leaves the folder, and whatever :func:`read_source` cannot
read). Documents with the same text (by :func:`~askidcpc.text.formats.content_hash`) are kept once, under the name
:func:`keeps_name` prefers (never a "copy of" when the original is there); a document whose doc_id another kept
document already has is skipped. Nothing here prints: :func:`ingest` returns what it read and what it skipped, and
an edge reports it. An empty result is a :class:`~askidcpc.errors.CorpusError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from askidcpc.errors import CorpusError, DocumentError
from askidcpc.text.formats import SUFFIXES, content_hash, read_source, unsupported_type
from askidcpc.types import Document

__all__ = ["Duplicate", "IngestResult", "find_sources", "ingest", "keeps_name", "load_corpus"]

log = logging.getLogger(__name__)

# A name that marks a file as a copy of another: "copy" as a word ("copy-of-warsaw", "Warsaw - Copy", "warsaw_copy2")
# or a trailing number in brackets ("warsaw (1)"), as file managers and browsers name copies.
_COPY_NAME = re.compile(r"(?<![a-z])copy(?![a-z])|\(\d+\)\s*$", re.IGNORECASE)


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


def find_sources(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError]]:
    """The files to read under ``paths`` (folders searched recursively, hidden entries left out), in order, and the
    paths that cannot be used, with why: not found, a type askidcpc does not read, a symlink that leaves the folder."""
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
                if any(p.startswith(".") for p in relative.parts) or path.is_dir():
                    continue
                if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
                    problems.append(DocumentError(path, "symlink points outside the folder; not followed"))
                elif path.suffix.lower() not in SUFFIXES:
                    problems.append(DocumentError(path, unsupported_type(path)))
                elif path.is_file():
                    files.append(path)
    return files, problems


def keeps_name(doc_ids: Sequence[str]) -> list[int]:
    """Of documents with the same text (``doc_ids`` in the order they were read), their positions in the order one
    is chosen to be indexed: first the names that do not mark a copy ("copy" as a word, or a trailing "(1)"), then
    the shortest name, then the first read. So ``warsaw`` is kept over ``copy-of-warsaw``, ``warsaw (1)`` and
    ``warsaw-2``; the next one is chosen only when the first one's doc_id is taken by another text."""
    return sorted(range(len(doc_ids)), key=lambda i: (bool(_COPY_NAME.search(doc_ids[i])), len(doc_ids[i]), i))


def ingest(paths: Sequence[Path], on_file: Callable[[Path, int], None] | None = None) -> IngestResult:
    """Read every article under ``paths``; ``on_file(file, total_files)`` is called after each file (progress).

    Of documents with the same text, the one :func:`keeps_name` prefers is kept (the others are ``duplicates``),
    unless another text read earlier has its doc_id; documents are kept in the order read.
    Raises CorpusError when no document at all could be read.
    """
    files, skipped = find_sources(paths)
    read: list[tuple[Document, Path]] = []
    by_hash: dict[str, list[int]] = {}
    for file in files:
        for item in read_source(file):
            if isinstance(item, DocumentError):
                skipped.append(item)
                continue
            by_hash.setdefault(content_hash(item.text), []).append(len(read))
            read.append((item, file))
        if on_file is not None:
            on_file(file, len(files))
    # Each text's documents in order of preference; the first whose doc_id is free is kept (texts taken in the
    # order they were first read, so of two different texts under one doc_id the one read first keeps it).
    kept: set[int] = set()
    doc_ids: set[str] = set()
    dropped: list[tuple[int, DocumentError | Duplicate]] = []
    for same in by_hash.values():
        order = keeps_name([read[i][0].doc_id for i in same])
        winner = next((same[j] for j in order if read[same[j]][0].doc_id not in doc_ids), None)
        for i in same:
            document, file = read[i]
            if i == winner:
                kept.add(i)
                doc_ids.add(document.doc_id)
            elif winner is not None:
                dropped.append((i, Duplicate(document.doc_id, str(file), read[winner][0].doc_id)))
            else:
                reason = f"doc_id {document.doc_id!r} is already taken by another document"
                dropped.append((i, DocumentError(file, reason)))
    documents = [read[i][0] for i in sorted(kept)]
    dropped.sort(key=lambda item: item[0])
    duplicates = [item for _, item in dropped if isinstance(item, Duplicate)]
    skipped.extend(item for _, item in dropped if isinstance(item, DocumentError))
    if not documents:
        reasons = "; ".join(str(error) for error in skipped[:3])
        detail = f" ({reasons})" if reasons else f" (no {', '.join(SUFFIXES)} files found)"
        raise CorpusError(f"no readable documents in {', '.join(map(str, paths))}{detail}")
    return IngestResult(tuple(documents), tuple(skipped), tuple(duplicates), len(files))


def load_corpus(path: Path) -> IngestResult:
    """Every document under ``path`` (a folder, searched recursively, or one file), as :func:`ingest` reads them.

    Raises CorpusError when the path does not exist or no document could be loaded; files that fail are skipped,
    logged, and listed in ``IngestResult.skipped``.
    """
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} (give a folder of articles or a saved index)")
    result = ingest([path])
    for skipped in result.skipped:
        log.warning("skipped %s", skipped)
    return result
