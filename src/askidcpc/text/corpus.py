"""The one corpus loader: every article under the given folders and files, in every supported format
(:mod:`askidcpc.text.formats`), with the same skip rules whichever command reads them (``ask --corpus``, ``chat``,
``serve`` and ``index``).

Folders are searched recursively; hidden entries, and symlinks that leave the folder, are left out. Documents with the
same text (by :func:`~askidcpc.text.formats.content_hash`) are kept once; a second document with a doc_id already
taken is skipped. Nothing here prints: :func:`ingest` returns what it read and what it skipped, and an edge reports
it. An empty result is a :class:`~askidcpc.errors.CorpusError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from askidcpc.errors import CorpusError, DocumentError
from askidcpc.text.formats import SUFFIXES, content_hash, read_source
from askidcpc.types import Document

__all__ = ["Duplicate", "IngestResult", "find_sources", "ingest", "load_corpus"]

log = logging.getLogger(__name__)


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
                if path.suffix.lower() not in SUFFIXES or any(p.startswith(".") for p in relative.parts):
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
