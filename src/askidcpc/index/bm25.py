"""BM25 over passages: an immutable sparse index and small pure scoring functions, one set per variant.

Variants (``BM25Params.variant``):

- ``okapi``: exactly rank-bm25's ``BM25Okapi``: ``idf = log((N - n + 0.5) / (n + 0.5))``, and terms whose idf is
  negative (in over half of the passages) get ``epsilon * mean(idf)`` instead.
- ``lucene``: Lucene's always-positive ``idf = log(1 + (N - n + 0.5) / (n + 0.5))`` with Okapi's tf part.
- ``plus``: BM25+ as published (Lv & Zhai 2011): ``delta`` is added to the tf part of *matching* terms only.
  rank-bm25's ``BM25Plus`` also adds it for absent terms, which shifts every score equally and changes no ranking.
- ``l``: BM25L, likewise for matching terms only.

The index holds, per (term, passage) posting, the term frequency, in a CSC matrix (one column a term); a posting's
weight (the term's BM25 contribution for a query weight of 1) is computed from it with the same float64 operations in
the same order as a stored weight was (:func:`weights_of`), so scores are exact and identical whichever path computes
them. A term's weights are computed the first time a query uses it (a vectorised pass over its postings: about 3 ms
for a term in 400k passages) and kept for later queries (:meth:`BM25Index.weights_for`), so searches read weights as
they read stored ones. :meth:`BM25Index.scores` is a scatter-add over the query terms' postings;
:meth:`BM25Index.search` finds the top k exactly: with dynamic pruning (MaxScore with block-max bounds, compiled with
numba; see :mod:`askidcpc.index._kernels`) on an index of a million postings or more, else (or when numba is not
installed) exhaustively with numpy, which is as fast there and needs no compiling.
A query is a mapping ``term -> weight``; repeating a term in rank-bm25 equals weight 2.
"""

from __future__ import annotations

import mmap
import os
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.config import VARIANTS, BM25Params
from askidcpc.index import _kernels
from askidcpc.index._kernels import numpy_until_loaded, use_compiled

__all__ = [
    "VARIANTS",
    "BM25Index",
    "BM25Params",
    "TermIdf",
    "build_index",
    "index_from_counts",
    "length_norms",
    "numpy_until_loaded",
    "query_weights",
    "sparse_buffer",
    "top_k",
    "use_compiled",
    "weights_of",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def idf_okapi(doc_freq: FloatArray, n_docs: int, epsilon: float) -> FloatArray:
    idf = np.log(n_docs - doc_freq + 0.5) - np.log(doc_freq + 0.5)
    floor = epsilon * (float(idf.sum()) / len(idf)) if len(idf) else 0.0
    return np.where(idf < 0, floor, idf)


def idf_lucene(doc_freq: FloatArray, n_docs: int) -> FloatArray:
    return np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def idf_plus(doc_freq: FloatArray, n_docs: int) -> FloatArray:
    return np.log((n_docs + 1) / doc_freq)


def idf_l(doc_freq: FloatArray, n_docs: int) -> FloatArray:
    return np.log((n_docs + 1) / (doc_freq + 0.5))


def tf_okapi(tf: FloatArray, norm: FloatArray, k1: float) -> FloatArray:
    """Okapi's saturating tf part; ``norm`` is ``1 - b + b * dl / avgdl`` of each posting's passage."""
    return tf * (k1 + 1) / (tf + k1 * norm)


def tf_plus(tf: FloatArray, norm: FloatArray, k1: float, delta: float) -> FloatArray:
    return delta + tf * (k1 + 1) / (k1 * norm + tf)


def tf_l(tf: FloatArray, norm: FloatArray, k1: float, delta: float) -> FloatArray:
    ctd = tf / norm
    return (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)


def term_idf(params: BM25Params, doc_freq: FloatArray, n_docs: int) -> FloatArray:
    """Each term's idf under ``params.variant``."""
    if params.variant == "okapi":
        return idf_okapi(doc_freq, n_docs, params.epsilon)
    if params.variant == "lucene":
        return idf_lucene(doc_freq, n_docs)
    if params.variant == "plus":
        return idf_plus(doc_freq, n_docs)
    return idf_l(doc_freq, n_docs)


def posting_weights(params: BM25Params, tf: FloatArray, norm: FloatArray, idf: FloatArray) -> FloatArray:
    """Each posting's score contribution for query weight 1: ``idf(term) * tf_part(tf, passage length)``."""
    if params.variant in ("okapi", "lucene"):
        part = tf_okapi(tf, norm, params.k1)
    elif params.variant == "plus":
        part = tf_plus(tf, norm, params.k1, params.delta)
    else:
        part = tf_l(tf, norm, params.k1, params.delta)
    return idf * part


def sparse_buffer(size: int) -> FloatArray:
    """A float64 array of ``size`` to be filled here and there: memory is taken a 4 kB page at a time as it is
    written. numpy asks for 2 MB pages for large arrays (transparent huge pages), so the first write near a rare
    term's weights zeroed 2 MB: about a millisecond each (most of a new question's time at 1M passages) and
    memory for whole 2 MB pages of a buffer mostly never read."""
    if size == 0 or not hasattr(mmap, "MADV_NOHUGEPAGE"):  # not Linux: the system's own pages
        return np.empty(size, dtype=np.float64)
    pages = mmap.mmap(-1, size * 8)  # anonymous: zero pages, taken when first written
    pages.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(pages, dtype=np.float64)


def average_length(doc_len: npt.NDArray[np.integer]) -> float:
    n_docs = int(doc_len.shape[0])
    return float(doc_len.sum()) / n_docs if n_docs else 0.0


def length_norms(params: BM25Params, doc_len: npt.NDArray[np.integer], avgdl: float | None = None) -> FloatArray:
    """Each passage's ``1 - b + b * dl / avgdl`` (ones when every passage is empty); ``avgdl``: of ``doc_len``
    unless given."""
    avgdl = average_length(doc_len) if avgdl is None else avgdl
    if avgdl > 0:
        norm: FloatArray = 1 - params.b + params.b * np.asarray(doc_len) / avgdl
        return norm
    return np.ones(np.shape(doc_len), dtype=np.float64)


def tf_parts(params: BM25Params, tf: npt.NDArray[np.integer], norm: FloatArray) -> FloatArray:
    """BM25's tf part of postings from their term frequencies and their passages' length norms."""
    values = np.asarray(tf).astype(np.float64)
    if params.variant in ("okapi", "lucene"):
        part: FloatArray = values * (params.k1 + 1) / (norm * params.k1 + values)
        return part
    if params.variant == "plus":
        return tf_plus(values, norm, params.k1, params.delta)
    return tf_l(values, norm, params.k1, params.delta)


def weights_of(
    params: BM25Params, tf: npt.NDArray[np.integer], norm: FloatArray, idf: FloatArray | float
) -> FloatArray:
    """BM25 weights of postings from their term frequencies, their passages' length norms and their terms' idf
    (arrays of one length, or a scalar idf): ``idf * tf part``, the very float64 operations, in the very order, of
    the weights an index of format version 2 stored, and of :func:`askidcpc.index._kernels._weight` (so every path
    gives the same bits)."""
    weights: FloatArray = idf * tf_parts(params, tf, norm)
    return weights


@dataclass(frozen=True, eq=False)
class BM25Index:
    """An immutable BM25 index: vocabulary, per-passage lengths and a passages × terms CSC matrix of term
    frequencies. Posting weights are not stored: a term's are computed from its postings' term frequencies, their
    passages' length norms and its idf (:func:`weights_of`) the first time a query uses it, and kept
    (:meth:`weights_for`); the scores are exactly those of a fully weighted matrix (:attr:`weights`). ``bounds``:
    the search's term bounds for these ``params`` when known (read from a saved index), else computed at the first
    search. Safe to share between threads.
    """

    params: BM25Params
    vocab: Mapping[str, int]
    doc_len: IntArray
    term_freqs: sp.csc_matrix
    bounds: _kernels.TermBounds | None = None

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def doc_freq(self) -> IntArray:
        indptr: IntArray = np.asarray(self.term_freqs.indptr, dtype=np.int64)
        return np.diff(indptr)

    def idf(self) -> FloatArray:
        return self._idf

    @cached_property
    def _idf(self) -> FloatArray:
        return term_idf(self.params, self.doc_freq.astype(np.float64), self.n_docs)

    @cached_property
    def _avgdl(self) -> float:
        return average_length(self.doc_len)

    @cached_property
    def norm(self) -> FloatArray:
        """Each passage's length norm, ``1 - b + b * dl / avgdl``."""
        return length_norms(self.params, self.doc_len, self._avgdl)

    @cached_property
    def _arrays(self) -> tuple[npt.NDArray[np.integer], npt.NDArray[np.integer], npt.NDArray[np.integer]]:
        """Plain views (no copy) of the postings: indexing a memmap costs more per call."""
        tf = self.term_freqs
        return np.asarray(tf.indptr), np.asarray(tf.indices), np.asarray(tf.data)

    def column_weights(self, column: int) -> FloatArray:
        """The weights of one term's postings, in posting order (computed now, not kept)."""
        indptr, indices, data = self._arrays
        lo, hi = int(indptr[column]), int(indptr[column + 1])
        return weights_of(self.params, data[lo:hi], self.norm[indices[lo:hi]], float(self._idf[column]))

    def all_weights(self) -> FloatArray:
        """Every posting's weight, in posting order (a float64 array as long as the postings; not kept)."""
        indptr, indices, data = self._arrays
        return weights_of(self.params, data, self.norm[indices], np.repeat(self._idf, np.diff(indptr)))

    @cached_property
    def _weight_buffer(self) -> tuple[FloatArray, npt.NDArray[np.bool_], threading.Lock]:
        """Each posting's weight, filled in a term at a time when a query first uses the term, which terms are,
        and the lock that fills them (:func:`sparse_buffer`: memory is taken as terms are used)."""
        n_terms = int(self.term_freqs.shape[1])
        return sparse_buffer(self.term_freqs.nnz), np.zeros(n_terms, dtype=np.bool_), threading.Lock()

    def weights_for(self, columns: Iterable[int]) -> FloatArray:
        """The posting weights (one array for all postings, in posting order) with those of ``columns`` filled in:
        each term's weights are computed the first time a query uses it (:meth:`column_weights`) and kept, so a
        search reads weights as it would read stored ones. Thread-safe."""
        data, ready, lock = self._weight_buffer
        missing = [int(column) for column in columns if not ready[column]]
        if missing:
            indptr = self._arrays[0]
            with lock:
                for column in missing:
                    if not ready[column]:
                        data[int(indptr[column]) : int(indptr[column + 1])] = self.column_weights(column)
                        ready[column] = True  # after the weights: a reader that sees the flag sees them
        return data

    @cached_property
    def weights(self) -> sp.csc_matrix:
        """The weights as a CSC matrix beside :attr:`term_freqs` (every term's computed now: for tests and tools;
        searching fills in only the terms queries use)."""
        tf = self.term_freqs
        data = self.weights_for(range(tf.shape[1]))
        return sp.csc_matrix((data, tf.indices, tf.indptr), shape=tf.shape, copy=False)

    def scores(self, query: Mapping[str, float]) -> FloatArray:
        """Dense scores of every passage for ``query`` (term -> weight); unknown terms add nothing."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        indptr, indices, _ = self._arrays
        for term, weight in query.items():
            column = self.vocab.get(term)
            if column is None or weight == 0:
                continue
            lo, hi = indptr[column], indptr[column + 1]
            scores[indices[lo:hi]] += weight * self.column_weights(column)
        return scores

    @cached_property
    def _bounds(self) -> _kernels.TermBounds:
        if self.bounds is not None:
            return self.bounds
        return _kernels.TermBounds(self.term_freqs.indptr, self.all_weights())

    @cached_property
    def _prunable(self) -> bool:
        """Whether searches use the compiled kernel: the index is large enough to be worth compiling it
        (:func:`askidcpc.index._kernels.use_compiled`), and every posting weight is above 0 (a passage matches
        exactly when its sum is). A weight is the term's idf times a tf part that is above 0 (for ``plus`` and
        ``l``: when ``delta >= 0``), so the idf decides: only okapi's can be 0 or below. Checked on the idf (one value
        a term), not on every posting of a memory-mapped index."""
        if not use_compiled(self.term_freqs.nnz) or (self.params.variant in ("plus", "l") and self.params.delta < 0):
            return False
        idf = self.idf()
        return len(idf) == 0 or float(idf.min()) > 0.0

    def _query_arrays(self, query: Mapping[str, float]) -> tuple[IntArray, FloatArray]:
        pairs = [(self.vocab[term], weight) for term, weight in query.items() if term in self.vocab and weight != 0]
        columns = np.fromiter((column for column, _ in pairs), dtype=np.int64, count=len(pairs))
        weights = np.fromiter((weight for _, weight in pairs), dtype=np.float64, count=len(pairs))
        return columns, weights

    def search(self, query: Mapping[str, float], k: int) -> list[tuple[int, float]]:
        """The ``k`` best passages matching at least one query term, as ``(pid, score)``, best first.

        Exact (the same passages and scores as ranking :meth:`scores`), and ties are broken by the lower pid, so
        results are deterministic. Safe to call from many threads at once; the compiled kernel releases the GIL.
        """
        columns, weights = self._query_arrays(query)
        if not len(columns) or k <= 0:
            return []
        indptr, indices, _ = self._arrays
        data = self.weights_for(columns.tolist())
        if self._prunable and bool((weights > 0).all()):
            # The compiled kernel, or while it is loading, numpy adding the same weights in the same order.
            compiled = _kernels.ready("top_k", (indptr, indices, data), partial(_kernels.warm_up, indptr, indices))
            search = _kernels.maxscore_top_k if compiled else _kernels.canonical_top_k
            pids, scores = search(indptr, indices, data, self._bounds, columns, weights, k, self.n_docs)
        else:
            pids, scores = _kernels.numpy_top_k(indptr, indices, data, columns, weights, k, self.n_docs)
        return list(zip(pids.tolist(), scores.tolist(), strict=True))

    def search_many(
        self, queries: Sequence[Mapping[str, float]], k: int, workers: int | None = None
    ) -> list[list[tuple[int, float]]]:
        """:meth:`search` for each of ``queries``, in order, on ``workers`` threads (default: one per CPU)."""
        workers = workers or os.cpu_count() or 1
        arrays = [self._query_arrays(query) for query in queries]
        if not self._prunable or any(bool((weights <= 0).any()) for _, weights in arrays):
            return [self.search(query, k) for query in queries]
        indptr, indices, _ = self._arrays
        data = self.weights_for({int(column) for columns, _ in arrays for column in columns.tolist()})
        results = _kernels.maxscore_top_k_many(indptr, indices, data, self._bounds, arrays, k, self.n_docs, workers)
        return [list(zip(pids.tolist(), scores.tolist(), strict=True)) for pids, scores in results]


def top_k(pids: IntArray, scores: FloatArray, k: int) -> list[tuple[int, float]]:
    """The ``k`` highest ``scores`` with their ``pids`` (ascending), best first, ties to the lower pid."""
    chosen, best = _kernels.select_top_k(np.asarray(pids, dtype=np.int64), np.asarray(scores, dtype=np.float64), k)
    return list(zip(chosen.tolist(), best.tolist(), strict=True))


def query_weights(tokens: Sequence[str]) -> dict[str, float]:
    """A query from tokens: each distinct term weighted by its count, as rank-bm25 counts repeated tokens."""
    return {term: float(count) for term, count in Counter(tokens).items()}


def build_index(documents: Iterable[Sequence[str]], params: BM25Params | None = None) -> BM25Index:
    """Index tokenized passages (one token list a passage, in pid order). ``documents`` may be a generator: it is
    read once, and the tokens are held as term ids (4 bytes each), so 1M passages build in well under 1 GB."""
    params = params or BM25Params()
    vocab: dict[str, int] = {}
    term_ids = array("i")
    lengths = array("q")
    for tokens in documents:
        term_ids.extend([vocab.setdefault(term, len(vocab)) for term in tokens])
        lengths.append(len(tokens))
    doc_len = np.array(lengths, dtype=np.int64)
    n_docs = len(doc_len)
    # One sort key per token, term-major then passage: runs of equal keys are (term, passage) counts.
    keys = np.frombuffer(term_ids, dtype=np.int32).astype(np.int64) if len(term_ids) else np.zeros(0, np.int64)
    del term_ids
    keys *= max(n_docs, 1)
    keys += np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    keys.sort()
    run_start = np.empty(len(keys), dtype=np.bool_)
    run_start[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=run_start[1:])
    starts = np.flatnonzero(run_start)
    del run_start
    counts = np.diff(starts, append=len(keys)).astype(np.int32)
    keys = keys[starts]
    del starts
    columns = keys // max(n_docs, 1)
    rows = (keys - columns * max(n_docs, 1)).astype(np.int32)
    del keys
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns, minlength=len(vocab)), out=indptr[1:])
    del columns
    term_freqs = sp.csc_matrix((counts, rows, indptr), shape=(n_docs, len(vocab)))
    return index_from_counts(params, vocab, doc_len, term_freqs)


def index_from_counts(
    params: BM25Params,
    vocab: Mapping[str, int],
    doc_len: IntArray,
    term_freqs: sp.csc_matrix,
    bounds: _kernels.TermBounds | None = None,
) -> BM25Index:
    """The BM25 index of given term counts (a passages × terms CSC matrix with sorted indices); ``bounds``: its
    search bounds under ``params``, when known."""
    return BM25Index(params=params, vocab=vocab, doc_len=doc_len, term_freqs=term_freqs, bounds=bounds)


class TermIdf(Mapping[str, float]):
    """Each term's idf, read from the index's idf array through its vocabulary when looked up: nothing is built per
    term, however large the vocabulary. ``ceiling`` is the highest idf (1.0 for an empty vocabulary)."""

    def __init__(self, vocab: Mapping[str, int], idf: FloatArray) -> None:
        self._vocab = vocab
        self._idf = idf

    def __getitem__(self, term: str) -> float:
        return float(self._idf[self._vocab[term]])

    def __contains__(self, term: object) -> bool:
        return term in self._vocab

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)

    @cached_property
    def ceiling(self) -> float:
        return float(self._idf.max()) if len(self._idf) else 1.0
