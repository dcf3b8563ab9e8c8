"""The reader's candidates: the retriever's best sentences for a question, each with its named features
(:mod:`askidcpc.reader.features`), ready for the learned model (:mod:`askidcpc.reader.model`).

One function serves both the product (:func:`askidcpc.reader.answer.answer`) and the training script
(``tools/train_reader.py``), so the model is fitted on exactly the features it is later given.

A retriever that looks terms up in its index (:class:`~askidcpc.reader.retriever.TermLookup`, as a
:class:`~askidcpc.pipeline.Pipeline` does) has only its candidate sentences read: which query terms their paragraphs
and neighbours hold comes from the postings, and another sentence of a paragraph is read only when the postings
cannot settle a feature alone (at a million sentences, 31 sentences read a question instead of 130). From any other
retriever, every sentence of each candidate's paragraph is read, and the paragraphs are kept (by retriever and pid,
analysed, with their passages) for the next question: a retriever's paragraphs are taken not to change, as a
:class:`~askidcpc.pipeline.Pipeline`'s cannot. Both give the same features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from askidcpc.reader.evidence import RELATED_CREDIT, Coverage, highest_idf
from askidcpc.reader.features import (
    FEATURES,
    Candidate,
    InContext,
    ListContext,
    Paragraph,
    Profile,
    Sentence,
    candidate_rows,
    list_context,
    profile,
    rows_in_context,
    semantic_block,
    sentence,
    with_aggregates,
)
from askidcpc.reader.query import Query
from askidcpc.reader.rank import Ranked
from askidcpc.reader.retriever import Retriever, TermLookup
from askidcpc.text.tokenize import stem_word
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
    # A plain attribute check: isinstance() against a Protocol inspects every member, which costs more here.
    if vectors is None and callable(getattr(retriever, "paragraph_holds", None)):
        return _looked_up(asked, ranked, context, question_idf, cast(_LookingUp, retriever))
    by_pid = _paragraphs(retriever, ranked.pids)
    found = [by_pid[pid].candidates[pid] for pid in ranked.pids]
    paragraph_ids = [by_pid[pid].first for pid in ranked.pids]
    rows = candidate_rows(asked, found, ranked, context, question_idf)
    features = with_aggregates(rows, np.zeros(len(rows), dtype=np.int64), np.asarray(paragraph_ids, dtype=np.int64))
    if vectors is not None:
        features = np.hstack([features, _semantic(ranked.pids, by_pid, *vectors)])
    hits = tuple(Hit(by_pid[pid].passages[pid], score) for pid, score in zip(ranked.pids, ranked.scores, strict=True))
    return Candidates(hits, features, tuple(paragraph_ids))


def _looked_up(
    asked: Profile, ranked: Ranked, context: ListContext, idf: _QuestionIdf, retriever: _LookingUp
) -> Candidates:
    """:func:`candidates` from a retriever that looks terms up in its index: only the candidate sentences are read;
    which query terms their paragraphs and neighbours hold comes from the postings, and a paragraph's other
    sentences are read only where the postings cannot settle a feature (they hold both terms of a question's term
    pair, or a question name's stem). The same rows as reading every paragraph, as a sentence's index terms are
    its text's tokens."""
    pids = np.asarray(ranked.pids, dtype=np.int64)
    n = len(pids)
    first, end = retriever.paragraph_bounds(pids)
    passages = [retriever.passage(pid) for pid in ranked.pids]
    found = [sentence(passage.text) for passage in passages]
    coverage = Coverage(asked.query, idf, RELATED_CREDIT)
    # The query terms, then the stems of the question's names (a name is held only where its stem is).
    names = {name: stem_word(name) for name in asked.entities}
    terms = list(dict.fromkeys([*coverage.terms, *names.values()]))
    column = {term: at for at, term in enumerate(terms)}
    n_terms = len(coverage.terms)
    before, after = pids - 1, pids + 1
    has_before, has_after = before >= first, after < end
    paragraph = retriever.paragraph_holds(pids, terms)
    neighbours = retriever.holds(np.concatenate([before[has_before], after[has_after]]), coverage.terms)
    neighbour = np.zeros((n, n_terms), dtype=np.bool_)
    split = int(has_before.sum())
    neighbour[has_before] = neighbours[:split]
    neighbour[has_after] |= neighbours[split:]
    pairs, entities = _read_members(
        asked, names, retriever, first, end, paragraph, column, dict(zip(ranked.pids, found, strict=True))
    )
    in_context = InContext(
        first=(pids == first).tolist(),
        paragraph_held=coverage.held_of(paragraph[:, :n_terms]),
        neighbour_held=coverage.held_of(neighbour),
        paragraph_pairs=pairs,
        paragraph_entities=entities,
    )
    rows = rows_in_context(asked, found, in_context, ranked, context, coverage)
    features = with_aggregates(rows, np.zeros(n, dtype=np.int64), first)
    hits = tuple(Hit(passage, score) for passage, score in zip(passages, ranked.scores, strict=True))
    return Candidates(hits, features, tuple(first.tolist()))


def _read_members(
    asked: Profile,
    names: dict[str, str],
    retriever: _LookingUp,
    first: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    paragraph: npt.NDArray[np.bool_],
    column: dict[str, int],
    known: dict[int, Sentence],
) -> tuple[list[int], list[int]]:
    """How many of the question's term pairs and names each candidate's paragraph (``[first, end)``, holding the
    terms ``paragraph`` marks, by ``column``) holds: the postings say where a pair's two terms (a name's stem) are;
    only those sentences are read (``known``: those read already, by pid)."""
    n = len(first)
    pairs = [0] * n
    entities = [0] * n
    # (candidate, terms) whose paragraph's sentences must be read: every term there, in one sentence or another.
    wanted: list[tuple[int, tuple[str, ...]]] = [
        (at, (a, b)) for at in range(n) for a, b in asked.pairs if paragraph[at, column[a]] and paragraph[at, column[b]]
    ]
    wanted += [(at, (stem,)) for at in range(n) for stem in names.values() if paragraph[at, column[stem]]]
    if not wanted:
        return pairs, entities
    spans = sorted({(int(first[at]), int(end[at])) for at, _ in wanted})
    members = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi in spans])
    looked = sorted({term for _, terms in wanted for term in terms})
    # each member's looked-up terms, as a set (cheaper to test, one at a time, than numpy scalars)
    held = {
        pid: {term for term, there in zip(looked, row, strict=True) if there}
        for pid, row in zip(members.tolist(), retriever.holds(members, looked).tolist(), strict=True)
    }

    def holding(at: int, terms: tuple[str, ...]) -> list[Sentence]:
        found = []
        for pid in range(int(first[at]), int(end[at])):
            if held[pid].issuperset(terms):
                if pid not in known:
                    known[pid] = sentence(retriever.passage(pid).text)
                found.append(known[pid])
        return found

    for at, a, b in [(at, *terms) for at, terms in wanted if len(terms) == 2]:
        pairs[at] += any(member.follows(a, b) for member in holding(at, (a, b)))
    for name, stem in names.items():
        for at in range(n):
            if (at, (stem,)) in wanted:
                entities[at] += any(name in member.word_set for member in holding(at, (stem,)))
    return pairs, entities


class _LookingUp(Retriever, TermLookup, Protocol):
    """A retriever that also looks terms up (:class:`~askidcpc.reader.retriever.TermLookup`)."""


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
