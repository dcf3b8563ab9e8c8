"""The saved index: one folder of memory-mapped arrays and a manifest; atomic writes; verification at load.

Layout (format version 1)::

    INDEX/manifest.json        format and version, tokenizer fingerprint, BM25 settings, counts, every document's
                               doc_id and content hash (SHA-256 of its text), and per array file: dtype, shape, size
                               and SHA-256; the manifest carries a checksum of itself
    INDEX/<name>.npy           numpy arrays, loaded with ``mmap_mode="r"`` (see ``ARRAYS``)

The term frequencies (a passages × terms CSC matrix) are what an index *is*; the BM25 weights are stored beside
them for the manifest's BM25 settings so that loading computes nothing, and recomputed from the counts when another
BM25 setting is asked for. Documents' texts are stored too, so every citation stays checkable against its source.

Writes are atomic: everything is written into a temporary folder beside the target, each file and the folder are
fsynced, then the folder takes the target's place in one ``rename`` (or an atomic exchange with the old one).
A crash or Ctrl-C at any moment leaves the old index whole. Loading checks the format version, the manifest
checksum, every file's size, dtype and shape, and (by default) every file's SHA-256; anything else is refused with
:class:`~askidcpc.errors.IndexFormatError`.

:func:`add_documents` and :func:`remove_documents` update an index without re-tokenizing what it holds: the result
has exactly the counts, and so exactly the IDF and scores, of a fresh build over the same documents in the same
order.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.bm25 import BM25Index, BM25Params, index_from_counts
from askidcpc.corpus import content_hash
from askidcpc.errors import AskError, IndexFormatError
from askidcpc.sentences import split_spans
from askidcpc.tokenize import STOP_WORDS, tokenize
from askidcpc.types import Document, Passage

__all__ = [
    "ARRAYS",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "IndexBusyError",
    "IndexUpdate",
    "Progress",
    "StoredDocuments",
    "StoredIndex",
    "StoredPassages",
    "add_documents",
    "build_saved_index",
    "is_saved_index",
    "load_index",
    "remove_documents",
    "save_index",
    "tokenizer_fingerprint",
]

log = logging.getLogger(__name__)

FORMAT = "askidcpc-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# name -> what it holds. Every array is one ``<name>.npy`` file.
ARRAYS: Mapping[str, str] = {
    "vocab": "uint8: the terms in column order, UTF-8, joined by newlines",
    "doc_len": "int32 [passages]: tokens in each passage",
    "tf_indptr": "int32|int64 [terms + 1]: CSC column pointers of the term-frequency matrix",
    "tf_indices": "int32|int64 [postings]: passage of each posting",
    "tf_data": "int32 [postings]: term frequency of each posting",
    "weights": "float64 [postings]: BM25 weight of each posting under the manifest's BM25 settings",
    "passage_doc": "int32 [passages]: document index of each passage",
    "passage_start": "int32 [passages]: start offset in the document text (characters)",
    "passage_end": "int32 [passages]: end offset, exclusive",
    "doc_text": "uint8: every document's text, UTF-8, concatenated",
    "doc_text_offsets": "int64 [documents + 1]: byte offsets into doc_text",
    "doc_meta": "uint8: every document's metadata, one JSON object each, concatenated",
    "doc_meta_offsets": "int64 [documents + 1]: byte offsets into doc_meta",
}

# A fixed text run through the tokenizer: its output, with the stop words, fingerprints the tokenizer, so an index
# built by a tokenizer that would split or stem questions differently is refused instead of silently missing terms.
_PROBE = (
    "The CPC’s International Department, founded in 1951, has ties with 600+ parties in 160 countries; "
    "it's “cooperating” — 3.5% growth, 1,000 delegations. Ünïcödé ﬁnance running runners ran"
)

Progress = Callable[[int], None]
"""Called with a count of documents just processed, so an edge can show a progress bar."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]


class IndexBusyError(AskError):
    """Another process is writing the same saved index."""


def tokenizer_fingerprint() -> str:
    """A short hash of how this askidcpc tokenizes; stored in the manifest and checked at load."""
    probe = json.dumps({"probe": tokenize(_PROBE), "stop_words": sorted(STOP_WORDS)}, ensure_ascii=False)
    return hashlib.sha256(probe.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------------
# Lazy documents and passages over the arrays


class StoredDocuments(Sequence[Document]):
    """The documents of a saved index, decoded one at a time from the memory-mapped arrays when asked for."""

    def __init__(
        self,
        doc_ids: Sequence[str],
        text: ByteArray,
        text_offsets: IntArray,
        meta: ByteArray,
        meta_offsets: IntArray,
    ) -> None:
        self.doc_ids = tuple(doc_ids)
        self._text = text
        self._text_offsets = text_offsets
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
        lo, hi = int(self._text_offsets[i]), int(self._text_offsets[i + 1])
        return self._text[lo:hi].tobytes().decode("utf-8")


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

    def __init__(self, documents: StoredDocuments, doc: IntArray, start: IntArray, end: IntArray) -> None:
        self._documents = documents
        self._doc = doc
        self._start = start
        self._end = end

    def __len__(self) -> int:
        return int(self._doc.shape[0])

    def __iter__(self) -> Iterator[Passage]:
        # In bulk: whole-array conversions instead of a numpy scalar lookup per field of every passage.
        docs, starts, ends = (np.asarray(a).tolist() for a in (self._doc, self._start, self._end))
        doc_ids = self._documents.doc_ids
        n = len(docs)
        for pid, (doc, start, end) in enumerate(zip(docs, starts, ends, strict=True)):
            yield Passage(
                pid=pid,
                doc_id=doc_ids[doc],
                start=start,
                end=end,
                text=self._documents.text(doc)[start:end],
                prev_pid=pid - 1 if pid > 0 and docs[pid - 1] == doc else None,
                next_pid=pid + 1 if pid + 1 < n and docs[pid + 1] == doc else None,
            )

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
        )


@dataclass(frozen=True, eq=False)
class StoredIndex:
    """A loaded saved index: what :class:`~askidcpc.pipeline.Pipeline` needs, plus the manifest."""

    path: Path
    manifest: Mapping[str, Any]
    documents: StoredDocuments
    passages: StoredPassages
    index: BM25Index


@dataclass(frozen=True)
class IndexUpdate:
    """What :func:`add_documents` or :func:`remove_documents` did."""

    documents: int
    passages: int
    changed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (doc_id, reason)


# ---------------------------------------------------------------------------------------------------------------
# The arrays of an index, in memory or memory-mapped


@dataclass(frozen=True, eq=False)
class _Tables:
    params: BM25Params
    terms: list[str]
    doc_len: IntArray
    term_freqs: sp.csc_matrix
    weights: FloatArray
    passage_doc: IntArray
    passage_start: IntArray
    passage_end: IntArray
    doc_ids: list[str]
    doc_hashes: list[str]
    doc_text: ByteArray
    doc_text_offsets: IntArray
    doc_meta: ByteArray
    doc_meta_offsets: IntArray

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        tf = self.term_freqs
        index_dtype = np.int32 if max(tf.nnz, tf.shape[0], tf.shape[1]) < 2**31 - 1 else np.int64
        vocab = "\n".join(self.terms).encode("utf-8")
        return {
            "vocab": np.frombuffer(vocab, dtype=np.uint8),
            "doc_len": np.asarray(self.doc_len, dtype=np.int32),
            "tf_indptr": np.asarray(tf.indptr, dtype=index_dtype),
            "tf_indices": np.asarray(tf.indices, dtype=index_dtype),
            "tf_data": np.asarray(tf.data, dtype=np.int32),
            "weights": np.asarray(self.weights, dtype=np.float64),
            "passage_doc": np.asarray(self.passage_doc, dtype=np.int32),
            "passage_start": np.asarray(self.passage_start, dtype=np.int32),
            "passage_end": np.asarray(self.passage_end, dtype=np.int32),
            "doc_text": self.doc_text,
            "doc_text_offsets": np.asarray(self.doc_text_offsets, dtype=np.int64),
            "doc_meta": self.doc_meta,
            "doc_meta_offsets": np.asarray(self.doc_meta_offsets, dtype=np.int64),
        }

    def vocab(self) -> dict[str, int]:
        return dict(zip(self.terms, range(len(self.terms)), strict=True))

    def documents(self) -> StoredDocuments:
        return StoredDocuments(self.doc_ids, self.doc_text, self.doc_text_offsets, self.doc_meta, self.doc_meta_offsets)

    def bm25_index(self, params: BM25Params) -> BM25Index:
        """The BM25 index under ``params``: the stored weights when they match, else recomputed from the counts."""
        vocab = self.vocab()
        if params != self.params:
            log.info("BM25 settings differ from the saved index's; recomputing weights from the stored counts")
            return index_from_counts(params, vocab, self.doc_len, self.term_freqs)
        tf = self.term_freqs
        weights = sp.csc_matrix((self.weights, tf.indices, tf.indptr), shape=tf.shape, copy=False)
        return BM25Index(params=params, vocab=vocab, doc_len=self.doc_len, term_freqs=tf, weights=weights)


def _metadata_json(document: Document) -> bytes:
    meta = {
        "title": document.title,
        "date": document.date,
        "source": document.source,
        "author": document.author,
        "url": document.url,
        "extra": dict(document.extra),
    }
    # default=str: front matter can hold YAML dates and other scalars; they come back as their ISO text.
    return json.dumps(meta, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8")


def _blob(pieces: Sequence[bytes]) -> tuple[ByteArray, IntArray]:
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(piece) for piece in pieces], out=offsets[1:])
    return np.frombuffer(b"".join(pieces), dtype=np.uint8), offsets


def _count(
    token_lists: Sequence[Sequence[str]], vocab: dict[str, int], terms: list[str]
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """COO postings (row, column, count) and lengths of tokenized passages, new terms appended to ``vocab``/``terms``
    in first-seen order, exactly as :func:`askidcpc.bm25.build_index` numbers them."""
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    lengths = np.zeros(len(token_lists), dtype=np.int64)
    for row, tokens in enumerate(token_lists):
        lengths[row] = len(tokens)
        for term, count in Counter(tokens).items():
            column = vocab.get(term)
            if column is None:
                column = vocab[term] = len(terms)
                terms.append(term)
            rows.append(row)
            cols.append(column)
            counts.append(count)
    return (
        np.asarray(rows, dtype=np.int64),
        np.asarray(cols, dtype=np.int64),
        np.asarray(counts, dtype=np.int64),
        lengths,
    )


def _column_sizes(indptr: Any) -> IntArray:
    pointers = np.asarray(indptr, dtype=np.int64)
    sizes: IntArray = pointers[1:] - pointers[:-1]
    return sizes


def _append_rows(
    old: sp.csc_matrix, rows: IntArray, cols: IntArray, counts: IntArray, n_new: int, n_terms: int
) -> sp.csc_matrix:
    """``old`` (sorted CSC) with ``n_new`` rows appended from COO postings; new columns are appended too."""
    n_old = old.shape[0]
    new = sp.csc_matrix((counts.astype(np.int32), (rows + n_old, cols)), shape=(n_old + n_new, n_terms))
    new.sort_indices()
    old_counts = np.zeros(n_terms, dtype=np.int64)
    old_counts[: old.shape[1]] = _column_sizes(old.indptr)
    new_counts = _column_sizes(new.indptr)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(old_counts + new_counts, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.empty(nnz, dtype=np.int64)
    data = np.empty(nnz, dtype=np.int32)
    # Old postings first in each column (their rows are all lower), then the new ones.
    old_columns = np.repeat(np.arange(n_terms), old_counts)
    old_rank = np.arange(old.nnz) - np.repeat(np.asarray(old.indptr[:-1], dtype=np.int64), old_counts[: old.shape[1]])
    old_at = indptr[old_columns] + old_rank
    indices[old_at] = old.indices
    data[old_at] = old.data
    new_columns = np.repeat(np.arange(n_terms), new_counts)
    new_rank = np.arange(new.nnz) - np.repeat(np.asarray(new.indptr[:-1], dtype=np.int64), new_counts)
    new_at = indptr[new_columns] + old_counts[new_columns] + new_rank
    indices[new_at] = new.indices
    data[new_at] = new.data
    merged = sp.csc_matrix((data, indices, indptr), shape=(n_old + n_new, n_terms))
    merged.has_sorted_indices = True
    return merged


def _split_and_tokenize(
    documents: Sequence[Document], progress: Progress | None
) -> tuple[list[int], list[int], list[int], list[list[str]]]:
    passage_doc: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    token_lists: list[list[str]] = []
    for position, document in enumerate(documents):
        for start, end in split_spans(document.text):
            passage_doc.append(position)
            starts.append(start)
            ends.append(end)
            token_lists.append(tokenize(document.text[start:end]))
        if progress is not None:
            progress(1)
    return passage_doc, starts, ends, token_lists


def _empty_tables(params: BM25Params) -> _Tables:
    empty = np.zeros(0, dtype=np.int64)
    return _Tables(
        params=params,
        terms=[],
        doc_len=empty,
        term_freqs=sp.csc_matrix((0, 0), dtype=np.int32),
        weights=np.zeros(0, dtype=np.float64),
        passage_doc=empty,
        passage_start=empty,
        passage_end=empty,
        doc_ids=[],
        doc_hashes=[],
        doc_text=np.zeros(0, dtype=np.uint8),
        doc_text_offsets=np.zeros(1, dtype=np.int64),
        doc_meta=np.zeros(0, dtype=np.uint8),
        doc_meta_offsets=np.zeros(1, dtype=np.int64),
    )


def _with_documents(tables: _Tables, documents: Sequence[Document], progress: Progress | None) -> _Tables:
    """``tables`` with ``documents`` appended: only the new documents are split and tokenized."""
    passage_doc, starts, ends, token_lists = _split_and_tokenize(documents, progress)
    terms = list(tables.terms)
    vocab = tables.vocab()
    rows, cols, counts, lengths = _count(token_lists, vocab, terms)
    term_freqs = _append_rows(tables.term_freqs, rows, cols, counts, len(token_lists), len(terms))
    doc_len = np.concatenate([np.asarray(tables.doc_len, dtype=np.int64), lengths])
    weights = index_from_counts(tables.params, vocab, doc_len, term_freqs).weights.data
    text, text_offsets = _blob([document.text.encode("utf-8") for document in documents])
    meta, meta_offsets = _blob([_metadata_json(document) for document in documents])
    n_docs = len(tables.doc_ids)
    return _Tables(
        params=tables.params,
        terms=terms,
        doc_len=doc_len,
        term_freqs=term_freqs,
        weights=weights,
        passage_doc=np.concatenate([tables.passage_doc, np.asarray(passage_doc, dtype=np.int64) + n_docs]),
        passage_start=np.concatenate([tables.passage_start, np.asarray(starts, dtype=np.int64)]),
        passage_end=np.concatenate([tables.passage_end, np.asarray(ends, dtype=np.int64)]),
        doc_ids=[*tables.doc_ids, *(document.doc_id for document in documents)],
        doc_hashes=[*tables.doc_hashes, *(content_hash(document.text) for document in documents)],
        doc_text=np.concatenate([tables.doc_text, text]),
        doc_text_offsets=np.concatenate([tables.doc_text_offsets, text_offsets[1:] + tables.doc_text_offsets[-1]]),
        doc_meta=np.concatenate([tables.doc_meta, meta]),
        doc_meta_offsets=np.concatenate([tables.doc_meta_offsets, meta_offsets[1:] + tables.doc_meta_offsets[-1]]),
    )


def _without_documents(tables: _Tables, removed: set[int]) -> _Tables:
    """``tables`` without the documents at positions ``removed``; terms no passage uses any more are dropped."""
    keep_docs = np.array([i not in removed for i in range(len(tables.doc_ids))], dtype=bool)
    keep_rows = keep_docs[np.asarray(tables.passage_doc, dtype=np.int64)]
    new_position = np.cumsum(keep_docs) - 1
    term_freqs = sp.csc_matrix(tables.term_freqs[np.flatnonzero(keep_rows), :])
    used = np.flatnonzero(_column_sizes(term_freqs.indptr) > 0)
    term_freqs = sp.csc_matrix(term_freqs[:, used])
    term_freqs.sort_indices()
    terms = [tables.terms[int(column)] for column in used]
    doc_len = np.asarray(tables.doc_len, dtype=np.int64)[keep_rows]
    weights = index_from_counts(tables.params, {t: c for c, t in enumerate(terms)}, doc_len, term_freqs).weights.data

    def kept_blob(blob: ByteArray, offsets: IntArray) -> tuple[ByteArray, IntArray]:
        spans = [(int(offsets[i]), int(offsets[i + 1])) for i in np.flatnonzero(keep_docs)]
        pieces = [np.asarray(blob[lo:hi]) for lo, hi in spans]
        lengths = np.asarray([hi - lo for lo, hi in spans], dtype=np.int64)
        new_offsets = np.zeros(len(spans) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
        return joined.astype(np.uint8, copy=False), new_offsets

    text, text_offsets = kept_blob(tables.doc_text, tables.doc_text_offsets)
    meta, meta_offsets = kept_blob(tables.doc_meta, tables.doc_meta_offsets)
    return _Tables(
        params=tables.params,
        terms=terms,
        doc_len=doc_len,
        term_freqs=term_freqs,
        weights=weights,
        passage_doc=new_position[np.asarray(tables.passage_doc, dtype=np.int64)[keep_rows]],
        passage_start=np.asarray(tables.passage_start)[keep_rows],
        passage_end=np.asarray(tables.passage_end)[keep_rows],
        doc_ids=[doc_id for i, doc_id in enumerate(tables.doc_ids) if keep_docs[i]],
        doc_hashes=[digest for i, digest in enumerate(tables.doc_hashes) if keep_docs[i]],
        doc_text=text,
        doc_text_offsets=text_offsets,
        doc_meta=meta,
        doc_meta_offsets=meta_offsets,
    )


def _tables_from_pipeline_parts(
    documents: Sequence[Document], passages: Sequence[Passage], index: BM25Index
) -> _Tables:
    position = {document.doc_id: i for i, document in enumerate(documents)}
    terms = [""] * len(index.vocab)
    for term, column in index.vocab.items():
        terms[column] = term
    text, text_offsets = _blob([document.text.encode("utf-8") for document in documents])
    meta, meta_offsets = _blob([_metadata_json(document) for document in documents])
    term_freqs = sp.csc_matrix(index.term_freqs)
    term_freqs.sort_indices()
    weights = sp.csc_matrix(index.weights)
    weights.sort_indices()
    if not np.array_equal(weights.indptr, term_freqs.indptr) or not np.array_equal(weights.indices, term_freqs.indices):
        raise ValueError("the index's weights and term frequencies do not have the same postings")
    return _Tables(
        params=index.params,
        terms=terms,
        doc_len=np.asarray(index.doc_len, dtype=np.int64),
        term_freqs=term_freqs,
        weights=np.asarray(weights.data, dtype=np.float64),
        passage_doc=np.asarray([position[passage.doc_id] for passage in passages], dtype=np.int64),
        passage_start=np.asarray([passage.start for passage in passages], dtype=np.int64),
        passage_end=np.asarray([passage.end for passage in passages], dtype=np.int64),
        doc_ids=[document.doc_id for document in documents],
        doc_hashes=[content_hash(document.text) for document in documents],
        doc_text=text,
        doc_text_offsets=text_offsets,
        doc_meta=meta,
        doc_meta_offsets=meta_offsets,
    )


# ---------------------------------------------------------------------------------------------------------------
# Writing: temporary folder, fsync, atomic swap


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_array(path: Path, array: npt.NDArray[Any]) -> dict[str, Any]:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    return {
        "file": path.name,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "bytes": path.stat().st_size,
        "sha256": _sha256_file(path),
    }


def _manifest_digest(manifest: Mapping[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return bool(result == 0)


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.old-*"))


def _swap_into_place(built: Path, target: Path) -> None:
    """Make ``built`` the folder at ``target``, atomically, and remove what was there."""
    if not target.exists():
        os.rename(built, target)
    elif _exchange(built, target):
        shutil.rmtree(built)  # it now holds the old index
    else:
        # No atomic exchange here: two renames. A crash between them leaves the old index at the backup path,
        # which load_index names in its error message.
        backup = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, backup)
        os.rename(built, target)
        shutil.rmtree(backup)
    _fsync_dir(target.parent)


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise AskError(f"{target} exists and is not a folder; choose another index path")
    known = {MANIFEST} | {f"{name}.npy" for name in ARRAYS}
    foreign = [entry.name for entry in target.iterdir() if entry.name not in known]
    if foreign:
        raise AskError(
            f"{target} exists and is not a saved index (it holds {', '.join(sorted(foreign)[:3])}); "
            "refusing to replace it: choose another index path"
        )


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold the write lock of the folder that holds the index (``flock`` on the folder itself, so no lock file is
    left behind); IndexBusyError when another writer has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock; writes are still atomic
        yield
        return
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another askidcpc process is writing an index in {target.parent}; try again when it is done"
            ) from None
        # A writer killed mid-write leaves its temporary folder; nobody else can be using it while we hold the lock.
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            log.info("removing %s, left by an interrupted write", stale)
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_tables(target: Path, tables: _Tables) -> dict[str, Any]:
    """Write ``tables`` as a saved index at ``target`` atomically (the caller holds the lock). Returns the manifest."""
    if not tables.doc_ids:
        raise AskError("an index needs at least one document")
    for term in tables.terms:
        if "\n" in term:
            raise ValueError(f"index term {term!r} contains a newline; the vocabulary file cannot hold it")
    _check_replaceable(target)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        entries = {name: _write_array(building / f"{name}.npy", array) for name, array in tables.arrays().items()}
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tokenizer": {"fingerprint": tokenizer_fingerprint(), "stemmer": "english (PyStemmer Snowball)"},
            "bm25": asdict(tables.params),
            "counts": {
                "documents": len(tables.doc_ids),
                "passages": int(tables.doc_len.shape[0]),
                "terms": len(tables.terms),
                "postings": int(tables.term_freqs.nnz),
            },
            "documents": [
                {"doc_id": doc_id, "sha256": digest}
                for doc_id, digest in zip(tables.doc_ids, tables.doc_hashes, strict=True)
            ],
            "arrays": entries,
        }
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        with open(building / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(building, 0o755)  # mkdtemp makes it private; an index is meant to be shared by readers
        _fsync_dir(building)
        _swap_into_place(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    log.info("wrote %s: %d documents, %d passages", target, len(tables.doc_ids), tables.doc_len.shape[0])
    return manifest


def _target(path: Path) -> Path:
    target = Path(os.path.abspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def save_index(
    path: Path, documents: Sequence[Document], passages: Sequence[Passage], index: BM25Index
) -> Mapping[str, Any]:
    """Save an indexed corpus (as a :class:`~askidcpc.pipeline.Pipeline` holds it) at ``path``, atomically.

    ``passages`` must be those of ``documents`` in pid order, ``index`` their BM25 index. An existing index at
    ``path`` is replaced; any other existing file or folder there is refused (AskError). Returns the manifest.
    """
    target = _target(path)
    tables = _tables_from_pipeline_parts(documents, passages, index)
    with _locked(target):
        return _write_tables(target, tables)


def build_saved_index(
    path: Path, documents: Sequence[Document], params: BM25Params | None = None, progress: Progress | None = None
) -> Mapping[str, Any]:
    """Split, tokenize and index ``documents`` and save the index at ``path``, atomically; the same index as
    ``Pipeline.from_documents(documents, params)`` builds. ``progress`` is called once per document."""
    if not documents:
        raise AskError("cannot build an index over no documents")
    target = _target(path)
    tables = _with_documents(_empty_tables(params or BM25Params()), documents, progress)
    with _locked(target):
        return _write_tables(target, tables)


# ---------------------------------------------------------------------------------------------------------------
# Reading and verification


def is_saved_index(path: Path) -> bool:
    """Whether ``path`` is (or, interrupted mid-write, was) a saved index rather than a folder of articles."""
    if path.is_dir():
        return any((path / name).is_file() for name in (MANIFEST, *(f"{array}.npy" for array in ARRAYS)))
    return not path.exists() and bool(_backups(Path(os.path.abspath(path))))


def _refuse(path: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(f"saved index {path} {problem}; rebuild it with 'askidcpc index SOURCE... --out {path}'")


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        backups = _backups(Path(os.path.abspath(path)))
        if not path.exists() and backups:
            raise IndexFormatError(
                f"saved index {path} is missing: an interrupted write left the previous index at {backups[-1]}; "
                f"rename that folder back to {path}"
            )
        raise _refuse(path, f"has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"has an unreadable {MANIFEST} ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(path, f"has a {MANIFEST} that is not an askidcpc index manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise _refuse(path, f"is format version {version!r}; this askidcpc reads version {FORMAT_VERSION}")
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise _refuse(path, f"has a {MANIFEST} that was altered or damaged (its checksum does not match)")
    return manifest


def _open_array(path: Path, name: str, entry: Mapping[str, Any]) -> npt.NDArray[Any]:
    file = path / f"{name}.npy"
    if not file.is_file():
        raise _refuse(path, f"is missing {file.name}")
    size = file.stat().st_size
    if size != entry["bytes"]:
        raise _refuse(path, f"has {file.name} of {size:,} bytes, expected {entry['bytes']:,} (truncated or damaged)")
    try:
        if int(np.prod(entry["shape"])) == 0:
            array: npt.NDArray[Any] = np.load(file, allow_pickle=False)
        else:
            array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _refuse(path, f"has an unreadable {file.name} ({exc})") from exc
    if array.dtype.str != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise _refuse(
            path,
            f"has {file.name} of {array.dtype.str}{list(array.shape)}, expected {entry['dtype']}{list(entry['shape'])}",
        )
    return array


def _check_checksums(path: Path, entries: Mapping[str, Mapping[str, Any]]) -> None:
    # hashlib releases the GIL, so the files hash in parallel.
    names = sorted(entries)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(lambda name: _sha256_file(path / f"{name}.npy"), names))
    for name, digest in zip(names, digests, strict=True):
        if digest != entries[name]["sha256"]:
            raise _refuse(path, f"has {name}.npy whose checksum does not match the manifest (damaged or altered)")


def _read_tables(path: Path, verify: bool) -> tuple[dict[str, Any], _Tables]:
    manifest = _read_manifest(path)
    try:
        entries: Mapping[str, Mapping[str, Any]] = manifest["arrays"]
        if set(entries) != set(ARRAYS):
            raise _refuse(path, "lists other array files than this format version has")
        arrays = {name: _open_array(path, name, entries[name]) for name in ARRAYS}
        if verify:
            _check_checksums(path, entries)
        fingerprint = manifest["tokenizer"]["fingerprint"]
        if fingerprint != tokenizer_fingerprint():
            raise _refuse(path, "was built by a different tokenizer than this askidcpc's (questions would not match)")
        params = BM25Params(**manifest["bm25"])
        counts = manifest["counts"]
        documents = manifest["documents"]
        doc_ids = [str(entry["doc_id"]) for entry in documents]
        doc_hashes = [str(entry["sha256"]) for entry in documents]
        vocab_text = arrays["vocab"].tobytes().decode("utf-8")
    except IndexFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _refuse(path, f"has a malformed {MANIFEST} ({exc.__class__.__name__}: {exc})") from exc
    terms = vocab_text.split("\n") if vocab_text else []
    n_docs, n_passages, n_terms, n_postings = (counts[key] for key in ("documents", "passages", "terms", "postings"))
    expected = {
        "doc_len": n_passages,
        "tf_indptr": n_terms + 1,
        "tf_indices": n_postings,
        "tf_data": n_postings,
        "weights": n_postings,
        "passage_doc": n_passages,
        "passage_start": n_passages,
        "passage_end": n_passages,
        "doc_text_offsets": n_docs + 1,
        "doc_meta_offsets": n_docs + 1,
    }
    for name, length in expected.items():
        if arrays[name].shape != (length,):
            raise _refuse(path, f"has {name}.npy of shape {arrays[name].shape}, but the counts say ({length},)")
    indptr = arrays["tf_indptr"]
    if (
        len(terms) != n_terms
        or len(doc_ids) != n_docs
        or int(indptr[0]) != 0
        or int(indptr[-1]) != n_postings
        or int(arrays["doc_text_offsets"][-1]) != arrays["doc_text"].shape[0]
        or int(arrays["doc_meta_offsets"][-1]) != arrays["doc_meta"].shape[0]
    ):
        raise _refuse(path, "has arrays that do not agree with each other or with the manifest's counts")
    term_freqs = sp.csc_matrix(
        (arrays["tf_data"], arrays["tf_indices"], indptr), shape=(n_passages, n_terms), copy=False
    )
    term_freqs.has_sorted_indices = True
    tables = _Tables(
        params=params,
        terms=terms,
        doc_len=arrays["doc_len"],
        term_freqs=term_freqs,
        weights=arrays["weights"],
        passage_doc=arrays["passage_doc"],
        passage_start=arrays["passage_start"],
        passage_end=arrays["passage_end"],
        doc_ids=doc_ids,
        doc_hashes=doc_hashes,
        doc_text=arrays["doc_text"],
        doc_text_offsets=arrays["doc_text_offsets"],
        doc_meta=arrays["doc_meta"],
        doc_meta_offsets=arrays["doc_meta_offsets"],
    )
    return manifest, tables


def load_index(path: Path, params: BM25Params | None = None, verify: bool = True) -> StoredIndex:
    """Open the saved index at ``path``, memory-mapped, after checking it.

    Always checked: format and version, the manifest's own checksum, the tokenizer fingerprint, and every array
    file's size, dtype and shape. With ``verify`` (the default) every array file's SHA-256 too, which reads every
    byte once (about 1 GB/s). ``params``: the BM25 settings to score with (default: the index's own); other
    settings than the index's recompute the weights from the stored counts. Raises IndexFormatError when the index
    is missing, damaged, altered or of another format version.
    """
    manifest, tables = _read_tables(path, verify)
    documents = tables.documents()
    passages = StoredPassages(documents, tables.passage_doc, tables.passage_start, tables.passage_end)
    index = tables.bm25_index(params or tables.params)
    return StoredIndex(Path(path), manifest, documents, passages, index)


def add_documents(path: Path, documents: Sequence[Document], progress: Progress | None = None) -> IndexUpdate:
    """Add ``documents`` to the saved index at ``path`` without re-tokenizing what it holds, atomically.

    The result equals a fresh build over the old documents followed by the new ones. A document whose text is
    already indexed, or whose doc_id is taken, is skipped and listed in ``IndexUpdate.skipped``.
    """
    target = _target(path)
    with _locked(target):
        _, tables = _read_tables(target, verify=True)
        known_hashes = dict(zip(tables.doc_hashes, tables.doc_ids, strict=True))
        known_ids = set(tables.doc_ids)
        fresh: list[Document] = []
        skipped: list[tuple[str, str]] = []
        for document in documents:
            digest = content_hash(document.text)
            if digest in known_hashes:
                skipped.append((document.doc_id, f"same text as {known_hashes[digest]!r}, already indexed"))
            elif document.doc_id in known_ids:
                skipped.append((document.doc_id, "doc_id already in the index (remove it first to replace it)"))
            else:
                fresh.append(document)
                known_hashes[digest] = document.doc_id
                known_ids.add(document.doc_id)
        if fresh:
            updated = _with_documents(tables, fresh, progress)
            _write_tables(target, updated)
        else:
            updated = tables
    return IndexUpdate(
        documents=len(updated.doc_ids),
        passages=int(updated.doc_len.shape[0]),
        changed=tuple(document.doc_id for document in fresh),
        skipped=tuple(skipped),
    )


def remove_documents(path: Path, doc_ids: Sequence[str]) -> IndexUpdate:
    """Remove documents by ``doc_id`` from the saved index at ``path``, atomically.

    The result equals a fresh build over the remaining documents. Unknown doc_ids are listed in
    ``IndexUpdate.skipped``; AskError when none is known or when nothing would remain.
    """
    target = _target(path)
    with _locked(target):
        _, tables = _read_tables(target, verify=True)
        position = {doc_id: i for i, doc_id in enumerate(tables.doc_ids)}
        removed = {position[doc_id] for doc_id in doc_ids if doc_id in position}
        skipped = tuple((doc_id, "not in the index") for doc_id in dict.fromkeys(doc_ids) if doc_id not in position)
        if not removed:
            raise AskError(f"none of {', '.join(map(repr, doc_ids))} is in {path}; nothing removed")
        if len(removed) == len(tables.doc_ids):
            raise AskError(f"removing {len(removed)} document(s) would leave {path} empty; delete the folder instead")
        updated = _without_documents(tables, removed)
        _write_tables(target, updated)
    return IndexUpdate(
        documents=len(updated.doc_ids),
        passages=int(updated.doc_len.shape[0]),
        changed=tuple(tables.doc_ids[i] for i in sorted(removed)),
        skipped=skipped,
    )
