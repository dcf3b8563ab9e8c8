"""The documents and passages of a saved index as sequences, decoded on access from its memory-mapped arrays.

Nothing is materialized at load: ``passages[pid]`` builds one :class:`~askidcpc.types.Passage` from three integers
and its document's text, and ``documents[i]`` one :class:`~askidcpc.types.Document` from its byte ranges; recently
used documents are cached.

Documents' texts are stored compressed (:class:`PackedText`): zlib, in blocks of whole documents of about
:data:`TEXT_BLOCK_BYTES` each, so that a document is read by decompressing one block (a fraction of a millisecond;
recent blocks are cached). Decompression is lossless and the compressed file is checksummed like every other, so a
text is exactly the one indexed, and every citation's offsets stay checkable against it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import overload

import numpy as np
import numpy.typing as npt

from askidcpc.types import Document, Passage

__all__ = ["TEXT_BLOCK_BYTES", "PackedText", "StoredDocuments", "StoredPassages", "TextPacker", "pack_text"]

IntArray = npt.NDArray[np.int64]
ByteArray = npt.NDArray[np.uint8]

# A block is whole documents of about this many text bytes, compressed together. Answering reads the texts of some
# thirty passages of as many documents, mostly in different blocks, so a block's decompression time counts for
# every question: on the 1M-sentence news benchmark, 4 kB blocks (about two articles) decompress in 0.024 ms and
# compress 2.0x; 64 kB blocks took 0.45 ms (8.5 ms a question) for 2.2x.
TEXT_BLOCK_BYTES = 1 << 12
_TEXT_LEVEL = 6  # zlib's default (level 9 gains 0.1 %, level 1 loses 8 %)
_CACHED_BLOCKS = 1024  # decompressed blocks kept (about 5 MB)


def pack_text(
    text: ByteArray, offsets: IntArray, block_bytes: int = TEXT_BLOCK_BYTES
) -> tuple[ByteArray, IntArray, IntArray]:
    """Documents' concatenated texts (``text``, document ``i`` at ``offsets[i]:offsets[i + 1]``) compressed in blocks
    of whole documents: the compressed blocks concatenated, each block's offset in them (blocks + 1), and each
    block's first document (blocks + 1, the last the number of documents)."""
    packer = TextPacker(block_bytes, threads=2)
    offsets = np.asarray(offsets, dtype=np.int64)
    packer.add(np.asarray(text)[int(offsets[0]) : int(offsets[-1])], np.diff(offsets))
    return packer.packed()


class TextPacker:
    """Documents' texts compressed in blocks as they are added (:meth:`add`, in document order), on ``threads``
    threads (zlib releases the GIL), so that a build compresses while its partitions are still being made, and
    holds each text uncompressed only until its block is compressed. :meth:`packed` returns exactly what
    :func:`pack_text` makes of all of them at once: a block is closed after the document that brings it to
    ``block_bytes`` (default :data:`TEXT_BLOCK_BYTES`), and after the last document."""

    _BLOCKS_PER_TASK = 256

    def __init__(self, block_bytes: int | None = None, threads: int = 1) -> None:
        self._block_bytes = TEXT_BLOCK_BYTES if block_bytes is None else block_bytes
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="askidcpc-pack")
        self._compressed: list[Future[list[bytes]]] = []
        self._block_docs = [0]
        self._documents = 0
        self._open: list[bytes] = []  # the texts of the documents of the block not closed yet
        self._open_bytes = 0
        self._open_documents = 0

    def add(self, text: bytes | ByteArray, lengths: IntArray) -> None:
        """Append documents: their UTF-8 texts concatenated (``text``) and each one's length in bytes."""
        view = memoryview(text if isinstance(text, bytes) else np.ascontiguousarray(text).data).cast("B")
        closed: list[bytes | memoryview] = []
        start = end = 0
        for length in np.asarray(lengths, dtype=np.int64).tolist():
            end += length
            self._documents += 1
            self._open_documents += 1
            self._open_bytes += length
            if self._open_bytes >= self._block_bytes:
                closed.append(b"".join([*self._open, view[start:end]]) if self._open else view[start:end])
                self._close()
                start = end
        if self._open_documents:
            self._open.append(bytes(view[start:end]))  # a copy: the caller's text need not be kept
        self._submit(closed)

    def packed(self) -> tuple[ByteArray, IntArray, IntArray]:
        """The compressed blocks concatenated, each block's offset in them, and each block's first document (as
        :func:`pack_text`); the packer is spent."""
        if self._open_documents:
            self._submit([b"".join(self._open)])
            self._close()
        try:
            pieces = [piece for task in self._compressed for piece in task.result()]
        finally:
            self._pool.shutdown()
        self._compressed.clear()
        block_offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum([len(piece) for piece in pieces], out=block_offsets[1:])
        packed = np.empty(int(block_offsets[-1]), dtype=np.uint8)
        for block, piece in enumerate(pieces):
            packed[block_offsets[block] : block_offsets[block + 1]] = np.frombuffer(piece, dtype=np.uint8)
        return packed, block_offsets, np.asarray(self._block_docs, dtype=np.int32)

    def _close(self) -> None:
        self._block_docs.append(self._documents)
        self._open, self._open_bytes, self._open_documents = [], 0, 0

    def _submit(self, blocks: list[bytes | memoryview]) -> None:
        for first in range(0, len(blocks), self._BLOCKS_PER_TASK):
            self._compressed.append(self._pool.submit(_compressed, blocks[first : first + self._BLOCKS_PER_TASK]))


def _compressed(blocks: list[bytes | memoryview]) -> list[bytes]:
    return [zlib.compress(block, _TEXT_LEVEL) for block in blocks]


class PackedText:
    """Documents' texts as stored: compressed blocks (see :func:`pack_text`) or, for tables in memory, plain
    (:meth:`plain`); ``text_bytes(i)`` is document ``i``'s UTF-8 text either way."""

    def __init__(self, packed: ByteArray, offsets: IntArray, block_offsets: IntArray, block_docs: IntArray) -> None:
        self._packed = packed
        self.offsets = offsets
        self._block_offsets = block_offsets
        self._block_docs = np.asarray(block_docs)
        self.compressed = True
        self._block = lru_cache(maxsize=_CACHED_BLOCKS)(self._decompress)

    @classmethod
    def plain(cls, text: ByteArray, offsets: IntArray) -> PackedText:
        """Uncompressed texts: one block of every document, never compressed."""
        packed = cls(text, offsets, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        packed.compressed = False
        return packed

    def blocks(self) -> tuple[ByteArray, IntArray, IntArray]:
        """The compressed blocks concatenated, each block's offset in them, and each block's first document (what
        :func:`pack_text` returns and a saved index stores)."""
        return self._packed, self._block_offsets, self._block_docs

    def _decompress(self, block: int) -> bytes:
        lo, hi = int(self._block_offsets[block]), int(self._block_offsets[block + 1])
        return zlib.decompress(self._packed[lo:hi].tobytes())

    def text_bytes(self, i: int) -> bytes:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        if not self.compressed:
            return self._packed[lo:hi].tobytes()
        block = int(self._block_docs.searchsorted(i, side="right")) - 1
        base = int(self.offsets[int(self._block_docs[block])])
        return self._block(block)[lo - base : hi - base]

    def unpacked(self) -> ByteArray:
        """Every document's text, concatenated (the whole corpus decompressed)."""
        if not self.compressed:
            return np.asarray(self._packed)
        blocks = [self._decompress(block) for block in range(len(self._block_offsets) - 1)]
        return np.frombuffer(b"".join(blocks), dtype=np.uint8) if blocks else np.zeros(0, dtype=np.uint8)


class StoredDocuments(Sequence[Document]):
    """The documents of a saved index, decoded one at a time from the memory-mapped arrays when asked for."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        texts: PackedText,
        meta: ByteArray,
        meta_offsets: IntArray,
    ) -> None:
        self.doc_ids = tuple(doc_ids)
        self._texts = texts
        self._meta = meta
        self._meta_offsets = meta_offsets
        self._position = {doc_id: i for i, doc_id in enumerate(self.doc_ids)}
        self.by_id: Mapping[str, Document] = _DocumentsById(self)
        # Caches per instance: a query touches a handful of documents, and texts can be large.
        self.text = lru_cache(maxsize=256)(self._decode_text)
        self._document = lru_cache(maxsize=256)(self._decode_document)

    def __len__(self) -> int:
        return len(self.doc_ids)

    @overload
    def __getitem__(self, i: int) -> Document: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Document]: ...

    def __getitem__(self, i: int | slice) -> Document | Sequence[Document]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"document {i} out of range")
        return self._document(i % len(self))

    def _decode_document(self, i: int) -> Document:
        lo, hi = int(self._meta_offsets[i]), int(self._meta_offsets[i + 1])
        meta = json.loads(self._meta[lo:hi].tobytes().decode("utf-8"))
        return Document(
            doc_id=self.doc_ids[i],
            title=meta["title"],
            text=self.text(i),
            date=meta.get("date"),
            source=meta.get("source"),
            author=meta.get("author"),
            url=meta.get("url"),
            extra=meta.get("extra", {}),
        )

    def position(self, doc_id: str) -> int | None:
        """The index of ``doc_id`` in this sequence, or None."""
        return self._position.get(doc_id)

    def _decode_text(self, i: int) -> str:
        return self._texts.text_bytes(i).decode("utf-8")


class _DocumentsById(Mapping[str, Document]):
    def __init__(self, documents: StoredDocuments) -> None:
        self._documents = documents

    def __getitem__(self, doc_id: str) -> Document:
        position = self._documents.position(doc_id)
        if position is None:
            raise KeyError(doc_id)
        return self._documents[position]

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._documents.position(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents.doc_ids)

    def __len__(self) -> int:
        return len(self._documents)


class StoredPassages(Sequence[Passage]):
    """The passages of a saved index, built on access from (document, start, end) arrays: ``passages[pid]``."""

    def __init__(
        self, documents: StoredDocuments, doc: IntArray, start: IntArray, end: IntArray, paragraph: IntArray
    ) -> None:
        self._documents = documents
        # Plain views of the memory-mapped arrays (no copy): indexing a memmap costs more per call.
        self._doc = np.asarray(doc)
        self._start = np.asarray(start)
        self._end = np.asarray(end)
        self.paragraph_of = np.asarray(paragraph)  # each passage's paragraph number, non-decreasing

    def __len__(self) -> int:
        return int(self._doc.shape[0])

    def __iter__(self) -> Iterator[Passage]:
        # In bulk: whole-array conversions instead of a numpy scalar lookup per field of every passage.
        docs, starts, ends, paragraphs = (
            np.asarray(a).tolist() for a in (self._doc, self._start, self._end, self.paragraph_of)
        )
        doc_ids = self._documents.doc_ids
        n = len(docs)
        for pid, (doc, start, end, paragraph) in enumerate(zip(docs, starts, ends, paragraphs, strict=True)):
            yield Passage(
                pid=pid,
                doc_id=doc_ids[doc],
                start=start,
                end=end,
                text=self._documents.text(doc)[start:end],
                prev_pid=pid - 1 if pid > 0 and docs[pid - 1] == doc else None,
                next_pid=pid + 1 if pid + 1 < n and docs[pid + 1] == doc else None,
                paragraph=paragraph,
            )

    def find(self, doc_id: str, start: int, end: int) -> int | None:
        """The pid of the passage of ``doc_id`` at exactly ``[start, end)``, or None: binary searches, as a saved
        index keeps each document's passages together and in text order."""
        position = self._documents.position(doc_id)
        if position is None:
            return None
        lo = int(np.searchsorted(self._doc, position, side="left"))
        hi = int(np.searchsorted(self._doc, position, side="right"))
        at = lo + int(np.searchsorted(self._start[lo:hi], start, side="left"))
        if at < hi and int(self._start[at]) == start and int(self._end[at]) == end:
            return at
        return None

    @overload
    def __getitem__(self, pid: int) -> Passage: ...

    @overload
    def __getitem__(self, pid: slice) -> Sequence[Passage]: ...

    def __getitem__(self, pid: int | slice) -> Passage | Sequence[Passage]:
        if isinstance(pid, slice):
            return [self[i] for i in range(*pid.indices(len(self)))]
        n = len(self)
        if not -n <= pid < n:
            raise IndexError(f"passage {pid} out of range")
        pid %= n
        doc = int(self._doc[pid])
        start, end = int(self._start[pid]), int(self._end[pid])
        return Passage(
            pid=pid,
            doc_id=self._documents.doc_ids[doc],
            start=start,
            end=end,
            text=self._documents.text(doc)[start:end],
            prev_pid=pid - 1 if pid > 0 and int(self._doc[pid - 1]) == doc else None,
            next_pid=pid + 1 if pid + 1 < n and int(self._doc[pid + 1]) == doc else None,
            paragraph=int(self.paragraph_of[pid]),
        )
