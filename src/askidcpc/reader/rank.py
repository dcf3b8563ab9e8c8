"""Sentence ranking: a question becomes a weighted query; sentences are scored by their own BM25 score blended with
their paragraph's BM25 score, plus a bonus when they hold the expected answer type.

Only candidates are scored, so a question costs about one compiled top-k search, not a pass over every passage:
the ``RankParams.candidates`` best sentences by their own BM25 score (:meth:`BM25Index.search`) and the matching
sentences of the ``RankParams.paragraph_candidates`` best paragraphs. A candidate's sentence and paragraph scores
are read from the postings of the query's terms (a binary search per term), and answer-type flags are computed
only for candidates whose type bonus could still place them in the top ``k``. When fewer sentences (or
paragraphs) match than that, every match is a candidate and the ranking is the exhaustive one.

One code path for everything: ``Pipeline.ask`` and ``benchmarks/reqa_squad.py`` both rank with :class:`Ranker`.
Every rule here was measured on ReQA-SQuAD (benchmarks/RESULTS.md) and on eval/questions.yaml.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from askidcpc.config import BM25Params, RankParams
from askidcpc.index.bm25 import BM25Index, top_k
from askidcpc.index.memory import PassageTable
from askidcpc.index.paragraphs import paragraph_index, paragraph_members, row_scores
from askidcpc.reader.answer_type import AnswerType, has_answer_type, ranking_type
from askidcpc.reader.query import Query, effective_terms

__all__ = ["Ranked", "Ranker"]

# A filter allowing at most this many rows is searched row by row (exact scores of just those rows); a larger one by
# ever deeper searches of the whole index, keeping the allowed rows.
EXHAUSTIVE_ROWS = 50_000

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Ranked:
    """A query's best sentences, best first: ``pids`` and their ranking ``scores``, their raw sentence and paragraph
    BM25 scores, and the best raw sentence and paragraph scores of any sentence for the query."""

    pids: tuple[int, ...]
    scores: tuple[float, ...]
    sentence_scores: tuple[float, ...]
    paragraph_scores: tuple[float, ...]
    top_sentence: float
    top_paragraph: float

    @classmethod
    def empty(cls) -> Ranked:
        return cls((), (), (), (), 0.0, 0.0)


@dataclass(frozen=True, eq=False)
class Ranker:
    """Sentence index, paragraph index and the passages (for answer-type flags); immutable, safe to share."""

    sentences: BM25Index
    paragraphs: BM25Index
    paragraph_of: npt.NDArray[Any]  # each sentence's paragraph, non-decreasing
    passages: PassageTable

    @classmethod
    def build(
        cls,
        passages: PassageTable,
        sentence_index: BM25Index,
        params: BM25Params,
        paragraphs: BM25Index | None = None,
    ) -> Ranker:
        """Index the paragraphs of ``passages`` beside their ``sentence_index`` (built with ``params``), unless their
        index is given as ``paragraphs``."""
        if paragraphs is None:
            paragraphs = paragraph_index(sentence_index, passages.paragraph_of, params)
        return cls(sentence_index, paragraphs, passages.paragraph_of, passages)

    def type_flags(self, kind: AnswerType, pids: IntArray) -> BoolArray:
        """Whether each of ``pids`` holds an answer of type ``kind`` (:func:`has_answer_type` on its text)."""
        return np.fromiter((self.holds(kind, pid) for pid in pids.tolist()), dtype=np.bool_, count=len(pids))

    def holds(self, kind: AnswerType, pid: int) -> bool:
        """Whether passage ``pid`` holds an answer of type ``kind``: its text is checked now (nothing precomputed)."""
        return has_answer_type(self.passages[pid].text, kind)

    def rank(
        self, query: Query, k: int, params: RankParams, allowed: BoolArray | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best sentences matching at least one query term, as ``(pid, score)``, best first (ties to the
        lower pid): sentence score over the best one's, plus ``paragraph_weight`` times the paragraph's score over
        the best paragraph's, plus ``type_bonus`` for a sentence holding the expected answer type. ``allowed``: a
        mask over the pids (a filter's documents); only those rank, scored with the whole index's statistics."""
        ranked = self.ranked(query, k, params, allowed)
        return list(zip(ranked.pids, ranked.scores, strict=True))

    def ranked(self, query: Query, k: int, params: RankParams, allowed: BoolArray | None = None) -> Ranked:
        """:meth:`rank`'s ``k`` best sentences with their raw sentence and paragraph BM25 scores and the best of
        each for the query (what the reader's features are made of); ``allowed`` as for :meth:`rank`."""
        index = self.sentences
        terms = {t: w for t, w in effective_terms(query, index.vocab, params).items() if t in index.vocab and w != 0}
        if not terms or k <= 0:
            return Ranked.empty()
        allowed_paragraphs = None if allowed is None else self._paragraph_mask(allowed)
        found = _best_rows(index, terms, max(k, params.candidates), allowed)
        best_paragraphs: list[int] = []
        members = np.zeros(0, dtype=np.int64)
        if params.paragraph_weight > 0:
            best_paragraphs = _best_rows(
                self.paragraphs, terms, max(1, params.paragraph_candidates), allowed_paragraphs
            )
            members = paragraph_members(self.paragraph_of, np.asarray(best_paragraphs, dtype=np.int64))
        pids = np.union1d(np.asarray(found, dtype=np.int64), members)  # sorted, distinct
        scores, matched = row_scores(index, pids, terms)
        pids, scores = pids[matched], scores[matched]
        if not len(pids):
            return Ranked.empty()
        top = float(scores.max())
        blended = scores / top if top > 0 else scores
        own = np.zeros(len(pids))
        best_paragraph = 0.0
        if best_paragraphs:
            paragraph_of = np.asarray(self.paragraph_of[pids], dtype=np.int64)
            # The best paragraph's score from the same additions as the others', so that it normalises exactly.
            wanted = np.unique(np.concatenate([paragraph_of, np.asarray(best_paragraphs, dtype=np.int64)]))
            paragraph_scores, _ = row_scores(self.paragraphs, wanted, terms)
            best_paragraph = float(paragraph_scores.max())
            own = paragraph_scores[np.searchsorted(wanted, paragraph_of)]
            if best_paragraph > 0:
                blended = blended + params.paragraph_weight * (own / best_paragraph)
        kind = ranking_type(query.answer_type)
        if kind is not None and kind.value in params.answer_types and params.type_bonus:
            blended = self._with_type_bonus(pids, blended, kind, k, params.type_bonus)
        best = top_k(pids, blended, k)
        at = np.searchsorted(pids, np.asarray([pid for pid, _ in best], dtype=np.int64))
        return Ranked(
            pids=tuple(pid for pid, _ in best),
            scores=tuple(score for _, score in best),
            sentence_scores=tuple(scores[at].tolist()),
            paragraph_scores=tuple(own[at].tolist()),
            top_sentence=top,
            top_paragraph=best_paragraph,
        )

    def _paragraph_mask(self, allowed: BoolArray) -> BoolArray:
        """The paragraphs holding an allowed sentence (a paragraph lies within one document, so all of its)."""
        mask = np.zeros(self.paragraphs.n_docs, dtype=np.bool_)
        mask[np.asarray(self.paragraph_of)[allowed]] = True
        return mask

    def _with_type_bonus(
        self, pids: IntArray, blended: FloatArray, kind: AnswerType, k: int, bonus: float
    ) -> FloatArray:
        """``blended`` plus ``bonus`` where the passage holds ``kind``, as far as the top ``k`` can tell: passages
        are checked best first, and once one cannot reach the k-th best score so far even with the bonus, neither
        can any after it; those keep their score (which ranks them below the top k either way). So only the texts
        of about k passages are checked, not every candidate's."""
        with_bonus = blended.copy()
        scores, ids = blended.tolist(), pids.tolist()  # Python floats and ints: the loop reads them one by one
        kept: list[float] = []  # a min-heap of the k best scores so far, bonus included
        for at in np.lexsort((pids, -blended)).tolist():
            score = scores[at]
            # A small margin keeps every passage whose sum could tie the k-th in, whatever the rounding.
            if len(kept) == k and score + bonus < kept[0] - 1e-9 * max(1.0, abs(kept[0])):
                break
            if self.holds(kind, ids[at]):
                score += bonus
                with_bonus[at] = score
            if len(kept) < k:
                heapq.heappush(kept, score)
            elif score > kept[0]:
                heapq.heapreplace(kept, score)
        return with_bonus


def _best_rows(index: BM25Index, terms: dict[str, float], n: int, allowed: BoolArray | None) -> list[int]:
    """The ``n`` best rows of ``index`` for ``terms`` (ties to the lower row), among the ``allowed`` ones when a
    mask is given: the same rows, in the same order, as searching an index of the allowed rows alone but with this
    index's statistics (idf, lengths). A filter that removes most rows still yields ``n`` candidates."""
    if allowed is None:
        return [row for row, _ in index.search(terms, n)]
    rows = np.flatnonzero(allowed).astype(np.int64)
    if len(rows) <= EXHAUSTIVE_ROWS:
        scores, matched = row_scores(index, rows, terms)
        return [row for row, _ in top_k(rows[matched], scores[matched], n)]
    depth = n
    while True:
        found = index.search(terms, depth)
        kept = [row for row, _ in found if allowed[row]]
        if len(kept) >= n or len(found) < depth:
            return kept[:n]
        depth *= 4
