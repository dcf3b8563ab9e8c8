"""Building an index in partitions: each run of documents is split, tokenized and counted on its own (in a worker
process when the corpus is large), and the partial counts are merged into the arrays one pass over all of them makes.

:func:`partition` is a pure function of its documents (picklable in and out, no global state that changes its
result), so any executor can run it: :func:`partials` runs it in this process, on a pool of worker processes, or
on any other :class:`Workers` (a Dask cluster's: :mod:`askidcpc.index.cluster`), through one ordered loop that keeps
a bounded number of partitions in flight. :class:`Merger` takes the partials in document order and makes the very arrays
of a single-pass build: pids, paragraph numbers, and the vocabulary in first-seen order (a term is numbered when it
first occurs in the token stream of all passages in pid order; a partition numbers its own terms that way, so taking
the partitions' new terms in order, each partition's in its own order, numbers them exactly as one pass would).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import logging
import multiprocessing
import os
import signal
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.errors import AskError
from askidcpc.index.stored import PackedText, TextPacker
from askidcpc.text.formats import content_hash
from askidcpc.text.sentences import paragraph_starts, split_spans
from askidcpc.text.tokenize import WORD, normalize, term_of
from askidcpc.types import Document

__all__ = [
    "MIN_PARTITION_CHARS",
    "PARALLEL_CHARS",
    "PARTITION_CHARS",
    "Counts",
    "Merger",
    "Partial",
    "Pending",
    "Workers",
    "chunks",
    "default_jobs",
    "in_order",
    "metadata_json",
    "partials",
    "partition",
    "release_freed_memory",
]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
ByteArray = npt.NDArray[np.uint8]
AnyIntArray = npt.NDArray[np.integer[Any]]

# Text per partition: large enough that merging partitions' vocabularies stays cheap, small enough for a smooth
# progress bar and little memory per worker.
PARTITION_CHARS = 2_000_000
MIN_PARTITION_CHARS = 200_000
# Below this much text, worker processes cost more (starting, sending documents) than they save.
PARALLEL_CHARS = 1_000_000
# Partitions per worker, at least, when the text allows.
_PER_WORKER = 4
# Partitions sent to the pool ahead of the one being merged, per worker: keeps the workers busy, bounds memory.
_AHEAD = 2


def metadata_json(document: Document) -> bytes:
    """A document's metadata as the saved index stores it: one compact JSON object, UTF-8."""
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


@dataclass(frozen=True)
class Counts:
    """Term counts of some rows (passages or paragraphs) as a CSC matrix over a partition's own terms: rows
    ascending within each column. Whole numbers of any integer dtype (a partial holds them narrow: :func:`_narrow`)."""

    indptr: AnyIntArray  # [terms + 1]
    rows: AnyIntArray  # [postings]
    counts: AnyIntArray  # [postings]

    @property
    def nnz(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Partial:
    """What a run of consecutive documents adds to an index; rows, documents and paragraphs numbered from 0 here."""

    terms: list[str]  # this partition's terms, numbered in first-seen order
    passage_len: Int32Array  # tokens in each passage
    passage_tf: Counts
    paragraph_len: Int32Array  # tokens in each paragraph
    paragraph_tf: Counts
    passage_doc: Int32Array
    passage_start: IntArray
    passage_end: IntArray
    passage_paragraph: Int32Array
    doc_ids: list[str]
    doc_hashes: list[str]
    doc_text: bytes  # the documents' texts, UTF-8, concatenated
    doc_text_len: IntArray
    doc_meta: bytes  # their metadata_json, concatenated
    doc_meta_len: IntArray

    @property
    def n_passages(self) -> int:
        return len(self.passage_len)

    @property
    def n_paragraphs(self) -> int:
        return len(self.paragraph_len)


class _WordIds(dict[str, int]):
    """A word as :data:`~askidcpc.text.tokenize.WORD` matches it -> the number of its term in :attr:`terms`
    (numbered as first met by this process), or -1 for a stop word. A memo only: kept from one partition to the next
    in a worker process (a word is stemmed once per process, not once per partition), emptied when it grows large;
    what a partition returns does not depend on it."""

    LIMIT = 1 << 21  # words remembered before the memo starts over

    def __init__(self) -> None:
        super().__init__()
        self.terms: list[str] = []
        self._numbers: dict[str, int] = {}

    def __missing__(self, word: str) -> int:
        term = term_of(word)
        if term is None:
            number = -1
        else:
            number = self._numbers.setdefault(term, len(self.terms))
            if number == len(self.terms):
                self.terms.append(term)
        self[word] = number
        return number


_word_ids = _WordIds()


def _memo() -> _WordIds:
    global _word_ids
    if len(_word_ids) > _WordIds.LIMIT:
        _word_ids = _WordIds()
    return _word_ids


def partition(documents: Sequence[Document]) -> Partial:
    """Split, tokenize and count ``documents``: their passages (the spans of
    :func:`~askidcpc.text.sentences.split_spans`), each passage's terms (exactly
    :func:`~askidcpc.text.tokenize.tokenize` of its text), paragraphs, and the documents' stored text, metadata and
    content hashes."""
    word_ids = _memo()
    lookup = word_ids.__getitem__
    ids = array("i")
    words_in: list[int] = []  # words (stop words too) in each passage
    passage_doc: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    new_paragraph: list[bool] = []
    for position, document in enumerate(documents):
        text = document.text
        spans = split_spans(text)
        new_paragraph.extend(paragraph_starts(text, spans))
        passage_doc.extend([position] * len(spans))
        # ASCII text normalizes to its lowercase, offset for offset: one pass for the whole document, and the
        # pattern (no anchors, no look-behind) finds in text[start:end] exactly what it finds between the bounds.
        lowered = text.lower() if text.isascii() else None
        for start, end in spans:
            found = (
                WORD.findall(lowered, start, end) if lowered is not None else WORD.findall(normalize(text[start:end]))
            )
            ids.extend(map(lookup, found))
            words_in.append(len(found))
            starts.append(start)
            ends.append(end)
    n_passages = len(words_in)
    token_ids = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, dtype=np.int32)
    token_rows = np.repeat(np.arange(n_passages, dtype=np.int64), np.asarray(words_in, dtype=np.int64))
    kept = token_ids >= 0
    token_ids, token_rows = token_ids[kept], token_rows[kept]
    # The memo's term numbers -> this partition's, in the order the terms first occur here.
    first_seen = np.full(len(word_ids.terms), len(token_ids), dtype=np.int64)
    np.minimum.at(first_seen, token_ids, np.arange(len(token_ids), dtype=np.int64))
    present = np.flatnonzero(first_seen < len(token_ids))
    in_order = present[np.argsort(first_seen[present])]
    local = np.empty(len(word_ids.terms), dtype=np.int64)
    local[in_order] = np.arange(len(in_order), dtype=np.int64)
    terms = list(map(word_ids.terms.__getitem__, in_order.tolist()))
    local_ids = local[token_ids]
    passage_len = np.bincount(token_rows, minlength=n_passages).astype(np.int32)
    passage_paragraph = np.cumsum(np.asarray(new_paragraph, dtype=np.int32), dtype=np.int32) - 1
    passage_tf, columns = _counts(local_ids, token_rows, n_passages, len(terms))
    n_paragraphs = int(passage_paragraph[-1]) + 1 if n_passages else 0
    paragraph_tf = _summed(passage_tf, columns, passage_paragraph, n_paragraphs)
    paragraph_len = np.bincount(passage_paragraph, weights=passage_len, minlength=n_paragraphs).astype(np.int32)
    texts = [document.text.encode("utf-8") for document in documents]
    metas = [metadata_json(document) for document in documents]
    return Partial(
        terms=terms,
        passage_len=passage_len,
        passage_tf=_narrow(passage_tf, n_passages),
        paragraph_len=paragraph_len,
        paragraph_tf=_narrow(paragraph_tf, n_paragraphs),
        passage_doc=np.asarray(passage_doc, dtype=np.int32),
        passage_start=np.asarray(starts, dtype=np.int64),
        passage_end=np.asarray(ends, dtype=np.int64),
        passage_paragraph=passage_paragraph,
        doc_ids=[document.doc_id for document in documents],
        doc_hashes=[content_hash(document.text) for document in documents],
        doc_text=b"".join(texts),
        doc_text_len=np.asarray([len(piece) for piece in texts], dtype=np.int64),
        doc_meta=b"".join(metas),
        doc_meta_len=np.asarray([len(piece) for piece in metas], dtype=np.int64),
    )


def _counts(term_ids: IntArray, rows: IntArray, n_rows: int, n_terms: int) -> tuple[Counts, IntArray]:
    """The CSC counts of tokens given as (term, row) pairs, and each posting's column."""
    # One key per token, term-major then row: runs of equal keys are (term, row) counts.
    keys = term_ids * max(n_rows, 1) + rows
    keys.sort()
    run_start = np.empty(len(keys), dtype=np.bool_)
    run_start[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=run_start[1:])
    starts = np.flatnonzero(run_start)
    counts = np.diff(starts, append=len(keys)).astype(np.int32)
    keys = keys[starts]
    columns = keys // max(n_rows, 1)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=n_terms), out=indptr[1:])
    return Counts(indptr, (keys - columns * max(n_rows, 1)).astype(np.int32), counts), columns


def _narrow(counts: Counts, n_rows: int) -> Counts:
    """``counts`` in the narrowest dtypes that hold them (pointers in 4 bytes, rows in 2 when there are at most
    65,536, counts in 1 when none is over 255): a partition's postings are sent to the merging process and held there
    until the merge, in about a third of the memory; the merge widens them again."""
    indptr = counts.indptr.astype(np.int32) if counts.nnz < 2**31 else counts.indptr
    rows = counts.rows.astype(np.uint16) if n_rows <= 1 << 16 else counts.rows
    values = counts.counts.astype(np.uint8) if not counts.nnz or int(counts.counts.max()) <= 255 else counts.counts
    return Counts(indptr, rows, values)


def _summed(counts: Counts, columns: IntArray, group_of: Int32Array, n_groups: int) -> Counts:
    """``counts`` with rows summed by group (``group_of``: each row's group, non-decreasing): postings sorted by
    (column, row) are then sorted by (column, group), so equal neighbours are summed, nothing is sorted again."""
    keys = columns * max(n_groups, 1) + group_of[counts.rows]
    run_start = np.empty(len(keys), dtype=np.bool_)
    run_start[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=run_start[1:])
    starts = np.flatnonzero(run_start)
    summed = np.add.reduceat(counts.counts, starts).astype(np.int32) if len(starts) else np.zeros(0, np.int32)
    keys = keys[starts]
    group_columns = keys // max(n_groups, 1)
    indptr = np.zeros(len(counts.indptr), dtype=np.int64)
    np.cumsum(np.bincount(group_columns, minlength=len(counts.indptr) - 1), out=indptr[1:])
    return Counts(indptr, (keys - group_columns * max(n_groups, 1)).astype(np.int32), summed)


# ---------------------------------------------------------------------------------------------------------------
# Merging


@dataclass(frozen=True)
class _Block:
    """One partition's counts, its columns numbered in the merged vocabulary, its rows after those before it."""

    columns: AnyIntArray  # merged column of each of its columns
    counts: Counts
    first_row: int


class _Stack:
    """The counts of row blocks stacked in order into one CSC matrix (rows ascending within each column): each
    block's postings are kept until :meth:`matrix`, which places them all in one pass."""

    def __init__(self) -> None:
        self._blocks: list[_Block] = []
        self._rows = 0

    def add(self, columns: AnyIntArray, counts: Counts, n_rows: int) -> None:
        self._blocks.append(_Block(columns, counts, self._rows))
        self._rows += n_rows

    def matrix(self, n_terms: int) -> sp.csc_matrix:
        sizes = np.zeros(n_terms, dtype=np.int64)
        for block in self._blocks:
            sizes[block.columns] += np.diff(block.counts.indptr)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        nnz = int(indptr[-1])
        index_dtype = np.int32 if max(nnz, self._rows, n_terms) < 2**31 - 1 else np.int64
        rows = np.empty(nnz, dtype=index_dtype)
        data = np.empty(nnz, dtype=np.int32)
        filled = indptr[:-1].copy()  # where each column's next postings go
        while self._blocks:
            block = self._blocks.pop(0)  # released as it is placed
            local = block.counts
            block_sizes = np.diff(local.indptr)
            # Each posting goes to its column's next free place plus its rank within its column in the block.
            at = np.repeat(filled[block.columns] - local.indptr[:-1], block_sizes)
            at += np.arange(local.nnz, dtype=np.int64)
            rows[at] = local.rows.astype(index_dtype) + block.first_row
            data[at] = local.counts
            filled[block.columns] += block_sizes
        matrix = sp.csc_matrix((data, rows, indptr), shape=(self._rows, n_terms), copy=False)
        matrix.has_sorted_indices = True
        release_freed_memory()
        return matrix


def release_freed_memory() -> None:
    """Hand memory freed by the partials back to the system. glibc's malloc keeps the freed blocks of the many
    partition arrays (a few MB each, below its adaptive threshold for mapping them on their own) in its heap, where
    at 1M passages they held 400 MB that the rest of the build could not reuse; ``malloc_trim`` returns them."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl has no malloc_trim): nothing to do
        ctypes.CDLL(None).malloc_trim(0)


class _Bytes:
    """Byte strings appended in order, with their offsets."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._lengths: list[IntArray] = []

    def add(self, joined: bytes, lengths: IntArray) -> None:
        self._pieces.append(joined)
        self._lengths.append(lengths)

    def arrays(self) -> tuple[ByteArray, IntArray]:
        """Everything added, joined (the pieces are released)."""
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        joined = np.empty(int(offsets[-1]), dtype=np.uint8)
        at = 0
        while self._pieces:
            piece = self._pieces.pop(0)
            joined[at : at + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
            at += len(piece)
        return joined, offsets


@dataclass(frozen=True)
class Merged:
    """What :meth:`Merger.merged` makes: the counts of every row, old and new; the rest for the new rows only,
    numbered after the old ones."""

    terms: list[str]  # every term, the existing ones first
    vocab: dict[str, int]  # term -> column
    passage_tf: sp.csc_matrix  # every passage's counts, the existing ones first
    passage_len: IntArray
    paragraph_tf: sp.csc_matrix  # every paragraph's counts
    paragraph_len: IntArray
    passage_doc: IntArray  # these four int32, as saved
    passage_start: IntArray
    passage_end: IntArray
    passage_paragraph: IntArray
    doc_ids: list[str]
    doc_hashes: list[str]
    texts: PackedText  # every document's text, the existing ones first, compressed as the saved index stores them
    doc_meta: ByteArray
    doc_meta_offsets: IntArray  # from 0


def _as_counts(matrix: sp.csc_matrix) -> Counts:
    return Counts(np.asarray(matrix.indptr, dtype=np.int64), np.asarray(matrix.indices), np.asarray(matrix.data))


class Merger:
    """Partials merged in document order, after an existing index's rows when given: its vocabulary ``terms`` (in
    column order), number of ``documents``, its passages' and paragraphs' counts (sorted CSC matrices), which
    come first in the merged matrices, and its documents' ``text`` (UTF-8, concatenated, with their offsets).
    The documents' texts are compressed as they are added, on a thread, while the next partitions are being made."""

    def __init__(
        self,
        terms: Sequence[str] = (),
        documents: int = 0,
        passage_tf: sp.csc_matrix | None = None,
        paragraph_tf: sp.csc_matrix | None = None,
        text: tuple[ByteArray, IntArray] | None = None,
    ) -> None:
        self._terms = list(terms)
        self._vocab = {term: column for column, term in enumerate(self._terms)}
        self._documents = documents
        self._passages = _Stack()
        self._paragraph_counts = _Stack()
        self._paragraphs = 0 if paragraph_tf is None else int(paragraph_tf.shape[0])
        old_columns = np.arange(len(self._terms), dtype=np.int64)
        for stack, matrix in ((self._passages, passage_tf), (self._paragraph_counts, paragraph_tf)):
            if matrix is not None and matrix.shape[0]:
                stack.add(old_columns[: matrix.shape[1]], _as_counts(matrix), int(matrix.shape[0]))
        self._rows: dict[str, list[IntArray]] = {
            name: [] for name in ("passage_len", "paragraph_len", "doc", "start", "end", "paragraph")
        }
        self._doc_ids: list[str] = []
        self._doc_hashes: list[str] = []
        self._text = TextPacker()
        self._text_lengths: list[IntArray] = []
        if text is not None and len(text[1]) > 1:
            old_text, old_offsets = text
            old_offsets = np.asarray(old_offsets, dtype=np.int64)
            self._text_lengths.append(old_offsets[1:] - old_offsets[:-1])
            self._text.add(old_text[int(old_offsets[0]) : int(old_offsets[-1])], self._text_lengths[0])
        self._meta = _Bytes()

    def add(self, part: Partial) -> None:
        """Append the next partition's passages and documents."""
        vocab = self._vocab
        columns = np.fromiter(map(vocab.get, part.terms, itertools.repeat(-1)), np.int32, len(part.terms))
        # New terms numbered in the partition's first-seen order (its terms are distinct), after all seen before.
        new = np.flatnonzero(columns < 0)
        columns[new] = np.arange(len(self._terms), len(self._terms) + len(new), dtype=np.int32)
        new_terms = [part.terms[i] for i in new.tolist()]
        vocab.update(zip(new_terms, range(len(self._terms), len(self._terms) + len(new)), strict=True))
        self._terms.extend(new_terms)
        self._passages.add(columns, part.passage_tf, part.n_passages)
        self._paragraph_counts.add(columns, part.paragraph_tf, part.n_paragraphs)
        rows = self._rows
        # Offsets and numbers as int32, the saved index's dtype (it refuses more than 2**31 of anything).
        rows["passage_len"].append(part.passage_len.astype(np.int64))
        rows["paragraph_len"].append(part.paragraph_len.astype(np.int64))
        rows["doc"].append(part.passage_doc + np.int32(self._documents))
        rows["start"].append(part.passage_start.astype(np.int32))
        rows["end"].append(part.passage_end.astype(np.int32))
        rows["paragraph"].append(part.passage_paragraph + np.int32(self._paragraphs))
        self._documents += len(part.doc_ids)
        self._paragraphs += part.n_paragraphs
        self._doc_ids.extend(part.doc_ids)
        self._doc_hashes.extend(part.doc_hashes)
        self._text.add(part.doc_text, part.doc_text_len)
        self._text_lengths.append(part.doc_text_len)
        self._meta.add(part.doc_meta, part.doc_meta_len)

    def merged(self) -> Merged:
        """Everything added, as arrays; the merger is spent."""

        def joined(name: str) -> IntArray:
            pieces = self._rows.pop(name)
            return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)

        n_terms = len(self._terms)
        text_offsets = np.zeros(sum(map(len, self._text_lengths)) + 1, dtype=np.int64)
        if self._text_lengths:
            np.cumsum(np.concatenate(self._text_lengths), out=text_offsets[1:])
        packed, blocks, block_docs = self._text.packed()
        texts = PackedText(packed, text_offsets, blocks, block_docs)
        meta, meta_offsets = self._meta.arrays()
        return Merged(
            terms=self._terms,
            vocab=self._vocab,
            passage_tf=self._passages.matrix(n_terms),
            passage_len=joined("passage_len"),
            paragraph_tf=self._paragraph_counts.matrix(n_terms),
            paragraph_len=joined("paragraph_len"),
            passage_doc=joined("doc"),
            passage_start=joined("start"),
            passage_end=joined("end"),
            passage_paragraph=joined("paragraph"),
            doc_ids=self._doc_ids,
            doc_hashes=self._doc_hashes,
            texts=texts,
            doc_meta=meta,
            doc_meta_offsets=meta_offsets,
        )


# ---------------------------------------------------------------------------------------------------------------
# Running the partitions


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def chunks(documents: Sequence[Document], chars: int) -> list[Sequence[Document]]:
    """``documents`` cut into runs of consecutive documents of about ``chars`` characters of text each (at least one
    document a run)."""
    runs: list[Sequence[Document]] = []
    first, size = 0, 0
    for i, document in enumerate(documents):
        size += len(document.text)
        if size >= chars:
            runs.append(documents[first : i + 1])
            first, size = i + 1, 0
    if first < len(documents):
        runs.append(documents[first:])
    return runs


def _quiet_worker() -> None:
    """A worker leaves Ctrl-C to the process that started it, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Pending(Protocol):
    """A partition started on a worker (a :class:`concurrent.futures.Future`, or a cluster's future)."""

    def result(self) -> Partial:
        """The partial, once done. Raises AskError when it cannot be made (its worker lost for good)."""
        ...


class Workers(Protocol):
    """Processes besides this one that run :func:`partition`: a pool of processes on this machine (what ``jobs``
    starts), or a cluster's workers (:class:`askidcpc.index.cluster.DaskWorkers`)."""

    @property
    def slots(self) -> int:
        """How many partitions run at once."""
        ...

    def submit(self, run: Sequence[Document]) -> Pending:
        """Start ``partition(run)`` on a worker."""
        ...


class _Pool:
    """A :class:`ProcessPoolExecutor` as :class:`Workers`."""

    def __init__(self, pool: ProcessPoolExecutor, jobs: int) -> None:
        self._pool = pool
        self.slots = jobs

    def submit(self, run: Sequence[Document]) -> Pending:
        return self._pool.submit(partition, run)


def partials(
    documents: Sequence[Document],
    jobs: int,
    progress: Callable[[int], None] | None = None,
    chars: int | None = None,
    context: str | None = None,
    workers: Workers | None = None,
) -> Iterator[Partial]:
    """:func:`partition` of ``documents`` in runs of about ``chars`` characters, in order; on ``workers`` when given
    (whatever the size of the corpus; ``jobs`` is then ignored), else on ``jobs`` worker processes when that is more
    than 1 and there is enough text to be worth it (:data:`PARALLEL_CHARS`), else in this process. By default a
    partition holds at most :data:`PARTITION_CHARS` of text (which bounds the memory a partition takes), and on
    workers at least :data:`MIN_PARTITION_CHARS`, several for each worker when there is enough. ``progress`` is
    called with the number of documents of each partition merged. ``context``: the multiprocessing start method of
    the pool (default: the platform's). Raises AskError when a worker process dies (or, on ``workers``, is lost
    for good)."""
    total = sum(len(document.text) for document in documents)
    slots = jobs if workers is None else workers.slots
    parallel = workers is not None or (jobs > 1 and total >= PARALLEL_CHARS)
    if chars is None:
        # Enough partitions for every worker to have several (the last ones finish close together), each of at most
        # PARTITION_CHARS, and not so small that merging many vocabularies costs more than it saves.
        share = max(total // (_PER_WORKER * slots), MIN_PARTITION_CHARS) if parallel else PARTITION_CHARS
        chars = min(PARTITION_CHARS, share)
    runs = chunks(documents, max(chars, 1))
    if workers is not None:
        yield from in_order(runs, workers, progress)
    elif not parallel or len(runs) <= 1:
        for run in runs:
            yield partition(run)
            if progress is not None:
                progress(len(run))
    else:
        yield from _on_pool(runs, min(jobs, len(runs)), progress, context)


def in_order(
    runs: Iterable[Sequence[Document]], workers: Workers, progress: Callable[[int], None] | None = None
) -> Iterator[Partial]:
    """:func:`partition` of each run on ``workers``, yielded in the order of ``runs``: at most :data:`_AHEAD` per
    slot in flight (which keeps the workers busy and bounds the memory results waiting to be merged take), one
    started as each one is taken. ``progress`` is called with the number of documents of each run taken."""
    pending: deque[tuple[Pending, int]] = deque()
    todo = iter(runs)
    for run in todo:
        pending.append((workers.submit(run), len(run)))
        if len(pending) >= _AHEAD * max(workers.slots, 1):
            break
    while pending:
        future, size = pending.popleft()
        part = future.result()
        del future  # a cluster's worker can drop the result once no future refers to it
        for run in todo:  # one in, one out
            pending.append((workers.submit(run), len(run)))
            break
        if progress is not None:
            progress(size)
        yield part


def _on_pool(
    runs: Iterable[Sequence[Document]], jobs: int, progress: Callable[[int], None] | None, context: str | None
) -> Iterator[Partial]:
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(context), initializer=_quiet_worker)
    finished = False
    try:
        yield from in_order(runs, _Pool(pool, jobs), progress)
        finished = True
    except BrokenProcessPool as exc:
        raise AskError(
            "a worker process building the index stopped unexpectedly (out of memory, or killed); try again with "
            "fewer jobs (--jobs)"
        ) from exc
    finally:
        # After an error, Ctrl-C or the consumer stopping early, queued partitions are dropped and the ones running
        # let finish (a partition is bounded, PARTITION_CHARS: about a second). Ending a busy worker instead can cut a
        # result off halfway into the pool's pipe, whose reader then waits for the rest forever, and the interpreter
        # with it at exit (seen as a Ctrl-C that never ended).
        pool.shutdown(wait=True, cancel_futures=not finished)
