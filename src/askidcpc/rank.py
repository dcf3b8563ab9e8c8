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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.answer_type import AnswerType, attribute_words, has_answer_type, question_type, ranking_type
from askidcpc.bm25 import BM25Index, BM25Params, index_from_counts, top_k
from askidcpc.lexicon import expansions, load_lexicon
from askidcpc.tokenize import STOP_WORDS, stem_word, tokenize, words
from askidcpc.types import Document, Passage

__all__ = [
    "Query",
    "RankParams",
    "Ranker",
    "TermIdf",
    "analyse",
    "effective_terms",
    "paragraph_ids",
    "paragraph_index",
    "row_scores",
]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RankParams:
    """Ranking knobs. Weights are relative to a question term's weight of 1 and to max-normalised scores."""

    paragraph_weight: float = 1.5
    synonym_weight: float = 0.2
    # A question word the corpus never uses cannot match; its synonyms stand in for it at this (higher) weight.
    substitute_weight: float = 0.8
    derivation_weight: float = 0.15
    type_bonus: float = 0.3
    answer_types: frozenset[AnswerType] = frozenset({AnswerType.DATE, AnswerType.NUMBER})
    drop_type_words: bool = True
    # Candidates re-ranked per question: the best sentences by their own score, and the sentences of the best
    # paragraphs (measured on ReQA-SQuAD, benchmarks/RESULTS.md).
    candidates: int = 200
    paragraph_candidates: int = 20


@dataclass(frozen=True)
class Query:
    """A question made ready for ranking.

    ``terms``: every weighted term (question, expansions, history). ``own``: the question's own content terms.
    ``related``: for each own term, the expansion stems that stand in for it (for coverage). ``answer_type``: what
    the question asks for, if it says. ``asked``: the normalized words of the question (and of the history it
    draws on), so that an answer naming only what was asked does not count as holding the answer type.
    ``expected``: the answer type abstention checks for (as ``answer_type``, but a "when" that only joins a clause
    asks for nothing). ``counted``: the stems of the (up to two) words after "how many", what the answer's figure
    must count.
    ``attribute``: the stems of what a "What is the ... Y of Z?" question asks for (see
    :func:`askidcpc.answer_type.attribute_words`).
    """

    terms: Mapping[str, float]
    own: Mapping[str, float] = field(default_factory=dict)
    related: Mapping[str, frozenset[str]] = field(default_factory=dict)
    answer_type: AnswerType | None = None
    asked: tuple[str, ...] = ()
    attribute: tuple[str, ...] = ()
    expected: AnswerType | None = None
    counted: tuple[str, ...] = ()


def analyse(question: str, params: RankParams) -> Query:
    """The query of one question on its own: content terms at weight 1 a mention, question words that only name
    the answer type dropped, WordNet synonyms (and derivations) of its words at a lower weight."""
    question_words = words(question)
    kind, type_words = question_type(question_words)
    own: dict[str, float] = {}
    for word in question_words:
        if word in STOP_WORDS or (params.drop_type_words and word in type_words):
            continue
        term = stem_word(word)
        own[term] = own.get(term, 0.0) + 1.0
    if not own:  # a question of type words only ("how many?") keeps them rather than asking nothing
        own = {term: 1.0 for term in tokenize(question)}
    terms = dict(own)
    related: dict[str, frozenset[str]] = {}
    if params.synonym_weight > 0 or params.derivation_weight > 0:
        lexicon = load_lexicon()
        synonyms = expansions(question_words, lexicon) if params.synonym_weight > 0 else {}
        derived = expansions(question_words, lexicon, derivations=True) if params.derivation_weight > 0 else {}
        for weight, table in ((params.synonym_weight, synonyms), (params.derivation_weight, derived)):
            for source, stems in table.items():
                if source not in own:
                    continue
                for stem in stems:
                    if stem not in terms:
                        terms[stem] = weight * own[source]
                related[source] = related.get(source, frozenset()) | frozenset(stems)
    attribute = tuple(stem_word(word) for word in attribute_words(question_words) if word not in STOP_WORDS)
    return Query(
        terms=terms,
        own=own,
        related=related,
        answer_type=kind,
        asked=tuple(question_words),
        attribute=attribute,
        expected=question_type(question_words, clauses=True)[0],
        counted=_counted_words(question_words),
    )


def _counted_words(question_words: Sequence[str]) -> tuple[str, ...]:
    """The stems of the content words among the two after "how many" ("how many foreign parties" → foreign, parti)."""
    for at in range(len(question_words) - 2):
        if question_words[at] == "how" and question_words[at + 1] == "many":
            following = question_words[at + 2 : at + 4]
            return tuple(stem_word(word) for word in following if word not in STOP_WORDS)
    return ()


def effective_terms(query: Query, vocab: Mapping[str, int], params: RankParams) -> Mapping[str, float]:
    """``query.terms``, with the synonyms of question words absent from ``vocab`` raised to ``substitute_weight``."""
    missing = [term for term in query.own if term not in vocab and term in query.related]
    if not missing or params.substitute_weight <= 0:
        return query.terms
    terms = dict(query.terms)
    for term in missing:
        for stem in query.related[term]:
            if stem in vocab and stem not in query.own:
                terms[stem] = max(terms.get(stem, 0.0), params.substitute_weight * query.own[term])
    return terms


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


def paragraph_ids(passages: Sequence[Passage], documents: Mapping[str, Document]) -> IntArray:
    """Each passage's paragraph number: a new paragraph starts with each document and after each line break.

    Passages that carry their number (:func:`askidcpc.sentences.make_passages` sets it) need no document text.
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


def paragraph_index(sentence_index: BM25Index, paragraph_of: npt.NDArray[Any], params: BM25Params) -> BM25Index:
    """The BM25 index of the paragraphs: a paragraph's term counts are the sum of its sentences' (one sparse
    product, no second tokenizing pass). ``paragraph_of``: each sentence's paragraph, non-decreasing from 0."""
    n_passages = sentence_index.n_docs
    n_paragraphs = int(paragraph_of[-1]) + 1 if n_passages else 0
    membership = sp.csr_matrix(
        (np.ones(n_passages), (np.asarray(paragraph_of, dtype=np.int64), np.arange(n_passages))),
        shape=(n_paragraphs, n_passages),
    )
    counts = sp.csc_matrix(membership @ sentence_index.term_freqs)
    counts.sort_indices()
    lengths = np.asarray(membership @ sentence_index.doc_len, dtype=np.int64)
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


_ScoreRows = Callable[
    [npt.NDArray[Any], npt.NDArray[Any], FloatArray, IntArray, FloatArray, IntArray, FloatArray, BoolArray], None
]
_compiled_score_rows: _ScoreRows | None
try:
    import numba

    _compiled_score_rows = cast(_ScoreRows, numba.njit(nogil=True, cache=True)(_score_rows))
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    _compiled_score_rows = None


def row_scores(
    index: BM25Index, rows: IntArray, terms: Mapping[str, float], compiled: bool = True
) -> tuple[FloatArray, BoolArray]:
    """The scores of ``rows`` (ascending, distinct passage ids of ``index``) for ``terms``, and which rows match a
    term; exactly what :meth:`BM25Index.scores` gives them (the same additions in the same order). Each query term's
    postings are searched for the rows (binary search), so the cost does not grow with the index. ``compiled``: with
    numba when it is installed, else (or when False) with numpy."""
    scores = np.zeros(len(rows), dtype=np.float64)
    matched = np.zeros(len(rows), dtype=np.bool_)
    # Plain views of (possibly memory-mapped) arrays, and rows of the postings' dtype: searchsorted would otherwise
    # convert a whole posting list to the rows' dtype first.
    indptr, indices, data = (np.asarray(a) for a in (index.weights.indptr, index.weights.indices, index.weights.data))
    rows = np.asarray(rows).astype(indices.dtype, copy=False)
    pairs = [(index.vocab[t], w) for t, w in terms.items() if t in index.vocab and w != 0]
    if compiled and _compiled_score_rows is not None:
        columns = np.fromiter((column for column, _ in pairs), dtype=np.int64, count=len(pairs))
        weights = np.fromiter((weight for _, weight in pairs), dtype=np.float64, count=len(pairs))
        _compiled_score_rows(indptr, indices, data, columns, weights, rows, scores, matched)
        return scores, matched
    for column, weight in pairs:
        lo, hi = int(indptr[column]), int(indptr[column + 1])
        postings = indices[lo:hi]
        at = np.searchsorted(postings, rows)
        found = at < hi - lo
        found[found] = postings[at[found]] == rows[found]
        scores[found] += weight * data[lo + at[found]]
        matched |= found
    return scores, matched


@dataclass(frozen=True, eq=False)
class Ranker:
    """Sentence index, paragraph index and the passages (for answer-type flags); immutable, safe to share."""

    sentences: BM25Index
    paragraphs: BM25Index
    paragraph_of: npt.NDArray[Any]  # each sentence's paragraph, non-decreasing
    passages: Sequence[Passage]

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        documents: Mapping[str, Document],
        sentence_index: BM25Index,
        params: BM25Params,
        paragraph_of: npt.NDArray[Any] | None = None,
        paragraphs: BM25Index | None = None,
    ) -> Ranker:
        """Index the paragraphs of ``passages`` beside their ``sentence_index`` (built with ``params``).

        ``paragraph_of`` (each passage's paragraph) and ``paragraphs`` (their index) are computed when not given.
        """
        if paragraph_of is None:
            paragraph_of = paragraph_ids(passages, documents)
        if paragraphs is None:
            paragraphs = paragraph_index(sentence_index, paragraph_of, params)
        return cls(sentence_index, paragraphs, paragraph_of, passages)

    def type_flags(self, kind: AnswerType, pids: IntArray) -> BoolArray:
        """Whether each of ``pids`` holds an answer of type ``kind`` (:func:`has_answer_type` on its text)."""
        return np.fromiter((self.holds(kind, pid) for pid in pids.tolist()), dtype=np.bool_, count=len(pids))

    def holds(self, kind: AnswerType, pid: int) -> bool:
        """Whether passage ``pid`` holds an answer of type ``kind``: its text is checked now (nothing precomputed)."""
        return has_answer_type(self.passages[pid].text, kind)

    def _paragraph_members(self, paragraphs: IntArray) -> IntArray:
        """The passage ids of ``paragraphs`` (paragraphs are runs of consecutive passages)."""
        if not len(paragraphs):
            return np.zeros(0, dtype=np.int64)
        paragraph_of = np.asarray(self.paragraph_of)
        # Keys of the array's dtype: searchsorted would otherwise convert the whole array first.
        paragraphs = paragraphs.astype(paragraph_of.dtype, copy=False)
        starts = np.searchsorted(paragraph_of, paragraphs, side="left")
        ends = np.searchsorted(paragraph_of, paragraphs, side="right")
        return np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in zip(starts, ends, strict=True)])

    def rank(self, query: Query, k: int, params: RankParams) -> list[tuple[int, float]]:
        """The ``k`` best sentences matching at least one query term, as ``(pid, score)``, best first (ties to the
        lower pid): sentence score over the best one's, plus ``paragraph_weight`` times the paragraph's score over
        the best paragraph's, plus ``type_bonus`` for a sentence holding the expected answer type."""
        index = self.sentences
        terms = {t: w for t, w in effective_terms(query, index.vocab, params).items() if t in index.vocab and w != 0}
        if not terms or k <= 0:
            return []
        candidates = {pid for pid, _ in index.search(terms, max(k, params.candidates))}
        best_paragraphs: list[int] = []
        if params.paragraph_weight > 0:
            best_paragraphs = [p for p, _ in self.paragraphs.search(terms, max(1, params.paragraph_candidates))]
            candidates.update(self._paragraph_members(np.asarray(best_paragraphs, dtype=np.int64)).tolist())
        pids = np.asarray(sorted(candidates), dtype=np.int64)
        scores, matched = row_scores(index, pids, terms)
        pids, scores = pids[matched], scores[matched]
        if not len(pids):
            return []
        top = float(scores.max())
        blended = scores / top if top > 0 else scores
        if best_paragraphs:
            paragraph_of = np.asarray(self.paragraph_of[pids], dtype=np.int64)
            # The best paragraph's score from the same additions as the others', so that it normalises exactly.
            wanted = np.unique(np.concatenate([paragraph_of, np.asarray(best_paragraphs, dtype=np.int64)]))
            paragraph_scores, _ = row_scores(self.paragraphs, wanted, terms)
            best_paragraph = float(paragraph_scores.max())
            if best_paragraph > 0:
                own = paragraph_scores[np.searchsorted(wanted, paragraph_of)]
                blended = blended + params.paragraph_weight * (own / best_paragraph)
        kind = ranking_type(query.answer_type)
        if kind is not None and kind in params.answer_types and params.type_bonus:
            blended = self._with_type_bonus(pids, blended, kind, k, params.type_bonus)
        return top_k(pids, blended, k)

    def _with_type_bonus(
        self, pids: IntArray, blended: FloatArray, kind: AnswerType, k: int, bonus: float
    ) -> FloatArray:
        """``blended`` plus ``bonus`` where the passage holds ``kind``, as far as the top ``k`` can tell: passages
        are checked best first, and once one cannot reach the k-th best score so far even with the bonus, neither
        can any after it; those keep their score (which ranks them below the top k either way). So only the texts
        of about k passages are checked, not every candidate's."""
        with_bonus = blended.copy()
        kept: list[float] = []  # a min-heap of the k best scores so far, bonus included
        for at in np.lexsort((pids, -blended)).tolist():
            base = float(blended[at])
            # A small margin keeps every passage whose sum could tie the k-th in, whatever the rounding.
            if len(kept) == k and base + bonus < kept[0] - 1e-9 * max(1.0, abs(kept[0])):
                break
            if self.holds(kind, int(pids[at])):
                with_bonus[at] = base + bonus
            score = float(with_bonus[at])
            if len(kept) < k:
                heapq.heappush(kept, score)
            elif score > kept[0]:
                heapq.heapreplace(kept, score)
        return with_bonus
