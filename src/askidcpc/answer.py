"""Reading: turn a question (and its conversation) into a query, and ranked hits into an extractive answer.

Nothing here generates text. An answer is one or more corpus sentences, verbatim; where the best sentences from
differently dated documents disagree on a figure, each is labelled with its date, newest first. Whether to answer
at all is decided from :class:`Evidence` the BM25 score alone hides (how much of the question the sentence covers,
its lead over the runner-up, whether it holds the expected answer type), calibrated into ``confidence``; below
``AnswerPolicy.threshold`` the answer is ``None`` (abstention) and the citations still show what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from askidcpc.answer_type import answers_type
from askidcpc.rank import Query, RankParams, analyse
from askidcpc.tokenize import STOP_WORDS, normalize, stem_word, tokenize, words
from askidcpc.types import Answer, Citation, Document, Hit

__all__ = [
    "AnswerPolicy",
    "Evidence",
    "build_query",
    "compose_answer",
    "counts_asked",
    "evidence",
    "figure_query",
    "is_follow_up",
    "is_known",
    "select",
    "support",
]

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
        "about",
        "and",
        "also",
        "else",
    ]
)
_QUESTION_WORDS = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "why", "how"])
# A figure and the (up to two) words after it: what it counts.
_NUMBER_WORDS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|hundreds|"
    "thousand|thousands|million|millions|dozen|dozens|several"
)
_COUNTED = re.compile(rf"\b(\d+(?:,\d{{3}})*(?:\.\d+)?|{_NUMBER_WORDS})\s+(?:of\s+)?([a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)")


@dataclass(frozen=True)
class AnswerPolicy:
    """How the reader decides. ``weights`` turn :class:`Evidence` into a logit (calibrated on eval/questions.yaml
    by tools/calibrate.py); ``threshold`` is the confidence below which askidcpc abstains."""

    threshold: float = 0.4
    weights: tuple[float, ...] = (-0.06, 0.81, 1.62, 0.03, -2.24, -0.52, -0.19, -1.49)
    related_credit: float = 0.7
    history_weight: float = 0.5
    history_decay: float = 0.5
    conflict_ratio: float = 0.3
    conflict_depth: int = 10
    # A "how many N" question is answered by the best of the top ``count_depth`` sentences (scoring at least
    # ``count_ratio`` of the best) whose figure counts N, when the best one's does not.
    count_depth: int = 5
    count_ratio: float = 0.5
    ranking: RankParams = field(default_factory=RankParams)


@dataclass(frozen=True)
class Evidence:
    """What speaks for the best sentence: ``coverage`` (idf-weighted share of the question's terms it holds, a
    synonym counting partly), ``gap`` (its relative lead over the runner-up) and whether it holds (``typed``) or
    lacks (``untyped``) the answer type the question asks for; ``unknown``: the idf-weighted share of the question's
    terms the corpus never uses (nor any synonym of them); ``missing``: the idf of the rarest question term the
    sentence lacks, over the corpus' highest idf."""

    coverage: float
    gap: float
    typed: bool
    untyped: bool
    unknown: float = 0.0
    missing: float = 0.0
    unknown_attribute: bool = False

    def features(self) -> tuple[float, ...]:
        return (
            1.0,
            self.coverage,
            self.gap,
            float(self.typed),
            float(self.untyped),
            self.unknown,
            self.missing,
            float(self.unknown_attribute),
        )


def is_follow_up(question: str) -> bool:
    """Whether ``question`` refers back to the conversation (a pronoun, or too few content words to stand alone)."""
    question_words = words(question)
    return any(word in _ANAPHORA for word in question_words) or len(tokenize(question)) <= 2


def build_query(question: str, history: Sequence[str], policy: AnswerPolicy) -> Query:
    """The ranking query: the question's own terms at 1 per occurrence (see :func:`askidcpc.rank.analyse`); for a
    follow-up, the terms of earlier questions, newest first, at ``history_weight`` decaying by ``history_decay`` a
    turn, never above a question term. An elliptical follow-up (no question word: "And in 2016?") asks for what
    the latest typed question asked for (and counts what it counted)."""
    asked = analyse(question, policy.ranking)
    terms = dict(asked.terms)
    own = dict(asked.own)
    kind = asked.answer_type
    expected = asked.expected
    counted = asked.counted
    named = list(asked.asked)
    elliptical = not _QUESTION_WORDS & set(words(question))
    if history and is_follow_up(question):
        weight = policy.history_weight
        for earlier in reversed(history):
            before = analyse(earlier, policy.ranking)
            named.extend(before.asked)
            for term in before.own:
                if terms.get(term, 0.0) < weight:
                    terms[term] = weight
                    own[term] = weight
            if elliptical:
                kind = kind or before.answer_type
                expected = expected or before.expected
                counted = counted or before.counted
            weight *= policy.history_decay
    return Query(
        terms=terms,
        own=own,
        related=asked.related,
        answer_type=kind,
        asked=tuple(named),
        attribute=asked.attribute,
        expected=expected,
        counted=counted,
    )


def highest_idf(idf: Mapping[str, float]) -> float:
    """The highest idf in ``idf`` (1.0 when empty); a table that keeps it as ``ceiling`` (a large index's
    :class:`~askidcpc.rank.TermIdf`) is not scanned."""
    ceiling = getattr(idf, "ceiling", None)
    return float(ceiling) if ceiling is not None else max(idf.values(), default=1.0)


def support(query: Query, passage_terms: set[str], idf: Mapping[str, float], related_credit: float = 0.7) -> float:
    """The idf-weighted share of the query's own terms that ``passage_terms`` covers, in [0, 1].

    A term counts fully when present, ``related_credit`` when only one of its synonyms is. Terms the corpus never
    uses count with the highest idf, so a question about something the articles never mention (a budget, a recipe)
    cannot be well supported.
    """
    if not query.own:
        return 0.0
    ceiling = highest_idf(idf)
    total = covered = 0.0
    for term, weight in query.own.items():
        mass = weight * max(idf.get(term, ceiling), 1e-6)
        total += mass
        if term in passage_terms:
            covered += mass
        elif query.related.get(term, frozenset()) & passage_terms:
            covered += related_credit * mass
    return covered / total if total else 0.0


def evidence(query: Query, hits: Sequence[Hit], idf: Mapping[str, float], policy: AnswerPolicy) -> Evidence:
    """The :class:`Evidence` for the best of ``hits`` (which must not be empty)."""
    best = hits[0]
    coverage = support(query, set(tokenize(best.passage.text)), idf, policy.related_credit)
    runner_up = max((hit.score for hit in hits[1:2]), default=0.0)
    # A sentence the reader chose over higher-ranked ones (see select) leads nothing: gap 0.
    gap = max(0.0, (best.score - runner_up) / best.score) if best.score > 0 else 0.0
    typed = answers_type(best.passage.text, query.expected, query.asked)
    if typed and query.counted:
        # "How many think tanks …?" is not answered by "About 400 visits … think tanks": the figure must count them.
        typed = counts_asked(query, best.passage.text)
    passage_terms = set(tokenize(best.passage.text))
    ceiling = highest_idf(idf)
    total = unknown = missing = 0.0
    for term, weight in query.own.items():
        term_idf = idf.get(term, ceiling)
        total += weight * term_idf
        if not is_known(term, query.related.get(term, frozenset()), idf):
            unknown += weight * term_idf
        if term not in passage_terms and not query.related.get(term, frozenset()) & passage_terms:
            missing = max(missing, weight * term_idf / ceiling)
    unknown_attribute = any(not is_known(term, query.related.get(term, frozenset()), idf) for term in query.attribute)
    return Evidence(
        coverage,
        gap,
        typed,
        query.expected is not None and not typed,
        unknown / total if total else 0.0,
        missing,
        unknown_attribute,
    )


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def is_known(term: str, related: frozenset[str], idf: Mapping[str, float]) -> bool:
    """Whether the corpus uses ``term``, one of its ``related`` synonyms, or a word it is a likely typo of.

    A typo, for terms of five letters or more: one letter deleted, inserted, changed or two swapped; or extending a
    stem of six letters or more by at most two. A question word the corpus has no trace of marks a question it
    probably cannot answer."""
    if term in idf or any(stem in idf for stem in related):
        return True
    if len(term) < 5 or not term.isalpha():
        return False
    if any(term[:cut] in idf for cut in (len(term) - 1, len(term) - 2) if cut >= 6):
        return True
    splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
    variants = (
        [head + tail[1:] for head, tail in splits if tail]
        + [head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1]
        + [head + letter + tail[1:] for head, tail in splits if tail for letter in _LETTERS]
        + [head + letter + tail for head, tail in splits for letter in _LETTERS]
    )
    return any(variant in idf for variant in variants)


def counts_asked(query: Query, text: str) -> bool:
    """Whether ``text`` gives a figure counting what a "how many N" ``query`` asks about (N or a synonym)."""
    counts = _counted(text)
    return any(stem in counts or query.related.get(stem, frozenset()) & counts.keys() for stem in query.counted)


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
    counted = _counted(chosen[0].passage.text, number_words=False)
    if not counted:
        return None
    terms = dict(query.terms)
    for stem in counted:
        terms[stem] = max(terms.get(stem, 0.0), 1.0)
    return replace(query, terms=terms)


def confidence(found: Evidence, policy: AnswerPolicy) -> float:
    """The calibrated probability that the best sentence answers the question."""
    logit = sum(w * x for w, x in zip(policy.weights, found.features(), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


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


def _counted(text: str, number_words: bool = True) -> dict[str, set[str]]:
    """What each figure of ``text`` counts: the stems of the (up to two) words after it, up to a stop word, each
    mapped to the figures before it ("about 400 political parties" → {"polit": {"400"}, "parti": {"400"}}). Without
    ``number_words`` only written figures count ("the two parties" names a pair, it reports no figure)."""
    counted: dict[str, set[str]] = {}
    for match in _COUNTED.finditer(normalize(text)):
        if not number_words and not match.group(1)[0].isdigit():
            continue
        for word in match.group(2).split():
            if word in STOP_WORDS:  # "400 members in 30 towns": "in" ends what 400 counts
                break
            counted.setdefault(stem_word(word), set()).add(match.group(1).replace(",", ""))
    return counted


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
    best_counted = _counted(best.passage.text, number_words=False)
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
        counted = _counted(hit.passage.text, number_words=False)
        if any(counted[stem] != figures for stem, figures in best_counted.items() if stem in counted):
            found.append(hit)
            seen.add(other.doc_id)
    return found
