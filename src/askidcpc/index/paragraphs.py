"""Paragraphs: each passage's paragraph number, the paragraphs' BM25 index (summed from their sentences'
counts), and exact BM25 scores of chosen rows of an index (a binary search per query term, compiled with numba for
large indexes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.config import BM25Params
from askidcpc.index import _kernels
from askidcpc.index.bm25 import BM25Index, index_from_counts
from askidcpc.types import Document, Passage

__all__ = ["paragraph_ids", "paragraph_index", "paragraph_members", "row_scores"]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def paragraph_ids(passages: Sequence[Passage], documents: Mapping[str, Document]) -> IntArray:
    """Each passage's paragraph number: a new paragraph starts with each document and after each line break.

    Passages that carry their number (:func:`askidcpc.text.sentences.make_passages` sets it) need no document text.
    """
    if all(passage.paragraph is not None for passage in passages):
        numbers = np.fromiter((passage.paragraph or 0 for passage in passages), dtype=np.int64, count=len(passages))
        return numbers - numbers[0] if len(numbers) else numbers
    ids = np.zeros(len(passages), dtype=np.int64)
    current = -1
    previous: Passage | None = None
    for i, passage in enumerate(passages):
        gap = documents[passage.doc_id].text[previous.end : passage.start] if previous else ""
        if previous is None or previous.doc_id != passage.doc_id or "\n" in gap:
            current += 1
        ids[i] = current
        previous = passage
    return ids


def paragraph_members(paragraph_of: npt.NDArray[Any], paragraphs: IntArray) -> IntArray:
    """The passage ids of ``paragraphs``, given each passage's paragraph (non-decreasing: paragraphs are runs of
    consecutive passages), in order."""
    if not len(paragraphs):
        return np.zeros(0, dtype=np.int64)
    paragraph_of = np.asarray(paragraph_of)
    # Keys of the array's dtype: searchsorted would otherwise convert the whole array first.
    paragraphs = paragraphs.astype(paragraph_of.dtype, copy=False)
    starts = paragraph_of.searchsorted(paragraphs, side="left").astype(np.int64)
    ends = paragraph_of.searchsorted(paragraphs, side="right").astype(np.int64)
    if len(paragraphs) == 1:  # the reader asks for one paragraph at a time
        return np.arange(starts[0], ends[0], dtype=np.int64)
    sizes = ends - starts
    # Each member is its paragraph's first passage plus its place among the members (less those before it).
    return np.repeat(starts - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()), dtype=np.int64)


def paragraph_index(sentence_index: BM25Index, paragraph_of: npt.NDArray[Any], params: BM25Params) -> BM25Index:
    """The BM25 index of the paragraphs: a paragraph's term counts are the sum of its sentences' (one sparse
    product, no second tokenizing pass). ``paragraph_of``: each sentence's paragraph, non-decreasing from 0."""
    n_passages = sentence_index.n_docs
    n_paragraphs = int(paragraph_of[-1]) + 1 if n_passages else 0
    membership = sp.csr_matrix(
        # Whole counts (int32, whatever the sentences' dtype): sums of uint8 counts would wrap.
        (np.ones(n_passages, dtype=np.int32), (np.asarray(paragraph_of, dtype=np.int64), np.arange(n_passages))),
        shape=(n_paragraphs, n_passages),
    )
    counts = sp.csc_matrix(membership @ sentence_index.term_freqs)
    counts.sort_indices()
    lengths = np.asarray(membership @ np.asarray(sentence_index.doc_len, dtype=np.int64), dtype=np.int64)
    return index_from_counts(params, sentence_index.vocab, lengths, counts)


def _score_rows(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    data: FloatArray,
    columns: IntArray,
    weights: FloatArray,
    rows: IntArray,
    scores: FloatArray,
    matched: BoolArray,
) -> None:
    """Add ``weights[j] * weight`` of each (row, column) posting to ``scores`` (rows ascending), term by term: for each
    column, one binary search per row over what is left of its posting list."""
    for j in range(len(columns)):
        start, hi = indptr[columns[j]], indptr[columns[j] + 1]
        weight = weights[j]
        for i in range(len(rows)):
            row = rows[i]
            lo, top = start, hi
            while lo < top:
                middle = (lo + top) >> 1
                if indices[middle] < row:
                    lo = middle + 1
                else:
                    top = middle
            start = lo
            if lo < hi and indices[lo] == row:
                scores[i] += weight * data[lo]
                matched[i] = True


def warm_up(indptr: npt.NDArray[Any], indices: npt.NDArray[Any]) -> None:
    """Load (or compile) :func:`row_scores`'s compiled loop for postings of these arrays' types now, on a tiny index
    of the same types (their contents are not read); see :func:`askidcpc.index._kernels.warm_up`."""

    one = np.ones(1, dtype=np.float64)
    rows = np.zeros(1, dtype=indices.dtype)
    tiny_indptr, tiny_indices = _kernels.tiny_like(indptr, [0, 1]), _kernels.tiny_like(indices, [0])
    with _kernels.first_call_notice("score_rows", (tiny_indptr, tiny_indices, one, rows)):
        _kernels.compiled(_score_rows)(
            tiny_indptr,
            tiny_indices,
            one,
            np.zeros(1, dtype=np.int64),
            one,
            rows,
            np.zeros(1, dtype=np.float64),
            np.zeros(1, dtype=np.bool_),
        )


def row_scores(
    index: BM25Index, rows: IntArray, terms: Mapping[str, float], compiled: bool = True
) -> tuple[FloatArray, BoolArray]:
    """The scores of ``rows`` (ascending, distinct passage ids of ``index``) for ``terms``, and which rows match a
    term; exactly what :meth:`BM25Index.scores` gives them (the same additions in the same order). Each query term's
    postings are searched for the rows (binary search), so the cost does not grow with the index. ``compiled``: with
    numba when the index is large enough to use compiled kernels (:func:`askidcpc.index._kernels.use_compiled`),
    else (or when False) with numpy."""
    scores = np.zeros(len(rows), dtype=np.float64)
    matched = np.zeros(len(rows), dtype=np.bool_)
    # Plain views of (possibly memory-mapped) arrays, and rows of the postings' dtype: searchsorted would otherwise
    # convert a whole posting list to the rows' dtype first.
    pairs = [(index.vocab[t], w) for t, w in terms.items() if t in index.vocab and w != 0]
    indptr, indices = (np.asarray(a) for a in (index.term_freqs.indptr, index.term_freqs.indices))
    data = index.weights_for([column for column, _ in pairs])  # the terms' weights (computed once per term)
    rows = np.asarray(rows).astype(indices.dtype, copy=False)
    if (
        compiled
        and _kernels.use_compiled(len(data))
        and _kernels.ready("score_rows", (indptr, indices, data, rows), partial(warm_up, indptr, indices))
    ):
        columns = np.fromiter((column for column, _ in pairs), dtype=np.int64, count=len(pairs))
        weights = np.fromiter((weight for _, weight in pairs), dtype=np.float64, count=len(pairs))
        with _kernels.first_call_notice("score_rows", (indptr, indices, data, rows)):
            _kernels.compiled(_score_rows)(indptr, indices, data, columns, weights, rows, scores, matched)
        return scores, matched
    if not pairs or not len(rows) or not len(indices):
        return scores, matched
    # Where each row would sit in each term's postings (one binary search per term), then every term at once.
    at = np.empty((len(pairs), len(rows)), dtype=np.int64)
    ends = np.empty((len(pairs), 1), dtype=np.int64)
    for j, (column, _) in enumerate(pairs):
        lo, hi = int(indptr[column]), int(indptr[column + 1])
        at[j] = indices[lo:hi].searchsorted(rows) + lo
        ends[j] = hi
    inside = np.minimum(at, len(indices) - 1)
    found = (at < ends) & (indices[inside] == rows)
    weights = np.asarray([weight for _, weight in pairs], dtype=np.float64)[:, None]
    # (rows not found read other terms' places, whose weights may not be computed yet: NaN, never added)
    with np.errstate(invalid="ignore"):
        added = np.where(found, weights * data[inside], 0.0)
    # np.cumsum adds term after term, as adding each term's scores in turn would (a term not found adds 0.0).
    return np.cumsum(added, axis=0)[-1], found.any(axis=0)
