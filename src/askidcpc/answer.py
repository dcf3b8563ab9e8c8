"""Reading: turn a question (and its conversation) into a query, and ranked hits into an extractive answer.

Nothing here generates text. An answer is one or more corpus sentences, verbatim; where the best sentences from
differently dated documents disagree on a figure, each is labelled with its date, newest first. When the support is
too weak, the answer is ``None`` (abstention) and the citations still show what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from askidcpc.tokenize import normalize, tokenize, words
from askidcpc.types import Answer, Citation, Document, Hit

__all__ = ["AnswerPolicy", "build_query", "compose_answer", "is_follow_up", "support"]

# Words that point back into the conversation: a question using them needs its history's topic.
_ANAPHORA = frozenset(
    [
        "he",
        "she",
        "it",
        "they",
        "him",
        "her",
        "his",
        "hers",
        "its",
        "their",
        "theirs",
        "them",
        "that",
        "this",
        "these",
        "those",
        "there",
        "then",
        "such",
        "what",
        "about",
        "and",
        "also",
        "else",
    ]
)
_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class AnswerPolicy:
    """Thresholds of the reader. ``min_support`` is the abstention threshold on :func:`support`."""

    min_support: float = 0.45
    history_weight: float = 0.5
    history_decay: float = 0.5
    follow_up_max_terms: int = 3
    conflict_ratio: float = 0.6


def is_follow_up(question: str) -> bool:
    """Whether ``question`` refers back to the conversation (a pronoun, or too few content words to stand alone)."""
    question_words = words(question)
    return any(word in _ANAPHORA for word in question_words) or len(tokenize(question)) <= 2


def build_query(question: str, history: Sequence[str], policy: AnswerPolicy) -> dict[str, float]:
    """Query terms with weights: the question's own terms at 1 per occurrence; for a follow-up, the terms of earlier
    questions, newest first, at ``history_weight`` decaying by ``history_decay`` a turn, never above a question term."""
    query: dict[str, float] = {}
    for term in tokenize(question):
        query[term] = query.get(term, 0.0) + 1.0
    if history and is_follow_up(question):
        weight = policy.history_weight
        for earlier in reversed(history):
            for term in set(tokenize(earlier)):
                if term not in query or query[term] < weight:
                    query[term] = max(query.get(term, 0.0), weight)
            weight *= policy.history_decay
    return query


def support(query: Mapping[str, float], passage_terms: set[str], idf: Mapping[str, float]) -> float:
    """The idf-weighted share of the query that ``passage_terms`` covers, in [0, 1].

    Query terms the corpus never uses count with the highest idf, so a question about something the articles never
    mention (a budget, a recipe) cannot be well supported.
    """
    if not query:
        return 0.0
    ceiling = max(idf.values(), default=1.0)
    total = covered = 0.0
    for term, weight in query.items():
        mass = weight * max(idf.get(term, ceiling), 1e-6)
        total += mass
        if term in passage_terms:
            covered += mass
    return covered / total if total else 0.0


def _confidence(support_score: float, margin: float, policy: AnswerPolicy) -> float:
    """Support and the score margin over the runner-up, squashed into [0, 1]; 0.5 sits at the abstention line."""
    z = 8.0 * (support_score - policy.min_support) + 1.5 * margin
    return 1.0 / (1.0 + math.exp(-z))


def _has_figure(text: str) -> bool:
    return bool(_NUMBER.search(text))


def _date_label(date: str | None) -> str:
    return date[:10] if date else "an undated source"


def compose_answer(
    question: str,
    hits: Sequence[Hit],
    query: Mapping[str, float],
    idf: Mapping[str, float],
    documents: Mapping[str, Document],
    top_k: int,
    policy: AnswerPolicy,
) -> Answer:
    """The answer object for ranked ``hits`` (best first)."""
    citations = tuple(
        Citation(
            doc_id=hit.passage.doc_id,
            title=documents[hit.passage.doc_id].title,
            date=documents[hit.passage.doc_id].date,
            source=documents[hit.passage.doc_id].source,
            sentence=hit.passage.text,
            start=hit.passage.start,
            end=hit.passage.end,
            score=hit.score,
        )
        for hit in hits[:top_k]
    )
    if not hits:
        return Answer(question=question, answer=None, confidence=0.0, citations=citations)
    best = hits[0]
    own_terms = {term for term in tokenize(question)}
    own_query = {term: weight for term, weight in query.items() if term in own_terms} or dict(query)
    best_support = support(query, set(tokenize(best.passage.text)), idf)
    runner_up = hits[1].score if len(hits) > 1 else 0.0
    margin = (best.score - runner_up) / best.score if best.score > 0 else 0.0
    confidence = _confidence(best_support, margin, policy)
    if best_support < policy.min_support or support(own_query, set(tokenize(best.passage.text)), idf) == 0.0:
        return Answer(question=question, answer=None, confidence=min(confidence, 0.49), citations=citations)
    text = best.passage.text
    conflicting = _conflicting(hits, documents, policy)
    if conflicting is not None:
        pieces = sorted((best, conflicting), key=lambda hit: documents[hit.passage.doc_id].date or "", reverse=True)
        labelled = [f"as of {_date_label(documents[hit.passage.doc_id].date)}: {hit.passage.text}" for hit in pieces]
        text = "; ".join(labelled)
        text = text[0].upper() + text[1:]
    return Answer(question=question, answer=text, confidence=max(confidence, 0.5), citations=citations)


def _conflicting(hits: Sequence[Hit], documents: Mapping[str, Document], policy: AnswerPolicy) -> Hit | None:
    """A runner-up from another, differently dated document that gives a different figure, if close enough."""
    best = hits[0]
    best_doc = documents[best.passage.doc_id]
    if not _has_figure(best.passage.text):
        return None
    best_figures = set(re.findall(r"\d[\d,.]*", normalize(best.passage.text)))
    for hit in hits[1:3]:
        other = documents[hit.passage.doc_id]
        if other.doc_id == best_doc.doc_id or other.date == best_doc.date:
            continue
        if hit.score < policy.conflict_ratio * best.score or not _has_figure(hit.passage.text):
            continue
        figures = set(re.findall(r"\d[\d,.]*", normalize(hit.passage.text)))
        if figures != best_figures:
            return hit
    return None
