"""Named features of a (question, candidate sentence) pair for the learned reader.

The reader re-ranks the retriever's top candidates (about 30) with a linear model over :data:`FEATURES` and decides
whether to answer with a second linear model over the chosen candidate's features plus list-level ones. Weights are
stored keyed by feature name (``data/reader_weights.json``), so adding or reordering features never misreads them.

Families (:data:`FAMILIES`, used for ablations):

- ``retrieval``: the retriever's own scores, normalised by the query's best and raw (log-scaled), and rank.
- ``overlap``: how much of the question the sentence holds: idf-weighted coverage (a synonym counting partly),
  own terms matched, the rarest own term missing, the tightest window holding the matched terms, question bigrams
  in order, sentence length.
- ``paragraph``: the sentence's paragraph as context: its coverage of the question, the rarest own term (and the
  question names) it lacks, the sentence's share of the paragraph score, first sentence or not, and two products
  (sentence x paragraph score, coverage x paragraph score) a linear model cannot form itself.
- ``structural``: the expected answer type present (and not just what the question names) or absent; for a "how
  many N" question, a figure counting N or only figures counting something else; the question's capitalised names
  and figures present or missing; role modifiers (deputy, former, ...) next to a
  matched word that the question does not have; a negation on one side only.
- ``list``: the same for every candidate of a question (so they cannot change a ranking, only confidence): the
  retriever's top-score margin, the share of question terms the corpus never uses, an unknown attribute word, the
  best raw sentence score, the number of own terms.

Everything is plain Python / numpy over the candidates only; per-sentence tokens and words are passed in so that a
caller can cache them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from askidcpc.reader.answer_type import AnswerType, answers_type
from askidcpc.reader.evidence import RELATED_CREDIT, counts_asked, highest_idf, is_known, support
from askidcpc.reader.query import Query
from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word

__all__ = [
    "AGGREGATES",
    "BASE_FEATURES",
    "FAMILIES",
    "FEATURES",
    "LIST_AGGREGATES",
    "SEMANTIC",
    "SEMANTIC_LIST",
    "Candidate",
    "ListContext",
    "Profile",
    "candidate_row",
    "list_context",
    "profile",
    "semantic_block",
    "with_aggregates",
]

FloatArray = npt.NDArray[np.float64]

FAMILIES: Mapping[str, tuple[str, ...]] = {
    "retrieval": ("sent_norm", "para_norm", "blended", "rank_rr", "sent_raw", "para_raw"),
    "overlap": (
        "coverage",
        "matched_share",
        "matched_count",
        "missing_idf",
        "window",
        "bigrams",
        "log_len",
    ),
    "paragraph": (
        "para_coverage",
        "para_missing_idf",
        "para_entities_missing",
        "sent_share",
        "first_in_paragraph",
        "sent_x_para",
        "coverage_x_para",
        "para_missing_share",
        "neighbour_coverage",
        "context_coverage",
        "para_bigrams",
        "skip_bigrams",
    ),
    "structural": (
        "typed",
        "untyped",
        "counts_asked",
        "counts_other",
        "entities_present",
        "entities_missing",
        "figures_missing",
        "role_extra",
        "negation_mismatch",
    ),
    "list": (
        "margin",
        "unknown",
        "unknown_attribute",
        "top_sent_raw",
        "n_own",
        "question_negated",
        "expects_date",
        "expects_number",
        "expects_person",
        "expects_place",
    ),
}
# Computed per candidate by candidate_row:
BASE_FEATURES: tuple[str, ...] = tuple(name for family in FAMILIES.values() for name in family)
# Computed over a question's candidate list by with_aggregates (candidates of the same paragraph pooled):
AGGREGATES: tuple[str, ...] = ("para_best_sent", "para_best_coverage", "para_candidates", "para_sum_sent")
# ... and over all of a question's candidates: how many there are (log). A small corpus gives few candidates, and
# the ranker's probability for the best of few says less than for the best of thirty.
LIST_AGGREGATES: tuple[str, ...] = ("n_candidates",)
FAMILIES = {**FAMILIES, "aggregate": AGGREGATES, "list": (*FAMILIES["list"], *LIST_AGGREGATES)}
FEATURES: tuple[str, ...] = BASE_FEATURES + AGGREGATES + LIST_AGGREGATES
# With the semantic extra (:mod:`askidcpc.reader.semantic`), appended after FEATURES by semantic_block: the cosine of
# the question's and the sentence's vectors, its rank and gap to the best among the candidates, the best over the
# sentence's paragraph and over its neighbours, and (constant within a question) the best cosine and its margin.
SEMANTIC: tuple[str, ...] = ("cos", "cos_rank", "cos_gap", "cos_para_max", "cos_neighbour", "cos_top", "cos_top_margin")
SEMANTIC_LIST: tuple[str, ...] = ("cos_top", "cos_top_margin")
# Features that vary between candidates of one question (the list family is constant within a question).
RANKING_FEATURES: tuple[str, ...] = tuple(name for name in FEATURES if name not in FAMILIES["list"])

_ROLES = frozenset(["deputy", "vice", "former", "acting", "assistant", "ex", "interim", "honorary", "late"])
_NEGATIONS = frozenset(["not", "no", "never", "without", "none", "neither", "nor", "nobody", "nothing", "cannot"])
_ENTITY = re.compile(r"\b[A-Z][\w'’-]*")
_FIGURE = re.compile(r"\d[\d,.]*")
_QUESTION_OPENERS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "has",
        "have",
        "had",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "of",
        "the",
        "a",
        "an",
    ]
)


@dataclass(frozen=True)
class Candidate:
    """One candidate sentence as the retriever left it. ``tokens``: its index terms (:func:`tokenize`); ``words``:
    its normalized words (:func:`words`); scores raw; ``blended``: the retriever's ranking score; ``rank`` from 1."""

    text: str
    tokens: Sequence[str]
    words: Sequence[str]
    sentence_score: float
    paragraph_score: float
    blended: float
    rank: int
    paragraph_tokens: frozenset[str] = frozenset()  # every index term of the sentence's paragraph
    paragraph_words: frozenset[str] = frozenset()  # every normalized word of it
    position: int = 0  # the sentence's place in its paragraph, from 0
    neighbour_tokens: frozenset[str] = frozenset()  # the index terms of the sentences before and after it
    paragraph_bigrams: frozenset[tuple[str, str]] = frozenset()  # adjacent index-term pairs of its paragraph


@dataclass(frozen=True)
class ListContext:
    """What a question's candidate list says as a whole. ``top_sentence`` / ``top_paragraph``: the best raw
    sentence and paragraph BM25 scores for the query; ``top_blended`` its best ranking score; ``margin`` the
    relative lead of the best over the runner-up; ``unknown``: idf-weighted share of own terms the corpus never
    uses (nor a synonym or likely typo); ``unknown_attribute``: an attribute word ("budget") the corpus lacks."""

    top_sentence: float
    top_paragraph: float
    top_blended: float
    margin: float
    unknown: float
    unknown_attribute: bool


@dataclass(frozen=True)
class Profile:
    """Per-question facts the candidate features compare against (computed once per question)."""

    query: Query
    ordered: tuple[str, ...]  # own stems in question order
    entities: frozenset[str]  # lower-cased capitalised question words (not the opening word nor question words)
    figures: frozenset[str]  # numbers and years named in the question
    negated: bool
    asked: frozenset[str]  # the question's normalized words


def profile(query: Query, question: str) -> Profile:
    """The :class:`Profile` of ``question`` (original casing, for names) analysed as ``query``."""
    ordered = tuple(stem for w in query.asked if w not in STOP_WORDS and (stem := stem_word(w)) in query.own)
    entities: set[str] = set()
    for match in _ENTITY.finditer(question):
        word = normalize(match.group(0)).removesuffix("'s")
        if match.start() == 0 or word in _QUESTION_OPENERS or word in STOP_WORDS:
            continue
        entities.add(word)
    figures = frozenset(f.rstrip(".,").replace(",", "") for f in _FIGURE.findall(question))
    asked = frozenset(query.asked)
    return Profile(query, ordered, frozenset(entities), figures, bool(asked & _NEGATIONS or "n't" in question), asked)


def list_context(
    query: Query,
    sentence_scores: Sequence[float],
    top_paragraph: float,
    blended: Sequence[float],
    idf: Mapping[str, float],
) -> ListContext:
    """The :class:`ListContext` of a question whose candidates (best first) have these raw sentence and ranking
    scores; ``top_paragraph``: the best raw paragraph score."""
    top = float(blended[0]) if len(blended) else 0.0
    runner = float(blended[1]) if len(blended) > 1 else 0.0
    ceiling = highest_idf(idf)
    total = unknown = 0.0
    for term, weight in query.own.items():
        mass = weight * idf.get(term, ceiling)
        total += mass
        if not is_known(term, query.related.get(term, frozenset()), idf):
            unknown += mass
    unknown_attribute = any(not is_known(t, query.related.get(t, frozenset()), idf) for t in query.attribute)
    return ListContext(
        top_sentence=float(max(sentence_scores, default=0.0)),
        top_paragraph=float(top_paragraph),
        top_blended=top,
        margin=max(0.0, (top - runner) / top) if top > 0 else 0.0,
        unknown=unknown / total if total else 0.0,
        unknown_attribute=unknown_attribute,
    )


def _window(tokens: Sequence[str], wanted: set[str]) -> int:
    """The length of the shortest run of ``tokens`` holding every term of ``wanted`` (0 when ``wanted`` is empty)."""
    if not wanted:
        return 0
    best = len(tokens)
    last: dict[str, int] = {}
    for at, token in enumerate(tokens):
        if token in wanted:
            last[token] = at
            if len(last) == len(wanted):
                best = min(best, at - min(last.values()) + 1)
    return best


def candidate_row(prof: Profile, cand: Candidate, ctx: ListContext, idf: Mapping[str, float]) -> FloatArray:
    """The features of ``cand`` for the question of ``prof``, in :data:`FEATURES` order."""
    query = prof.query
    tokens = cand.tokens
    token_set = set(tokens)
    ceiling = highest_idf(idf)
    matched = [t for t in query.own if t in token_set]
    related_only = [t for t in query.own if t not in token_set and query.related.get(t, frozenset()) & token_set]
    missing = 0.0
    for term, weight in query.own.items():
        if term not in token_set and not query.related.get(term, frozenset()) & token_set:
            missing = max(missing, weight * idf.get(term, ceiling) / ceiling)
    n_own = max(1, len(query.own))
    length = max(1, len(tokens))
    window = _window(tokens, set(matched) | {s for t in related_only for s in query.related[t] & token_set})
    pairs = list(pairwise(prof.ordered))
    sentence_pairs = set(pairwise(tokens))
    bigrams = sum(pair in sentence_pairs for pair in pairs) / len(pairs) if pairs else 0.0
    para_bigrams = sum(pair in cand.paragraph_bigrams for pair in pairs) / len(pairs) if pairs else 0.0
    near_pairs = {(a, b) for at, a in enumerate(tokens) for b in tokens[at + 1 : at + 4]}
    skip_bigrams = sum(pair in near_pairs for pair in pairs) / len(pairs) if pairs else 0.0

    typed = answers_type(cand.text, query.expected, query.asked)
    counted = bool(query.counted) and counts_asked(query, cand.text)
    if typed and query.counted:
        typed = counted
    word_set = set(cand.words)
    entities_present = sum(e in word_set for e in prof.entities)
    figures_missing = sum(f not in word_set for f in prof.figures)
    role_extra = 0.0
    cand_words = cand.words
    own_hit = set(matched)
    for at, word in enumerate(cand_words):
        if word in _ROLES and word not in prof.asked:
            near = [*cand_words[max(0, at - 2) : at], *cand_words[at + 1 : at + 3]]
            if any(stem_word(w) in own_hit for w in near):
                role_extra = 1.0
                break
    negated = bool(word_set & _NEGATIONS) or "n't" in cand.text
    para_tokens = cand.paragraph_tokens | token_set
    para_words = cand.paragraph_words | word_set
    para_missing = 0.0
    for term, weight in query.own.items():
        if term not in para_tokens and not query.related.get(term, frozenset()) & para_tokens:
            para_missing = max(para_missing, weight * idf.get(term, ceiling) / ceiling)
    sent_norm = cand.sentence_score / ctx.top_sentence if ctx.top_sentence > 0 else 0.0
    para_norm = cand.paragraph_score / ctx.top_paragraph if ctx.top_paragraph > 0 else 0.0
    coverage = support(query, token_set, idf, RELATED_CREDIT)
    para_missing_share = sum(t not in para_tokens for t in query.own) / n_own
    expected = query.expected

    values: dict[str, float] = {
        "sent_norm": sent_norm,
        "para_norm": para_norm,
        "blended": cand.blended / ctx.top_blended if ctx.top_blended > 0 else 0.0,
        "rank_rr": 1.0 / cand.rank,
        "sent_raw": math.log1p(max(0.0, cand.sentence_score)),
        "para_raw": math.log1p(max(0.0, cand.paragraph_score)),
        "coverage": coverage,
        "matched_share": (len(matched) + RELATED_CREDIT * len(related_only)) / n_own,
        "matched_count": float(len(matched)),
        "missing_idf": missing,
        "window": window / length,
        "bigrams": bigrams,
        "log_len": math.log(length),
        "para_coverage": support(query, set(para_tokens), idf, RELATED_CREDIT),
        "para_missing_idf": para_missing,
        "para_entities_missing": float(sum(e not in para_words for e in prof.entities)),
        "sent_share": cand.sentence_score / cand.paragraph_score if cand.paragraph_score > 0 else 0.0,
        "first_in_paragraph": float(cand.position == 0),
        "sent_x_para": sent_norm * para_norm,
        "coverage_x_para": coverage * para_norm,
        "para_missing_share": para_missing_share,
        "neighbour_coverage": support(query, set(cand.neighbour_tokens), idf, RELATED_CREDIT),
        "context_coverage": support(query, token_set | cand.neighbour_tokens, idf, RELATED_CREDIT),
        "para_bigrams": para_bigrams,
        "skip_bigrams": skip_bigrams,
        "typed": float(typed),
        "untyped": float(query.expected is not None and not typed),
        # A "how many N" question: a figure counting N, or figures that count something else.
        "counts_asked": float(counted),
        "counts_other": float(bool(query.counted) and not counted and answers_type(cand.text, query.expected, ())),
        "entities_present": entities_present / len(prof.entities) if prof.entities else 0.0,
        "entities_missing": float(len(prof.entities) - entities_present),
        "figures_missing": float(figures_missing),
        "role_extra": role_extra,
        "negation_mismatch": float(negated != prof.negated),
        "margin": ctx.margin,
        "unknown": ctx.unknown,
        "unknown_attribute": float(ctx.unknown_attribute),
        "top_sent_raw": math.log1p(max(0.0, ctx.top_sentence)),
        "n_own": math.log1p(len(query.own)),
        "question_negated": float(prof.negated),
        "expects_date": float(expected is AnswerType.DATE),
        "expects_number": float(expected in (AnswerType.NUMBER, AnswerType.AGE)),
        "expects_person": float(expected is AnswerType.PERSON),
        "expects_place": float(expected is AnswerType.PLACE),
    }
    return np.fromiter((values[name] for name in BASE_FEATURES), dtype=np.float64, count=len(BASE_FEATURES))


def with_aggregates(base: FloatArray, question: npt.NDArray[np.int64], paragraph: npt.NDArray[np.int64]) -> FloatArray:
    """``base`` rows (:data:`BASE_FEATURES`) of one or many questions' candidates with the :data:`AGGREGATES`
    columns appended (over the candidates of the same question and paragraph, the best normalised sentence score,
    the best coverage, how many there are (log) and the sum of their normalised sentence scores), then the
    :data:`LIST_AGGREGATES` (how many candidates the question has, log)."""
    _, group = np.unique(np.column_stack([question, paragraph]), axis=0, return_inverse=True)
    group = group.ravel()
    n = int(group.max()) + 1 if len(group) else 0
    sent = base[:, BASE_FEATURES.index("sent_norm")]
    cov = base[:, BASE_FEATURES.index("coverage")]
    best_sent = np.full(n, -np.inf)
    best_cov = np.full(n, -np.inf)
    np.maximum.at(best_sent, group, sent)
    np.maximum.at(best_cov, group, cov)
    count = np.bincount(group, minlength=n).astype(np.float64)
    total = np.bincount(group, weights=sent, minlength=n)
    _, per_question = np.unique(question, return_inverse=True)
    per_question = per_question.ravel()
    n_candidates = np.bincount(per_question).astype(np.float64)[per_question]
    extra = np.column_stack(
        [best_sent[group], best_cov[group], np.log(count[group]), total[group], np.log(n_candidates)]
    )
    return np.hstack([base, extra])


def semantic_block(cos: FloatArray, para_max: FloatArray, neighbour: FloatArray) -> FloatArray:
    """The :data:`SEMANTIC` columns of one question's candidates: ``cos`` (question . sentence, unit vectors),
    ``para_max`` (the best cosine over the sentences of the candidate's paragraph) and ``neighbour`` (the best over
    the sentences just before and after it in its paragraph; its own cosine when it has none) per candidate; the
    rank, the gap to the best, the best and its margin over the second best are derived here."""
    order = np.argsort(-cos, kind="stable")
    rank = np.empty(len(cos))
    rank[order] = np.arange(1, len(cos) + 1)
    top = float(cos[order[0]])
    second = float(cos[order[1]]) if len(cos) > 1 else top
    best = np.full(len(cos), top)
    return np.column_stack([cos, 1.0 / rank, cos - best, para_max, neighbour, best, np.full(len(cos), top - second)])
