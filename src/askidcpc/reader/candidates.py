"""The reader's candidates: the retriever's best sentences for a question, each with its named features
(:mod:`askidcpc.reader.features`), ready for the learned model (:mod:`askidcpc.reader.model`).

One function serves both the product (:func:`askidcpc.reader.answer.answer`) and the training script
(``tools/train_reader.py``), so the model is fitted on exactly the features it is later given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from askidcpc.reader.evidence import highest_idf
from askidcpc.reader.features import (
    FEATURES,
    Candidate,
    candidate_row,
    list_context,
    profile,
    semantic_block,
    with_aggregates,
)
from askidcpc.reader.query import Query
from askidcpc.reader.retriever import Retriever
from askidcpc.text.tokenize import tokenize, words
from askidcpc.types import Hit, Passage

__all__ = ["Candidates", "candidates"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Candidates:
    """A question's candidate sentences, best first by the retriever, and their feature rows (:data:`FEATURES`
    columns, one row a hit)."""

    hits: tuple[Hit, ...]
    features: FloatArray
    paragraphs: tuple[int, ...]  # each hit's paragraph number

    @classmethod
    def empty(cls) -> Candidates:
        return cls((), np.zeros((0, len(FEATURES))), ())


@dataclass(frozen=True)
class _Paragraph:
    first: int  # pid of its first sentence
    tokens: dict[int, tuple[str, ...]]  # pid -> index terms
    words: dict[int, tuple[str, ...]]  # pid -> normalized words
    token_set: frozenset[str]
    word_set: frozenset[str]
    pairs: frozenset[tuple[str, str]]


@lru_cache(maxsize=65536)
def _analysed(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A sentence's index terms and normalized words (the same sentences come back question after question)."""
    return tuple(tokenize(text)), tuple(words(text))


class _QuestionIdf(dict[str, float]):
    """The idf of the question's own terms only, and the corpus' highest idf as ``ceiling``: all a candidate's
    features look up (a plain dict, not the whole vocabulary's table)."""

    def __init__(self, query: Query, idf: Mapping[str, float]) -> None:
        super().__init__((term, idf[term]) for term in query.own if term in idf)
        self.ceiling = highest_idf(idf)


def _paragraph(members: list[Passage]) -> _Paragraph:
    return _paragraph_of(tuple((passage.pid, passage.text) for passage in members))


@lru_cache(maxsize=16384)
def _paragraph_of(members: tuple[tuple[int, str], ...]) -> _Paragraph:
    """A paragraph's terms, words and term pairs, by its sentences' pids and texts (kept for the next question)."""
    analysed = {pid: _analysed(text) for pid, text in members}
    tokens = {pid: terms for pid, (terms, _) in analysed.items()}
    words_of = {pid: normalized for pid, (_, normalized) in analysed.items()}
    return _Paragraph(
        first=members[0][0],
        tokens=tokens,
        words=words_of,
        token_set=frozenset(t for terms in tokens.values() for t in terms),
        word_set=frozenset(w for ws in words_of.values() for w in ws),
        pairs=frozenset(pair for terms in tokens.values() for pair in pairwise(terms)),
    )


def candidates(
    question: str,
    query: Query,
    retriever: Retriever,
    depth: int,
    vectors: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = None,
) -> Candidates:
    """The ``depth`` best sentences for ``query`` (``question``: its text as asked, for names and figures) with
    their features: :data:`FEATURES`, then :data:`SEMANTIC` when ``vectors`` (every passage's vector, by pid, and
    the question's) are given."""
    ranked = retriever.ranked(query, depth)
    if not ranked.pids:
        return Candidates.empty()
    idf = retriever.idf_by_term
    context = list_context(query, [ranked.top_sentence], ranked.top_paragraph, ranked.scores, idf)
    asked = profile(query, question)
    question_idf = _QuestionIdf(query, idf)
    by_pid: dict[int, _Paragraph] = {}
    hits: list[Hit] = []
    rows: list[FloatArray] = []
    paragraph_ids: list[int] = []
    for rank, (pid, score, sentence, paragraph_score) in enumerate(
        zip(ranked.pids, ranked.scores, ranked.sentence_scores, ranked.paragraph_scores, strict=True), start=1
    ):
        if pid not in by_pid:
            members = list(retriever.paragraph(pid))
            found = _paragraph(members)
            by_pid.update((member.pid, found) for member in members)
        paragraph = by_pid[pid]
        passage = retriever.passage(pid)
        neighbours = frozenset(t for other in (pid - 1, pid + 1) for t in paragraph.tokens.get(other, ()))
        candidate = Candidate(
            passage.text,
            paragraph.tokens[pid],
            paragraph.words[pid],
            sentence,
            paragraph_score,
            score,
            rank,
            paragraph.token_set,
            paragraph.word_set,
            pid - paragraph.first,
            neighbours,
            paragraph.pairs,
        )
        rows.append(candidate_row(asked, candidate, context, question_idf))
        hits.append(Hit(passage, score))
        paragraph_ids.append(paragraph.first)
    group = np.asarray(paragraph_ids, dtype=np.int64)
    features = with_aggregates(np.vstack(rows), np.zeros(len(rows), dtype=np.int64), group)
    if vectors is not None:
        features = np.hstack([features, _semantic(ranked.pids, by_pid, *vectors)])
    return Candidates(tuple(hits), features, tuple(paragraph_ids))


def _semantic(
    pids: tuple[int, ...],
    paragraphs: dict[int, _Paragraph],
    passage_vectors: npt.NDArray[Any],
    question: npt.NDArray[Any],
) -> FloatArray:
    """The :data:`SEMANTIC` columns of the candidates ``pids`` (``paragraphs``: each one's paragraph)."""
    members = sorted({member for pid in pids for member in paragraphs[pid].tokens})
    cosine = dict(
        zip(
            members,
            (np.asarray(passage_vectors[members], dtype=np.float64) @ np.asarray(question, dtype=np.float64)).tolist(),
            strict=True,
        )
    )
    own = np.asarray([cosine[pid] for pid in pids])
    para_max = np.asarray([max(cosine[member] for member in paragraphs[pid].tokens) for pid in pids])
    neighbour = np.asarray(
        [
            max((cosine[m] for m in (pid - 1, pid + 1) if m in paragraphs[pid].tokens), default=cosine[pid])
            for pid in pids
        ]
    )
    return semantic_block(own, para_max, neighbour)
