"""Reading: the reader's entry point, :func:`answer`, and the answer it composes.

The question (and its conversation) becomes a query; the retriever's best sentences become candidates with named
features (:mod:`askidcpc.reader.candidates`); the learned model (:mod:`askidcpc.reader.model`) picks the sentence to
answer from and says how likely that answer is right (``confidence``). Below the model's threshold the answer is
``None`` (abstention) and the citations still show what was found.

Nothing here generates text. An answer is one or more corpus sentences, verbatim; where the best sentences from
differently dated documents disagree on a figure, each is labelled with its date, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from askidcpc.config import AnswerPolicy
from askidcpc.reader import semantic
from askidcpc.reader.candidates import candidates
from askidcpc.reader.evidence import figures_counted
from askidcpc.reader.model import ReaderModel, has_semantic_model, load_model
from askidcpc.reader.query import Query, build_query
from askidcpc.reader.retriever import Retriever
from askidcpc.reader.short import short_answer_span
from askidcpc.reader.spelling import in_use, spelled
from askidcpc.types import Answer, Citation, Document, Hit, ShortAnswer

__all__ = ["answer", "citations", "compose_answer", "figure_query", "reading"]


def figure_query(query: Query, hits: Sequence[Hit]) -> Query | None:
    """A second query for other documents' figures: when the sentence the reader answers from gives figures, the
    question's terms plus what those figures count ("parti", "countri") at full weight, so that another article's
    sentence counting the same things in other words ("built contacts with … 600 parties") is found. None when the
    best sentence gives no figure."""
    if not hits:
        return None
    counted = figures_counted(hits[0].passage.text, number_words=False)
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
    sure: float,
    answers: bool,
    query: Query,
    documents: Mapping[str, Document],
    top_k: int,
    policy: AnswerPolicy,
    figure_hits: Sequence[Hit] = (),
) -> Answer:
    """The answer object for ``hits`` in the reader's order (the sentence it answers from first; pass more than
    ``top_k`` to let a conflicting figure from another document be found further down, and ``figure_hits``, ranked
    for :func:`figure_query`, to look wider), its confidence ``sure``, and whether it ``answers`` at all (else it
    abstains). Citations: the answer's sentences first, then the rest in order, ``top_k`` in all."""
    if not hits:
        return Answer(question=question, answer=None, confidence=0.0, citations=())
    best = hits[0]
    if not answers:
        return Answer(question=question, answer=None, confidence=sure, citations=citations(hits[:top_k], documents))
    text = best.passage.text
    conflicting = _conflicting(hits, documents, policy, figure_hits, asked=_asked_stems(query))
    cited = list(hits)
    if conflicting:
        pieces = sorted([best, *conflicting], key=lambda hit: documents[hit.passage.doc_id].date or "", reverse=True)
        text = " ".join(
            f"As of {_date_label(documents[hit.passage.doc_id].date)}: {hit.passage.text}" for hit in pieces
        )
        # cited in the answer's order, then the other candidates as ranked
        used = {hit.passage.pid for hit in pieces}
        cited = [*pieces, *(hit for hit in hits[1:] if hit.passage.pid not in used)]
    return Answer(
        question=question,
        answer=text,
        confidence=sure,
        citations=citations(cited[:top_k], documents),
        # in the first cited sentence (the newest source's, for a dated answer)
        short_answer=_short_answer(question, query, cited[0]),
    )


def _short_answer(question: str, query: Query, best: Hit) -> ShortAnswer | None:
    """The phrase of the answer sentence that answers ``question``, in document offsets (see
    :mod:`askidcpc.reader.short`)."""
    passage = best.passage
    span = short_answer_span(question, query, passage.text)
    if span is None:
        return None
    start, end = span
    return ShortAnswer(passage.text[start:end], passage.doc_id, passage.start + start, passage.start + end)


def citations(hits: Sequence[Hit], documents: Mapping[str, Document]) -> tuple[Citation, ...]:
    """Each hit as a citation of its document (the answer's, and ``askidcpc search``'s)."""
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


def reading(question: str, history: Sequence[str], retriever: Retriever, policy: AnswerPolicy) -> tuple[str, Query]:
    """``question`` as the reader reads it, each typo of a corpus word read as that word (:func:`spelled`), and its
    query with the ``history`` read the same way."""
    idf = retriever.idf_by_term
    usage = in_use(retriever)
    read = spelled(question, idf, usage=usage)
    return read, build_query(read, [spelled(earlier, idf, usage=usage) for earlier in history], policy)


def answer(
    question: str,
    history: Sequence[str],
    top_k: int,
    retriever: Retriever,
    policy: AnswerPolicy,
    model: ReaderModel | None = None,
) -> Answer:
    """The answer to ``question`` (valid and trimmed; ``history``: earlier questions, oldest first) from what
    ``retriever`` finds, ``top_k`` citations: the reader's one entry point. ``model``: the shipped one when None,
    the one fitted with the semantic extra's cosine features when the passages have vectors (and the extra is
    installed), else the lexical one."""
    vectors = retriever.passage_vectors
    if model is None:
        model = load_model(semantic=vectors is not None and has_semantic_model() and semantic.available())
    # A typo is read as the word meant, everywhere below; the answer quotes the question as asked, and as read.
    read, query = reading(question, history, retriever, policy)
    question_vector = None
    if model.semantic:
        if vectors is None:
            raise ValueError("the semantic reader model needs passage vectors; index with --semantic")
        question_vector = (vectors, semantic.Encoder().encode_question(read))
    # Deeper than top_k: the model chooses among the candidates, and a sentence of another document giving a
    # different figure may rank further down.
    found = candidates(read, query, retriever, max(top_k, policy.candidates), question_vector)
    read_as = None if read == question else read
    if not found.hits:
        return Answer(question=question, answer=None, confidence=0.0, citations=(), read_as=read_as)
    chosen, sure, scores = model.judge(found.features)
    order = np.argsort(-scores, kind="stable").tolist()
    order.remove(chosen)
    # Each candidate scored by the model's probability that it is the answer (a softmax over the candidates).
    probability = np.exp(scores - scores[chosen])
    probability /= probability.sum()
    hits = [
        Hit(found.hits[i].passage, score)
        for i, score in zip([chosen, *order], probability[[chosen, *order]].tolist(), strict=True)
    ]
    figures = figure_query(query, hits)
    # Another article's figure found by the second retrieval keeps the reader's probability when it was a candidate,
    # else 0: the reader did not score it.
    scored = {hit.passage.pid: hit.score for hit in hits}
    figure_hits = [
        Hit(hit.passage, scored.get(hit.passage.pid, 0.0))
        for hit in (retriever.retrieve(figures, policy.conflict_depth) if figures is not None else [])
    ]
    threshold = model.threshold if policy.threshold is None else policy.threshold
    composed = compose_answer(
        read, hits, sure, sure >= threshold, query, retriever.documents_by_id, top_k, policy, figure_hits
    )
    return composed if read_as is None else replace(composed, question=question, read_as=read_as)
