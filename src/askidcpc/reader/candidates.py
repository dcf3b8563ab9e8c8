"""The reader's candidates: the retriever's best sentences for a question, each with its named features
(:mod:`askidcpc.reader.features`), ready for the learned model (:mod:`askidcpc.reader.model`).

One function serves both the product (:func:`askidcpc.reader.answer.answer`) and the training script
(``tools/train_reader.py``), so the model is fitted on exactly the features it is later given.

The paragraphs a retriever gives are kept (by retriever and pid, analysed, with their passages) for the next
question: a retriever's paragraphs are taken not to change, as a :class:`~askidcpc.pipeline.Pipeline`'s cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from askidcpc.reader.evidence import highest_idf
from askidcpc.reader.features import (
    FEATURES,
    Candidate,
    Paragraph,
    candidate_rows,
    list_context,
    profile,
    semantic_block,
    sentence,
    with_aggregates,
)
from askidcpc.reader.query import Query
from askidcpc.reader.retriever import Retriever
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
    candidates: dict[int, Candidate]  # pid -> the sentence in its paragraph
    passages: dict[int, Passage]  # pid -> the passage


# Each retriever's paragraphs met so far, by the pids of their sentences: dropped with the retriever, emptied when
# they hold _KEPT sentences (the sentences' analyses stay in features.sentence's cache).
_MET: WeakKeyDictionary[Retriever, dict[int, _Paragraph]] = WeakKeyDictionary()
_KEPT = 1 << 16


class _QuestionIdf(dict[str, float]):
    """The idf of the question's own terms only, and the corpus' highest idf as ``ceiling``: all a candidate's
    features look up (a plain dict, not the whole vocabulary's table)."""

    def __init__(self, query: Query, idf: Mapping[str, float]) -> None:
        super().__init__((term, idf[term]) for term in query.own if term in idf)
        self.ceiling = highest_idf(idf)


def _paragraph(members: Sequence[Passage]) -> _Paragraph:
    """A paragraph's sentences in place, from its passages in text order."""
    sentences = {member.pid: sentence(member.text) for member in members}
    context = Paragraph.of(list(sentences.values()))
    first = members[0].pid
    empty: frozenset[str] = frozenset()
    return _Paragraph(
        first=first,
        candidates={
            pid: Candidate(
                found,
                context,
                pid - first,
                (sentences[pid - 1].token_set if pid - 1 in sentences else empty)
                | (sentences[pid + 1].token_set if pid + 1 in sentences else empty),
            )
            for pid, found in sentences.items()
        },
        passages={member.pid: member for member in members},
    )


def _paragraphs(retriever: Retriever, pids: Sequence[int]) -> dict[int, _Paragraph]:
    """The paragraph of each of ``pids`` (asked of ``retriever`` once, then kept)."""
    try:
        met = _MET.setdefault(retriever, {})
    except TypeError:  # a retriever that cannot be referenced weakly (or hashed): asked each time
        met = {}
    if len(met) > _KEPT:
        met.clear()
    for pid in pids:
        if pid not in met:
            paragraph = _paragraph(retriever.paragraph(pid))
            met.update(dict.fromkeys(paragraph.candidates, paragraph))
    return {pid: met[pid] for pid in pids}


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
    by_pid = _paragraphs(retriever, ranked.pids)
    found = [by_pid[pid].candidates[pid] for pid in ranked.pids]
    paragraph_ids = [by_pid[pid].first for pid in ranked.pids]
    rows = candidate_rows(asked, found, ranked, context, question_idf)
    features = with_aggregates(rows, np.zeros(len(rows), dtype=np.int64), np.asarray(paragraph_ids, dtype=np.int64))
    if vectors is not None:
        features = np.hstack([features, _semantic(ranked.pids, by_pid, *vectors)])
    hits = tuple(Hit(by_pid[pid].passages[pid], score) for pid, score in zip(ranked.pids, ranked.scores, strict=True))
    return Candidates(hits, features, tuple(paragraph_ids))


def _semantic(
    pids: tuple[int, ...],
    paragraphs: dict[int, _Paragraph],
    passage_vectors: npt.NDArray[Any],
    question: npt.NDArray[Any],
) -> FloatArray:
    """The :data:`SEMANTIC` columns of the candidates ``pids`` (``paragraphs``: each one's paragraph)."""
    members = sorted({member for pid in pids for member in paragraphs[pid].candidates})
    cosine = dict(
        zip(
            members,
            (np.asarray(passage_vectors[members], dtype=np.float64) @ np.asarray(question, dtype=np.float64)).tolist(),
            strict=True,
        )
    )
    own = np.asarray([cosine[pid] for pid in pids])
    para_max = np.asarray([max(cosine[member] for member in paragraphs[pid].candidates) for pid in pids])
    neighbour = np.asarray(
        [
            max((cosine[m] for m in (pid - 1, pid + 1) if m in paragraphs[pid].candidates), default=cosine[pid])
            for pid in pids
        ]
    )
    return semantic_block(own, para_max, neighbour)
