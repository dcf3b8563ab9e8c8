"""BM25 over passages: an immutable sparse index and small pure scoring functions, one set per variant.

Variants (``BM25Params.variant``):

- ``okapi``: exactly rank-bm25's ``BM25Okapi``: ``idf = log((N - n + 0.5) / (n + 0.5))``, and terms whose idf is
  negative (in over half of the passages) get ``epsilon * mean(idf)`` instead.
- ``lucene``: Lucene's always-positive ``idf = log(1 + (N - n + 0.5) / (n + 0.5))`` with Okapi's tf part.
- ``plus``: BM25+ as published (Lv & Zhai 2011): ``delta`` is added to the tf part of *matching* terms only.
  rank-bm25's ``BM25Plus`` also adds it for absent terms, which shifts every score equally and changes no ranking.
- ``l``: BM25L, likewise for matching terms only.

The index stores, per (term, passage) posting, the term's BM25 contribution for a query weight of 1, in a CSC
matrix (one column a term), so a query costs a scatter-add over its terms' postings plus a top-k selection.
A query is a mapping ``term -> weight``; repeating a term in rank-bm25 equals weight 2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["VARIANTS", "BM25Index", "BM25Params", "build_index", "query_weights", "top_k"]

VARIANTS = ("okapi", "lucene", "plus", "l")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BM25Params:
    """BM25 settings. ``epsilon`` is used by ``okapi`` only, ``delta`` by ``plus`` and ``l`` only."""

    # Lucene's idf never goes negative or to zero, which matters on small corpora: rank-bm25's Okapi floors a term
    # found in over half of the passages, so in a two-article corpus common words can score nothing. See README.
    variant: str = "lucene"
    k1: float = 1.2
    b: float = 0.75
    epsilon: float = 0.25
    delta: float = 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown BM25 variant {self.variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")


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


@dataclass(frozen=True, eq=False)
class BM25Index:
    """An immutable BM25 index: vocabulary, per-passage lengths and a passages × terms CSC matrix of term
    frequencies with its BM25 weights. Safe to share between threads."""

    params: BM25Params
    vocab: Mapping[str, int]
    doc_len: IntArray
    term_freqs: sp.csc_matrix
    weights: sp.csc_matrix

    @property
    def n_docs(self) -> int:
        return int(self.doc_len.shape[0])

    @property
    def doc_freq(self) -> IntArray:
        indptr: IntArray = np.asarray(self.term_freqs.indptr, dtype=np.int64)
        return np.diff(indptr)

    def idf(self) -> FloatArray:
        return term_idf(self.params, self.doc_freq.astype(np.float64), self.n_docs)

    def scores(self, query: Mapping[str, float]) -> FloatArray:
        """Dense scores of every passage for ``query`` (term -> weight); unknown terms add nothing."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        indptr, indices, data = self.weights.indptr, self.weights.indices, self.weights.data
        for term, weight in query.items():
            column = self.vocab.get(term)
            if column is None or weight == 0:
                continue
            lo, hi = indptr[column], indptr[column + 1]
            scores[indices[lo:hi]] += weight * data[lo:hi]
        return scores

    def search(self, query: Mapping[str, float], k: int) -> list[tuple[int, float]]:
        """The ``k`` best passages matching at least one query term, as ``(pid, score)``, best first.

        Ties are broken by the lower pid, so results are deterministic.
        """
        indptr, indices = self.weights.indptr, self.weights.indices
        columns = [self.vocab[term] for term, weight in query.items() if term in self.vocab and weight != 0]
        if not columns or k <= 0:
            return []
        matched = np.unique(np.concatenate([indices[indptr[c] : indptr[c + 1]] for c in columns]))
        scores = self.scores(query)
        return top_k(matched, scores[matched], k)


def top_k(pids: IntArray, scores: FloatArray, k: int) -> list[tuple[int, float]]:
    """The ``k`` highest ``scores`` with their ``pids`` (ascending), best first, ties to the lower pid."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        threshold = scores[keep].min()
        # argpartition cuts ties arbitrarily: take every score above the threshold, then the lowest pids at it.
        above = np.flatnonzero(scores > threshold)
        at = np.flatnonzero(scores == threshold)[: k - len(above)]
        keep = np.concatenate([above, at])
        pids, scores = pids[keep], scores[keep]
    order = np.lexsort((pids, -scores))[:k]
    return [(int(pids[i]), float(scores[i])) for i in order]


def query_weights(tokens: Sequence[str]) -> dict[str, float]:
    """A query from tokens: each distinct term weighted by its count, as rank-bm25 counts repeated tokens."""
    return {term: float(count) for term, count in Counter(tokens).items()}


def build_index(documents: Sequence[Sequence[str]], params: BM25Params | None = None) -> BM25Index:
    """Index tokenized passages (one token list a passage, in pid order)."""
    params = params or BM25Params()
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    doc_len = np.zeros(len(documents), dtype=np.int64)
    for row, tokens in enumerate(documents):
        doc_len[row] = len(tokens)
        for term, count in Counter(tokens).items():
            rows.append(row)
            cols.append(vocab.setdefault(term, len(vocab)))
            counts.append(count)
    shape = (len(documents), len(vocab))
    term_freqs = sp.csc_matrix(
        (
            np.asarray(counts, dtype=np.int32),
            (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)),
        ),
        shape=shape,
    )
    term_freqs.sort_indices()
    return index_from_counts(params, vocab, doc_len, term_freqs)


def index_from_counts(
    params: BM25Params, vocab: Mapping[str, int], doc_len: IntArray, term_freqs: sp.csc_matrix
) -> BM25Index:
    """Compute BM25 weights for given term counts (a passages × terms CSC matrix with sorted indices)."""
    n_docs = int(doc_len.shape[0])
    avgdl = float(doc_len.sum()) / n_docs if n_docs else 0.0
    norm = 1 - params.b + params.b * doc_len / avgdl if avgdl > 0 else np.ones(n_docs, dtype=np.float64)
    idf = term_idf(params, np.diff(term_freqs.indptr).astype(np.float64), n_docs)
    columns = np.repeat(np.arange(term_freqs.shape[1]), np.diff(term_freqs.indptr))
    data = posting_weights(params, term_freqs.data.astype(np.float64), norm[term_freqs.indices], idf[columns])
    weights = sp.csc_matrix((data, term_freqs.indices, term_freqs.indptr), shape=term_freqs.shape)
    return BM25Index(params=params, vocab=vocab, doc_len=doc_len, term_freqs=term_freqs, weights=weights)
