"""Reading: turn a question (and its conversation) into a query, and ranked hits into an extractive answer.

Nothing here generates text. An answer is one or more corpus sentences, verbatim; where the best sentences from
differently dated documents disagree on a figure, each is labelled with its date, newest first. Whether to answer
at all is decided from :class:`Evidence` the BM25 score alone hides (how much of the question the sentence covers,
its lead over the runner-up, whether it holds the expected answer type), calibrated into ``confidence``; below
``AnswerPolicy.threshold`` the answer is ``None`` (abstention) and the citations still show what was found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from askidcpc.config import AnswerPolicy
from askidcpc.reader.evidence import confidence, counts_asked, evidence, figures_counted
from askidcpc.reader.query import Query, build_query
from askidcpc.reader.retriever import Retriever
from askidcpc.types import Answer, Citation, Document, Hit

__all__ = ["answer", "compose_answer", "figure_query", "select"]


def select(query: Query, hits: Sequence[Hit], policy: AnswerPolicy) -> list[Hit]:
    """``hits`` with the sentence the reader answers from first: for a "how many N" question whose best sentence
    gives no figure counting N, the best of the next few that does (answer extraction over the retriever's ranking,
    as a reader would pick the span); otherwise unchanged."""
    ranked = list(hits)
    if not ranked or not query.counted or counts_asked(query, ranked[0].passage.text):
        return ranked
    floor = policy.count_ratio * ranked[0].score
    for at, hit in enumerate(ranked[1 : policy.count_depth], start=1):
        if hit.score >= floor and counts_asked(query, hit.passage.text):
            return [hit, *ranked[:at], *ranked[at + 1 :]]
    return ranked


def figure_query(query: Query, hits: Sequence[Hit], policy: AnswerPolicy) -> Query | None:
    """A second query for other documents' figures: when the sentence the reader answers from gives figures, the
    question's terms plus what those figures count ("parti", "countri") at full weight, so that another article's
    sentence counting the same things in other words ("built contacts with … 600 parties") is found. None when the
    best sentence gives no figure."""
    chosen = select(query, hits, policy)
    if not chosen:
        return None
    counted = figures_counted(chosen[0].passage.text, number_words=False)
    if not counted:
        return None
    terms = dict(query.terms)
    for stem in counted:
        terms[stem] = max(terms.get(stem, 0.0), 1.0)
    return replace(query, terms=terms)


def _date_label(date: str | None) -> str:
    return date[:10] if date else "an undated source"


def compose_answer(
    question: str,
    hits: Sequence[Hit],
    query: Query,
    idf: Mapping[str, float],
    documents: Mapping[str, Document],
    top_k: int,
    policy: AnswerPolicy,
    figure_hits: Sequence[Hit] = (),
) -> Answer:
    """The answer object for ranked ``hits`` (best first; pass more than ``top_k`` to let a conflicting figure from
    another document be found further down, and ``figure_hits``, ranked for :func:`figure_query`, to look wider).
    Citations: the answer's sentences first, then the rest in rank order, ``top_k`` in all."""
    if not hits:
        return Answer(question=question, answer=None, confidence=0.0, citations=())
    hits = select(query, hits, policy)
    best = hits[0]
    sure = confidence(evidence(query, hits, idf, policy), policy)
    if sure < policy.threshold:
        return Answer(question=question, answer=None, confidence=sure, citations=_citations(hits[:top_k], documents))
    text = best.passage.text
    conflicting = _conflicting(hits, documents, policy, figure_hits, asked=_asked_stems(query))
    cited = list(hits)
    if conflicting:
        pieces = sorted([best, *conflicting], key=lambda hit: documents[hit.passage.doc_id].date or "", reverse=True)
        labelled = [f"as of {_date_label(documents[hit.passage.doc_id].date)}: {hit.passage.text}" for hit in pieces]
        text = "; ".join(labelled)
        text = text[0].upper() + text[1:]
        used = {hit.passage.pid for hit in conflicting}
        cited = [best, *conflicting, *(hit for hit in hits[1:] if hit.passage.pid not in used)]
    return Answer(question=question, answer=text, confidence=sure, citations=_citations(cited[:top_k], documents))


def _citations(hits: Sequence[Hit], documents: Mapping[str, Document]) -> tuple[Citation, ...]:
    return tuple(
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
        for hit in hits
    )


def _asked_stems(query: Query) -> frozenset[str]:
    """The question's own terms and their synonyms: what a figure must count to concern the question."""
    stems = set(query.own)
    for related in query.related.values():
        stems |= related
    return frozenset(stems)


def _conflicting(
    hits: Sequence[Hit],
    documents: Mapping[str, Document],
    policy: AnswerPolicy,
    figure_hits: Sequence[Hit] = (),
    asked: frozenset[str] | None = None,
) -> list[Hit]:
    """The best sentence of each other, differently dated document among ``hits`` (scoring at least
    ``conflict_ratio`` of the best), then among ``figure_hits`` (the top ``conflict_depth`` of the figure query),
    that gives a different figure for something the best sentence also counts ("around 600 parties" against "about
    400 political parties"), best first. With ``asked``, only a figure counting one of those stems counts ("When
    was it founded?" is not answered twice because two articles count its parties differently)."""
    best = hits[0]
    best_doc = documents[best.passage.doc_id]
    best_counted = figures_counted(best.passage.text, number_words=False)
    if asked is not None:
        best_counted = {stem: figures for stem, figures in best_counted.items() if stem in asked}
    if not best_counted:
        return []
    found: list[Hit] = []
    seen = {best_doc.doc_id}
    floor = policy.conflict_ratio * best.score
    candidates = [hit for hit in hits[1 : policy.conflict_depth] if hit.score >= floor]
    for hit in [*candidates, *figure_hits[: policy.conflict_depth]]:
        other = documents[hit.passage.doc_id]
        if other.doc_id in seen or other.date == best_doc.date:
            continue
        counted = figures_counted(hit.passage.text, number_words=False)
        if any(counted[stem] != figures for stem, figures in best_counted.items() if stem in counted):
            found.append(hit)
            seen.add(other.doc_id)
    return found


def answer(question: str, history: Sequence[str], top_k: int, retriever: Retriever, policy: AnswerPolicy) -> Answer:
    """The answer to ``question`` (valid and trimmed; ``history``: earlier questions, oldest first) from what
    ``retriever`` finds, ``top_k`` citations: the reader's one entry point."""
    query = build_query(question, history, policy)
    # Deeper than top_k: a sentence of another document giving a different figure may rank further down.
    hits = retriever.retrieve(query, max(top_k, policy.conflict_depth))
    figures = figure_query(query, hits, policy)
    figure_hits = retriever.retrieve(figures, policy.conflict_depth) if figures is not None else []
    return compose_answer(
        question, hits, query, retriever.idf_by_term, retriever.documents_by_id, top_k, policy, figure_hits
    )
