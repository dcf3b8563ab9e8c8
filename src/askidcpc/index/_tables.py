"""The arrays of a saved index in memory, and the pure functions that build, extend and shrink them.

:class:`Tables` is what :mod:`askidcpc.index.store` writes and reads. :func:`with_documents` splits and tokenizes only
the documents it adds and numbers new terms in first-seen order, exactly as :func:`askidcpc.index.bm25.build_index`
does, so an index built in steps has the very counts of one built at once; :func:`without_documents` drops terms no
passage uses any more, as a fresh build would never have had them.

Passage vectors (optional) are rows aligned with the passages: :func:`with_documents` has them made for the new
passages by a :class:`PassageEncoder` it is given (the store never makes them itself, and never imports the reader),
:func:`without_documents` drops the removed passages' rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.config import BM25Params
from askidcpc.index._kernels import TermBounds
from askidcpc.index.bm25 import BM25Index, index_from_counts, length_norms, term_idf, weights_of
from askidcpc.index.paragraphs import paragraph_ids, paragraph_index
from askidcpc.index.partition import Merger, Workers, metadata_json, partials, release_freed_memory
from askidcpc.index.stored import PackedText, StoredDocuments, pack_text
from askidcpc.text.formats import content_hash
from askidcpc.types import Document, Passage

__all__ = [
    "PassageEncoder",
    "Progress",
    "Tables",
    "VectorModel",
    "empty_tables",
    "tables_from_pipeline_parts",
    "with_documents",
    "without_documents",
]

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
"""Called with a count of documents just processed, so an edge can show a progress bar."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]
HalfArray = npt.NDArray[np.float16]


@dataclass(frozen=True)
class VectorModel:
    """The sentence encoder that made an index's passage vectors: its manifest's ``vectors`` entry. Vectors of two
    models (or of two versions of one) are not comparable, so this names the model exactly."""

    name: str
    version: str
    dim: int

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name and isinstance(self.version, str) and self.version):
            raise ValueError("a vectors model needs a non-empty name and version")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"a vectors model's dim must be a positive whole number, not {self.dim!r}")

    def record(self) -> dict[str, Any]:
        """The manifest entry: ``{"model": ..., "version": ..., "dim": ...}``."""
        return {"model": self.name, "version": self.version, "dim": self.dim}

    @classmethod
    def from_record(cls, record: Any) -> VectorModel:
        """The model a manifest entry names; KeyError, TypeError or ValueError when it is malformed."""
        if not isinstance(record, dict) or set(record) != {"model", "version", "dim"}:
            raise ValueError(f"the vectors entry must be {{'model', 'version', 'dim'}}, not {record!r}")
        return cls(record["model"], record["version"], record["dim"])

    def __str__(self) -> str:
        return f"{self.name} ({self.version}, {self.dim} dimensions)"


class PassageEncoder(Protocol):
    """What the saved index needs of a sentence encoder: which model it is, and unit vectors for passage texts, one
    row per text (any float dtype; stored as float16). The edges implement it over
    :class:`askidcpc.reader.semantic.Encoder`; the index never imports the reader."""

    @property
    def model(self) -> VectorModel: ...

    def encode_passages(self, texts: Sequence[str]) -> npt.NDArray[Any]: ...


def encoded(encoder: PassageEncoder, texts: Sequence[str]) -> HalfArray:
    """``encoder``'s vectors of ``texts`` as float16 rows, checked (shape, finite); the encoder is not called for no
    texts."""
    dim = encoder.model.dim
    if not texts:
        return np.zeros((0, dim), dtype=np.float16)
    vectors = np.asarray(encoder.encode_passages(texts))
    if vectors.shape != (len(texts), dim):
        raise ValueError(f"the encoder returned vectors of shape {vectors.shape} for {len(texts)} texts of {dim}")
    half = vectors.astype(np.float16)
    if not np.isfinite(half).all():
        raise ValueError("the encoder returned vectors that are not finite (or overflow float16)")
    return half


@dataclass(frozen=True, eq=False)
class Tables:
    """Everything a saved index holds, as arrays (numpy or memory-mapped) plus the few Python lists.

    No BM25 weight is held or stored: the search bounds are made from weights computed from the counts when the arrays
    are written. Tables read for serving hold the documents' texts compressed (``packed_text``) and an empty
    ``doc_text``; tables read to be updated hold them plain."""

    params: BM25Params
    terms: list[str]
    doc_len: IntArray
    term_freqs: sp.csc_matrix
    passage_doc: IntArray
    passage_start: IntArray
    passage_end: IntArray
    doc_ids: Sequence[str]
    doc_hashes: Sequence[str]
    doc_text: ByteArray
    doc_text_offsets: IntArray
    doc_meta: ByteArray
    doc_meta_offsets: IntArray
    passage_paragraph: IntArray  # each passage's paragraph, non-decreasing from 0
    # The paragraphs' term counts and lengths as read from a saved index or made by a build; computed (from the
    # passages' counts) when None.
    paragraph_tf: sp.csc_matrix | None = None
    paragraph_len: IntArray | None = None
    # The search bounds of the passages and of the paragraphs under ``params``, as read from a saved index or made
    # by a build.
    bounds: TermBounds | None = None
    paragraph_bounds: TermBounds | None = None
    packed_text: PackedText | None = None
    # Each passage's sentence vector (float16 rows aligned with the passages) and the model that made them; or None.
    passage_vectors: HalfArray | None = None
    vector_model: VectorModel | None = None

    def __post_init__(self) -> None:
        if (self.passage_vectors is None) != (self.vector_model is None):
            raise ValueError("passage vectors and the model that made them go together")
        if self.passage_vectors is not None and self.vector_model is not None:
            expected = (int(self.doc_len.shape[0]), self.vector_model.dim)
            if self.passage_vectors.shape != expected:
                raise ValueError(f"passage vectors of shape {self.passage_vectors.shape}, expected {expected}")

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays of the saved index (format version 3), each in the narrowest dtype its values fit."""
        index = self.bm25_index(self.params)
        tf = self.term_freqs
        paragraphs = self.paragraph_index(self.params)
        ptf = paragraphs.term_freqs
        index_dtype = np.int32 if max(tf.nnz, ptf.nnz, tf.shape[0], tf.shape[1]) < 2**31 - 1 else np.int64
        sentence_bounds = self.bounds or TermBounds(tf.indptr, index.all_weights())
        paragraph_bounds = self.paragraph_bounds or TermBounds(ptf.indptr, paragraphs.all_weights())
        vocab = "\n".join(self.terms).encode("utf-8")
        if self.packed_text is not None and self.packed_text.compressed:
            text, text_blocks, block_docs = self.packed_text.blocks()
        else:
            text, text_blocks, block_docs = pack_text(self.doc_text, np.asarray(self.doc_text_offsets, dtype=np.int64))
        doc_ids = json.dumps(list(self.doc_ids), ensure_ascii=False).encode("utf-8")
        digests = b"".join(bytes.fromhex(digest) for digest in self.doc_hashes)
        arrays: dict[str, npt.NDArray[Any]] = {
            "vocab": np.frombuffer(vocab, dtype=np.uint8),
            "doc_len": narrowest(self.doc_len),
            "tf_indptr": np.asarray(tf.indptr, dtype=index_dtype),
            "tf_indices": np.asarray(tf.indices, dtype=index_dtype),
            "tf_data": narrowest(tf.data),
            "term_upper": rounded_up(sentence_bounds.upper),
            "block_max": rounded_up(sentence_bounds.block_max),
            "passage_doc": np.asarray(self.passage_doc, dtype=np.int32),
            "passage_start": narrowest(self.passage_start),
            "passage_end": narrowest(self.passage_end),
            "doc_ids": np.frombuffer(doc_ids, dtype=np.uint8),
            "doc_sha256": np.frombuffer(digests, dtype=np.uint8).reshape(len(self.doc_hashes), 32),
            "doc_text": text,
            "doc_text_offsets": np.asarray(self.doc_text_offsets, dtype=np.int64),
            "doc_text_blocks": text_blocks,
            "doc_text_block_docs": block_docs,
            "doc_meta": self.doc_meta,
            "doc_meta_offsets": np.asarray(self.doc_meta_offsets, dtype=np.int64),
            "passage_paragraph": np.asarray(self.passage_paragraph, dtype=np.int32),
            "paragraph_len": narrowest(paragraphs.doc_len),
            "paragraph_tf_indptr": np.asarray(ptf.indptr, dtype=index_dtype),
            "paragraph_tf_indices": np.asarray(ptf.indices, dtype=index_dtype),
            "paragraph_tf_data": narrowest(ptf.data),
            "paragraph_term_upper": rounded_up(paragraph_bounds.upper),
            "paragraph_block_max": rounded_up(paragraph_bounds.block_max),
        }
        if self.passage_vectors is not None:
            arrays["passage_vectors"] = np.asarray(self.passage_vectors, dtype=np.float16)
        return arrays

    @property
    def n_paragraphs(self) -> int:
        return int(self.passage_paragraph[-1]) + 1 if len(self.passage_paragraph) else 0

    def passage_texts(self) -> list[str]:
        """Every passage's text, in pid order."""
        documents = self.documents()
        spans = zip(
            np.asarray(self.passage_doc).tolist(),
            np.asarray(self.passage_start).tolist(),
            np.asarray(self.passage_end).tolist(),
            strict=True,
        )
        return [documents.text(doc)[start:end] for doc, start, end in spans]

    def vocab(self) -> dict[str, int]:
        return dict(zip(self.terms, range(len(self.terms)), strict=True))

    def documents(self) -> StoredDocuments:
        return StoredDocuments(
            self.doc_ids,
            self.packed_text or PackedText.plain(self.doc_text, self.doc_text_offsets),
            self.doc_meta,
            self.doc_meta_offsets,
        )

    def bm25_index(self, params: BM25Params, vocab: dict[str, int] | None = None) -> BM25Index:
        """The BM25 index under ``params``, with the stored search bounds when its settings are the index's (other
        settings compute them at the first search). ``vocab``: :meth:`vocab`, if already made."""
        vocab = self.vocab() if vocab is None else vocab
        if params != self.params:
            log.info("BM25 settings differ from the saved index's; its search bounds are computed at the first search")
        bounds = self.bounds if params == self.params else None
        return index_from_counts(params, vocab, self.doc_len, self.term_freqs, bounds)

    def paragraph_index(self, params: BM25Params, vocab: dict[str, int] | None = None) -> BM25Index:
        """The paragraphs' BM25 index under ``params``: from the stored paragraph counts, else (tables not read from
        a saved index) from the passages' counts."""
        vocab = self.vocab() if vocab is None else vocab
        if self.paragraph_tf is None or self.paragraph_len is None:
            return paragraph_index(self.bm25_index(params, vocab), self.passage_paragraph, params)
        bounds = self.paragraph_bounds if params == self.params else None
        return index_from_counts(params, vocab, self.paragraph_len, self.paragraph_tf, bounds)


def narrowest(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """Non-negative whole numbers in the narrowest of uint8, uint16, int32 and int64 that holds them."""
    array = np.asarray(values)
    top = int(array.max()) if array.size else 0
    if array.size and int(array.min()) < 0:
        raise ValueError("narrowest() holds non-negative numbers only")
    for dtype in (np.uint8, np.uint16, np.int32):
        if top <= np.iinfo(dtype).max:
            return array.astype(dtype, copy=False)
    return array.astype(np.int64, copy=False)


def rounded_up(values: FloatArray) -> npt.NDArray[np.float32]:
    """float32 values none below the given float64 ones (each rounded to nearest, then up a step where that fell
    below): bounds stay bounds at half the size."""
    near = np.asarray(values, dtype=np.float64).astype(np.float32)
    below = near.astype(np.float64) < values
    near[below] = np.nextafter(near[below], np.float32(np.inf))
    return near


def blob(pieces: Sequence[bytes]) -> tuple[ByteArray, IntArray]:
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(piece) for piece in pieces], out=offsets[1:])
    return np.frombuffer(b"".join(pieces), dtype=np.uint8), offsets


def column_sizes(indptr: Any) -> IntArray:
    pointers = np.asarray(indptr, dtype=np.int64)
    sizes: IntArray = pointers[1:] - pointers[:-1]
    return sizes


def renumbered(paragraphs: IntArray) -> IntArray:
    """Non-decreasing paragraph numbers made consecutive from 0 (after passages were dropped)."""
    numbers = np.asarray(paragraphs, dtype=np.int64)
    if not len(numbers):
        return numbers
    changes = np.zeros(len(numbers), dtype=np.int64)
    changes[1:] = numbers[1:] != numbers[:-1]
    return np.cumsum(changes)


def empty_tables(params: BM25Params) -> Tables:
    empty = np.zeros(0, dtype=np.int64)
    return Tables(
        params=params,
        terms=[],
        doc_len=empty,
        term_freqs=sp.csc_matrix((0, 0), dtype=np.int32),
        passage_doc=empty,
        passage_start=empty,
        passage_end=empty,
        doc_ids=[],
        doc_hashes=[],
        doc_text=np.zeros(0, dtype=np.uint8),
        doc_text_offsets=np.zeros(1, dtype=np.int64),
        doc_meta=np.zeros(0, dtype=np.uint8),
        doc_meta_offsets=np.zeros(1, dtype=np.int64),
        passage_paragraph=empty,
    )


def with_documents(
    tables: Tables,
    documents: Sequence[Document],
    progress: Progress | None,
    encoder: PassageEncoder | None = None,
    jobs: int = 1,
    workers: Workers | None = None,
) -> Tables:
    """``tables`` with ``documents`` appended: only the new documents are split and tokenized, in partitions on
    ``workers`` (a cluster's) when given, else on ``jobs`` worker processes when there are enough of them (see
    :func:`askidcpc.index.partition.partials`).

    Passage vectors: when ``tables`` holds them, ``encoder`` (of the same model) encodes the new passages and their
    rows are appended; when it does not and an ``encoder`` is given, every passage (old and new) is encoded.
    Raises AskError when a worker process dies.
    """
    old_paragraphs = tables.paragraph_index(tables.params) if len(tables.doc_len) else None
    merger = Merger(
        tables.terms,
        len(tables.doc_ids),
        tables.term_freqs if old_paragraphs is not None else None,
        old_paragraphs.term_freqs if old_paragraphs is not None else None,
        (tables.packed_text.unpacked() if tables.packed_text is not None else tables.doc_text, tables.doc_text_offsets),
    )
    for part in partials(documents, jobs, progress, workers=workers):
        merger.add(part)
        del part  # the merger keeps what it needs
    new = merger.merged()
    positions = new.passage_doc - len(tables.doc_ids)
    vectors, model = _vectors_with(tables, documents, positions, new.passage_start, new.passage_end, encoder)
    doc_len = _after(tables.doc_len, new.passage_len)
    old_lengths = tables.doc_len[:0] if old_paragraphs is None else old_paragraphs.doc_len
    paragraph_len = _after(old_lengths, new.paragraph_len)
    # One weights array at a time, each dropped once its bounds are made (the saved index stores no weights).
    bounds = search_bounds(tables.params, doc_len, new.passage_tf)
    paragraph_bounds = search_bounds(tables.params, paragraph_len, new.paragraph_tf)
    release_freed_memory()  # the blocks' temporaries
    return Tables(
        params=tables.params,
        terms=new.terms,
        doc_len=doc_len,
        term_freqs=new.passage_tf,
        passage_doc=_after(tables.passage_doc, new.passage_doc),
        passage_start=_after(tables.passage_start, new.passage_start),
        passage_end=_after(tables.passage_end, new.passage_end),
        doc_ids=[*tables.doc_ids, *new.doc_ids],
        doc_hashes=[*tables.doc_hashes, *new.doc_hashes],
        doc_text=np.zeros(0, dtype=np.uint8),
        doc_text_offsets=new.texts.offsets,
        doc_meta=_after(tables.doc_meta, new.doc_meta),
        doc_meta_offsets=_after(tables.doc_meta_offsets[:-1], new.doc_meta_offsets + tables.doc_meta_offsets[-1]),
        passage_paragraph=_after(tables.passage_paragraph, new.passage_paragraph),
        paragraph_tf=new.paragraph_tf,
        paragraph_len=paragraph_len,
        bounds=bounds,
        paragraph_bounds=paragraph_bounds,
        packed_text=new.texts,
        passage_vectors=vectors,
        vector_model=model,
    )


def posting_weights(
    params: BM25Params, doc_len: IntArray, term_freqs: sp.csc_matrix, block: int = 1 << 20
) -> FloatArray:
    """The BM25 weight of each posting of ``term_freqs`` (rows of lengths ``doc_len``): exactly
    ``index_from_counts(params, vocab, doc_len, term_freqs).all_weights()``, the same operations on each posting
    (:func:`~askidcpc.index.bm25.weights_of`), but a block of columns at a time, so that the float64 temporaries
    take a few MB rather than three times the weights (over 400 MB at 1M passages)."""
    n_docs = int(doc_len.shape[0])
    norm = length_norms(params, doc_len)
    indptr = np.asarray(term_freqs.indptr, dtype=np.int64)
    doc_freq = np.diff(indptr)
    idf = term_idf(params, doc_freq.astype(np.float64), n_docs)
    weights = np.empty(term_freqs.nnz, dtype=np.float64)
    # Column bounds about ``block`` postings apart (a column longer than a block is a block of its own).
    bounds = np.unique(np.searchsorted(indptr, np.arange(0, term_freqs.nnz, block), side="right") - 1)
    bounds = np.append(bounds[bounds > 0], len(doc_freq)) if len(doc_freq) else bounds[:0]
    first = 0
    for last in bounds.tolist():
        lo, hi = int(indptr[first]), int(indptr[last])
        weights[lo:hi] = weights_of(
            params,
            term_freqs.data[lo:hi],
            norm[term_freqs.indices[lo:hi]],
            np.repeat(idf[first:last], doc_freq[first:last]),
        )
        first = last
    return weights


def search_bounds(params: BM25Params, doc_len: IntArray, term_freqs: sp.csc_matrix) -> TermBounds:
    """The search's term bounds of these counts: from every posting's weight, which are not kept."""
    return TermBounds(term_freqs.indptr, posting_weights(params, doc_len, term_freqs))


def _after(old: npt.NDArray[Any], new: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``new`` appended to ``old`` (``new`` itself when ``old`` is empty: no copy of a large array)."""
    return np.concatenate([np.asarray(old), new]) if len(old) else new


def _vectors_with(
    tables: Tables,
    documents: Sequence[Document],
    passage_doc: npt.NDArray[Any],
    starts: npt.NDArray[Any],
    ends: npt.NDArray[Any],
    encoder: PassageEncoder | None,
) -> tuple[HalfArray | None, VectorModel | None]:
    """The passage vectors of ``tables`` with the new passages' rows appended (see :func:`with_documents`); the new
    passages given by their document's position in ``documents`` and offsets."""
    if encoder is None:
        if tables.passage_vectors is not None:
            raise ValueError("these tables hold passage vectors: adding passages needs their encoder")
        return None, None
    if tables.vector_model is not None and encoder.model != tables.vector_model:
        raise ValueError(f"passage vectors by {tables.vector_model} cannot be extended by {encoder.model}")
    spans = zip(passage_doc.tolist(), starts.tolist(), ends.tolist(), strict=True)
    new_texts = [documents[doc].text[start:end] for doc, start, end in spans]
    if tables.passage_vectors is None:
        return encoded(encoder, [*tables.passage_texts(), *new_texts]), encoder.model
    old = np.asarray(tables.passage_vectors, dtype=np.float16)
    return np.concatenate([old, encoded(encoder, new_texts)]), encoder.model


def without_documents(tables: Tables, removed: set[int]) -> Tables:
    """``tables`` without the documents at positions ``removed``; terms no passage uses any more are dropped."""
    keep_docs = np.array([i not in removed for i in range(len(tables.doc_ids))], dtype=bool)
    keep_rows = keep_docs[np.asarray(tables.passage_doc, dtype=np.int64)]
    new_position = np.cumsum(keep_docs) - 1
    term_freqs = sp.csc_matrix(tables.term_freqs[np.flatnonzero(keep_rows), :])
    used = np.flatnonzero(column_sizes(term_freqs.indptr) > 0)
    term_freqs = sp.csc_matrix(term_freqs[:, used])
    term_freqs.sort_indices()
    terms = [tables.terms[int(column)] for column in used]
    doc_len = np.asarray(tables.doc_len, dtype=np.int64)[keep_rows]

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
    return Tables(
        params=tables.params,
        terms=terms,
        doc_len=doc_len,
        term_freqs=term_freqs,
        passage_doc=new_position[np.asarray(tables.passage_doc, dtype=np.int64)[keep_rows]],
        passage_start=np.asarray(tables.passage_start)[keep_rows],
        passage_end=np.asarray(tables.passage_end)[keep_rows],
        doc_ids=[doc_id for i, doc_id in enumerate(tables.doc_ids) if keep_docs[i]],
        doc_hashes=[digest for i, digest in enumerate(tables.doc_hashes) if keep_docs[i]],
        doc_text=text,
        doc_text_offsets=text_offsets,
        doc_meta=meta,
        doc_meta_offsets=meta_offsets,
        passage_paragraph=renumbered(np.asarray(tables.passage_paragraph)[keep_rows]),
        passage_vectors=None if tables.passage_vectors is None else np.asarray(tables.passage_vectors)[keep_rows],
        vector_model=tables.vector_model,
    )


def tables_from_pipeline_parts(
    documents: Sequence[Document],
    passages: Sequence[Passage],
    index: BM25Index,
    passage_vectors: npt.NDArray[Any] | None = None,
    vector_model: VectorModel | None = None,
) -> Tables:
    position = {document.doc_id: i for i, document in enumerate(documents)}
    terms = [""] * len(index.vocab)
    for term, column in index.vocab.items():
        terms[column] = term
    text, text_offsets = blob([document.text.encode("utf-8") for document in documents])
    meta, meta_offsets = blob([metadata_json(document) for document in documents])
    term_freqs = sp.csc_matrix(index.term_freqs)
    term_freqs.sort_indices()
    return Tables(
        params=index.params,
        terms=terms,
        doc_len=np.asarray(index.doc_len, dtype=np.int64),
        term_freqs=term_freqs,
        passage_doc=np.asarray([position[passage.doc_id] for passage in passages], dtype=np.int64),
        passage_start=np.asarray([passage.start for passage in passages], dtype=np.int64),
        passage_end=np.asarray([passage.end for passage in passages], dtype=np.int64),
        doc_ids=[document.doc_id for document in documents],
        doc_hashes=[content_hash(document.text) for document in documents],
        doc_text=text,
        doc_text_offsets=text_offsets,
        doc_meta=meta,
        doc_meta_offsets=meta_offsets,
        passage_paragraph=paragraph_ids(passages, {document.doc_id: document for document in documents}),
        passage_vectors=None if passage_vectors is None else np.asarray(passage_vectors, dtype=np.float16),
        vector_model=vector_model,
    )
