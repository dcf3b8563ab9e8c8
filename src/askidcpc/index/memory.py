"""The documents and passages an index answers from, behind one interface whatever holds them.

:class:`DocumentTable` and :class:`PassageTable` are what the pipeline, the reader and the edges use: a saved index's
memory-mapped :class:`~askidcpc.index.stored.StoredDocuments` and :class:`~askidcpc.index.stored.StoredPassages`,
or, for documents indexed in memory, :class:`MemoryDocuments` and :class:`MemoryPassages` here. Nothing outside
``index/`` needs to know which.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, Protocol, overload, runtime_checkable

import numpy.typing as npt

from askidcpc.index.paragraphs import paragraph_ids
from askidcpc.types import Document, Passage

__all__ = ["DocumentTable", "MemoryDocuments", "MemoryPassages", "PassageTable"]


@runtime_checkable
class DocumentTable(Protocol):
    """Documents in index order, and each by ``doc_id``."""

    by_id: Mapping[str, Document]

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Document: ...

    def __iter__(self) -> Iterator[Document]: ...


@runtime_checkable
class PassageTable(Protocol):
    """Passages by pid, each passage's paragraph number, and a passage found by its exact offsets."""

    paragraph_of: npt.NDArray[Any]

    def __len__(self) -> int: ...

    def __getitem__(self, pid: int) -> Passage: ...

    def __iter__(self) -> Iterator[Passage]: ...

    def find(self, doc_id: str, start: int, end: int) -> int | None: ...


class MemoryDocuments(Sequence[Document]):
    """Documents held in memory."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self._documents = tuple(documents)
        self.by_id: Mapping[str, Document] = {document.doc_id: document for document in self._documents}

    def __len__(self) -> int:
        return len(self._documents)

    @overload
    def __getitem__(self, i: int) -> Document: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Document]: ...

    def __getitem__(self, i: int | slice) -> Document | Sequence[Document]:
        return self._documents[i]


class MemoryPassages(Sequence[Passage]):
    """Passages held in memory (pid order), with their paragraph numbers."""

    def __init__(self, passages: Sequence[Passage], documents: Mapping[str, Document]) -> None:
        self._passages = tuple(passages)
        self.paragraph_of = paragraph_ids(self._passages, documents)

    def __len__(self) -> int:
        return len(self._passages)

    @overload
    def __getitem__(self, pid: int) -> Passage: ...

    @overload
    def __getitem__(self, pid: slice) -> Sequence[Passage]: ...

    def __getitem__(self, pid: int | slice) -> Passage | Sequence[Passage]:
        return self._passages[pid]

    @cached_property
    def _first_pids(self) -> dict[str, int]:
        return {passage.doc_id: passage.pid for passage in self._passages if passage.prev_pid is None}

    def find(self, doc_id: str, start: int, end: int) -> int | None:
        """The pid of the passage of ``doc_id`` at exactly ``[start, end)``, or None (a walk through the document's
        passages, which are in text order)."""
        at = self._first_pids.get(doc_id)
        while at is not None:
            passage = self._passages[at]
            if (passage.start, passage.end) == (start, end):
                return at
            if passage.start > start:
                return None
            at = passage.next_pid
        return None
