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
- ``structural``: the expected answer type present (and not just what the question names) or absent (and absent
  where it is a date or a figure, which a linear model cannot single out itself); for a "how many N" question, a
  figure counting N or only figures counting something else; the question's capitalised names and figures present
  or missing; role modifiers (deputy, former, ...) next to a matched word that the question does not have; a
  negation on one side only.
- ``list``: the same for every candidate of a question (so they cannot change a ranking, only confidence): the
  retriever's top-score margin, the share of question terms the corpus never uses, an unknown attribute word, the
  best raw sentence score, the number of own terms.

Everything is numpy over a question's candidates only (:func:`candidate_rows`: one table of which question terms
each candidate, paragraph and neighbourhood holds, :class:`~askidcpc.reader.evidence.Coverage`), plus a little
Python per candidate over its :class:`Sentence`: what a sentence holds (terms, words, term pairs, role words,
negation, answer types) is computed once per sentence text (:func:`sentence`) and kept, since the same sentences
come back question after question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from askidcpc.reader.answer_type import AnswerType, answers_type_among
from askidcpc.reader.evidence import RELATED_CREDIT, Coverage, Held, counts_asked, highest_idf, is_known
from askidcpc.reader.query import Query
from askidcpc.reader.rank import Ranked
from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word, words

__all__ = [
    "AGGREGATES",
    "BASE_FEATURES",
    "FAMILIES",
    "FEATURES",
    "LIST_AGGREGATES",
    "SEMANTIC",
    "SEMANTIC_LIST",
    "Candidate",
    "InContext",
    "ListContext",
    "Paragraph",
    "Profile",
    "Sentence",
    "candidate_rows",
    "list_context",
    "profile",
    "rows_in_context",
    "semantic_block",
    "sentence",
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
        "untyped_figure",
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
# Computed per candidate by candidate_rows:
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
_COLUMN = {name: at for at, name in enumerate(BASE_FEATURES)}  # each base feature's column

_FIGURE_TYPES = frozenset([AnswerType.DATE, AnswerType.NUMBER, AnswerType.AGE])
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


class Sentence:
    """What the features read of one sentence (:func:`sentence` makes it once per text). ``tokens``: its index terms
    (:func:`~askidcpc.text.tokenize.tokenize`); ``words``: its normalized words
    (:func:`~askidcpc.text.tokenize.words`). What few questions read (term pairs, role words) is worked out when
    first read."""

    def __init__(self, text: str) -> None:
        normalized = tuple(words(text))
        # tokenize(text), from the words already split.
        tokens = tuple([stem_word(word) for word in normalized if word not in STOP_WORDS])
        positions: dict[str, list[int]] = {}
        for at, token in enumerate(tokens):
            if token in positions:
                positions[token].append(at)
            else:
                positions[token] = [at]
        word_set = frozenset(normalized)
        self.text = text
        self.tokens = tokens
        self.words = normalized
        self.token_set = frozenset(positions)
        self.word_set = word_set
        # each index term's places in tokens, as tuples: the garbage collector stops tracking tuples of ints, and a
        # cache of thousands of sentences would otherwise hold hundreds of thousands of lists it scans each time
        self.positions: Mapping[str, Sequence[int]] = {token: tuple(places) for token, places in positions.items()}
        self.negated = not _NEGATIONS.isdisjoint(word_set) or "n't" in text

    @cached_property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """Adjacent index terms, in order."""
        return frozenset(pairwise(self.tokens))

    @cached_property
    def near_pairs(self) -> frozenset[tuple[str, str]]:
        """Index terms one to three places apart, in order."""
        tokens = self.tokens
        return frozenset((a, b) for at, a in enumerate(tokens) for b in tokens[at + 1 : at + 4])

    @cached_property
    def roles(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """Each role word and the stems of the two words either side."""
        normalized = self.words
        if _ROLES.isdisjoint(self.word_set):
            return ()
        return tuple(
            (word, frozenset(stem_word(w) for w in (*normalized[max(0, at - 2) : at], *normalized[at + 1 : at + 3])))
            for at, word in enumerate(normalized)
            if word in _ROLES
        )

    def follows(self, first: str, then: str, reach: int = 1) -> bool:
        """Whether index term ``then`` comes 1 to ``reach`` places after ``first`` (``(first, then)`` in
        :attr:`pairs` for reach 1, in :attr:`near_pairs` for reach 3), without building either."""
        after = self.positions.get(then)
        if after is None:
            return False
        before = self.positions.get(first)
        if before is None:
            return False
        return any(0 < b - a <= reach for a in before for b in after)


@lru_cache(maxsize=1 << 10)
def sentence(text: str) -> Sentence:
    """The :class:`Sentence` of ``text`` (kept: the same sentences come back question after question)."""
    return Sentence(text)


@dataclass(frozen=True)
class Paragraph:
    """A sentence's paragraph as context (the sentence included): every index term, every normalized word and every
    adjacent index-term pair of its sentences."""

    token_set: frozenset[str]
    word_set: frozenset[str]
    pairs: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, sentences: Sequence[Sentence]) -> Paragraph:
        return cls(
            frozenset().union(*(s.token_set for s in sentences)),
            frozenset().union(*(s.word_set for s in sentences)),
            frozenset().union(*(s.pairs for s in sentences)),
        )


class Candidate(NamedTuple):
    """A candidate sentence where it stands: ``paragraph``, its paragraph (itself included); ``position``, its place
    there, from 0; ``neighbour_tokens``, the index terms of the sentences just before and after it. (The same for
    every question: a caller keeps them per paragraph; the retriever's scores come with :class:`Ranked`.)"""

    sentence: Sentence
    paragraph: Paragraph
    position: int = 0
    neighbour_tokens: frozenset[str] = frozenset()


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
    lowered: frozenset[str]  # the same lower-cased, as answer types compare them
    pairs: tuple[tuple[str, str], ...]  # adjacent own stems in question order


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
    negated = bool(asked & _NEGATIONS or "n't" in question)
    lowered = frozenset(word.lower() for word in query.asked)
    return Profile(query, ordered, frozenset(entities), figures, negated, asked, lowered, tuple(pairwise(ordered)))


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


def _window(found: Sentence, wanted: Sequence[str]) -> int:
    """The length of the shortest run of ``found``'s tokens holding every term of ``wanted`` (each one it holds; 0
    when ``wanted`` is empty)."""
    if len(wanted) < 2:
        return len(wanted)
    best = len(found.tokens)
    last: dict[str, int] = {}
    for at, token in sorted([(at, term) for term in wanted for at in found.positions[term]]):
        last[token] = at
        if len(last) == len(wanted):
            best = min(best, at - min(last.values()) + 1)
    return best


def _share(pairs: Sequence[tuple[str, str]], held: frozenset[tuple[str, str]]) -> float:
    """The share of ``pairs`` in ``held`` (0 without pairs)."""
    return sum(map(held.__contains__, pairs)) / len(pairs) if pairs else 0.0


# The features candidate_rows computes per candidate in Python (over its cached Sentence), in _own_values' order.
_OWN_VALUES = (
    "window",
    "bigrams",
    "para_bigrams",
    "skip_bigrams",
    "typed",
    "counts_asked",
    "counts_other",
    "entities_present",
    "para_entities_missing",
    "figures_missing",
    "role_extra",
    "negated",
    "log_len",
    "first_in_paragraph",
)


def _own_values(
    prof: Profile,
    found: Sentence,
    wanted: Sequence[str],
    own_hit: frozenset[str],
    paragraph_pairs: int,
    paragraph_entities: int,
    first: bool,
) -> tuple[float, ...]:
    """The :data:`_OWN_VALUES` of the candidate sentence ``found`` (``wanted``: the question terms it holds, synonyms
    standing in included; ``own_hit``: the own terms it holds; ``paragraph_pairs`` / ``paragraph_entities``: how
    many of the question's term pairs and names its paragraph holds; ``first``: whether it opens its paragraph);
    entity counts raw, ``negated`` for the sentence alone."""
    query = prof.query
    typed = answers_type_among(found.text, query.expected, prof.lowered)
    counted = counts_other = False
    if query.counted:
        counted = counts_asked(query, found.text)
        typed = typed and counted
        counts_other = not counted and answers_type_among(found.text, query.expected, frozenset())
    roles = [near for word, near in found.roles if word not in prof.asked] if own_hit else []
    pairs = prof.pairs
    return (
        _window(found, wanted) / max(1, len(found.tokens)),
        sum([found.follows(a, b) for a, b in pairs]) / len(pairs) if pairs else 0.0,
        paragraph_pairs / len(pairs) if pairs else 0.0,
        sum([found.follows(a, b, 3) for a, b in pairs]) / len(pairs) if pairs else 0.0,
        typed,
        counted,
        counts_other,
        sum(map(found.word_set.__contains__, prof.entities)),
        len(prof.entities) - paragraph_entities,
        len(prof.figures) - sum(map(found.word_set.__contains__, prof.figures)),
        any(near & own_hit for near in roles),
        found.negated,
        math.log(max(1, len(found.tokens))),
        first,
    )


class InContext(NamedTuple):
    """What a question's candidate sentences' rows read of their context, one entry a candidate:
    ``first``, whether it opens its paragraph; ``paragraph_held`` / ``neighbour_held``, which query terms its
    paragraph and the sentences just before and after it hold (:meth:`Coverage.held`); ``paragraph_pairs`` /
    ``paragraph_entities``, how many of the question's adjacent term pairs (:attr:`Profile.pairs`) some sentence of
    its paragraph holds in order, and how many of its names (:attr:`Profile.entities`) the paragraph's words hold."""

    first: Sequence[bool]
    paragraph_held: Held
    neighbour_held: Held
    paragraph_pairs: Sequence[int]
    paragraph_entities: Sequence[int]


def candidate_rows(
    prof: Profile, cands: Sequence[Candidate], ranked: Ranked, ctx: ListContext, idf: Mapping[str, float]
) -> FloatArray:
    """The features of the question of ``prof``'s candidates ``cands`` (``ranked.pids``, best first, with their raw
    scores in ``ranked``), one row each in :data:`BASE_FEATURES` order."""
    coverage = Coverage(prof.query, idf, RELATED_CREDIT)
    # Each paragraph once (candidates share them).
    paragraphs = {id(c.paragraph): c.paragraph for c in cands}
    row = {key: at for at, key in enumerate(paragraphs)}
    paragraph_held = coverage.held([paragraph.token_set for paragraph in paragraphs.values()]).take(
        [row[id(c.paragraph)] for c in cands]
    )
    context = InContext(
        first=[cand.position == 0 for cand in cands],
        paragraph_held=paragraph_held,
        neighbour_held=coverage.held([c.neighbour_tokens for c in cands]),
        paragraph_pairs=[sum(map(c.paragraph.pairs.__contains__, prof.pairs)) for c in cands],
        paragraph_entities=[sum(map(c.paragraph.word_set.__contains__, prof.entities)) for c in cands],
    )
    return rows_in_context(prof, [c.sentence for c in cands], context, ranked, ctx, coverage)


def rows_in_context(
    prof: Profile,
    found: Sequence[Sentence],
    context: InContext,
    ranked: Ranked,
    ctx: ListContext,
    coverage: Coverage,
) -> FloatArray:
    """:func:`candidate_rows` of the candidate sentences ``found`` whose context has been read already
    (``context``; ``coverage``: the question's :class:`Coverage`, whose terms its held tables are of)."""
    query = prof.query
    n = len(found)
    # Which question terms each candidate, its paragraph and its neighbours hold.
    held = coverage.held([f.token_set for f in found])
    neighbour_held = context.neighbour_held
    paragraph_held = context.paragraph_held
    matched = held.present
    wanted = coverage.counted_terms(held)
    # The own terms held, only where a role word may need them.
    own_hit = [
        frozenset(coverage.own[j] for j in np.flatnonzero(matched[at])) if f.roles else frozenset()
        for at, f in enumerate(found)
    ]
    own = np.asarray(
        [
            _own_values(
                prof,
                f,
                wanted[at],
                own_hit[at],
                context.paragraph_pairs[at],
                context.paragraph_entities[at],
                context.first[at],
            )
            for at, f in enumerate(found)
        ],
        dtype=np.float64,
    ).reshape(n, len(_OWN_VALUES))
    per_candidate = dict(zip(_OWN_VALUES, own.T, strict=True))
    n_own = max(1, len(query.own))
    n_entities = len(prof.entities)
    expected = query.expected

    sentence_scores = np.asarray(ranked.sentence_scores, dtype=np.float64)
    paragraph_scores = np.asarray(ranked.paragraph_scores, dtype=np.float64)
    blended = np.asarray(ranked.scores, dtype=np.float64)
    sent_norm = sentence_scores / ctx.top_sentence if ctx.top_sentence > 0 else np.zeros(n)
    para_norm = paragraph_scores / ctx.top_paragraph if ctx.top_paragraph > 0 else np.zeros(n)
    # Coverage and the rarest missing term of each context at once: the sentence, its paragraph, its neighbours, and
    # the sentence with its neighbours.
    contexts = Held.stack([held, paragraph_held, neighbour_held, held | neighbour_held])
    sentence_coverage, para_coverage, neighbour_coverage, context_coverage = coverage.support(contexts).reshape(4, n)
    missing_idf, para_missing_idf, _, _ = coverage.missing(contexts).reshape(4, n)
    untyped = 1.0 - per_candidate["typed"]
    varying: dict[str, FloatArray] = {
        "sent_norm": sent_norm,
        "para_norm": para_norm,
        "blended": blended / ctx.top_blended if ctx.top_blended > 0 else np.zeros(n),
        "rank_rr": np.asarray([1.0 / rank for rank in range(1, n + 1)]),
        "sent_raw": np.asarray([math.log1p(max(0.0, score)) for score in ranked.sentence_scores]),
        "para_raw": np.asarray([math.log1p(max(0.0, score)) for score in ranked.paragraph_scores]),
        "coverage": sentence_coverage,
        "matched_share": (matched.sum(axis=1) + RELATED_CREDIT * held.related_only.sum(axis=1)) / n_own,
        "matched_count": matched.sum(axis=1).astype(np.float64),
        "missing_idf": missing_idf,
        "window": per_candidate["window"],
        "bigrams": per_candidate["bigrams"],
        "log_len": per_candidate["log_len"],
        "para_coverage": para_coverage,
        "para_missing_idf": para_missing_idf,
        "para_entities_missing": per_candidate["para_entities_missing"],
        "sent_share": np.divide(sentence_scores, paragraph_scores, out=np.zeros(n), where=paragraph_scores > 0),
        "first_in_paragraph": per_candidate["first_in_paragraph"],
        "sent_x_para": sent_norm * para_norm,
        "coverage_x_para": sentence_coverage * para_norm,
        "para_missing_share": (~paragraph_held.present).sum(axis=1) / n_own,
        "neighbour_coverage": neighbour_coverage,
        "context_coverage": context_coverage,
        "para_bigrams": per_candidate["para_bigrams"],
        "skip_bigrams": per_candidate["skip_bigrams"],
        "typed": per_candidate["typed"],
        "untyped": untyped if expected is not None else np.zeros(n),
        # The same for a date or a figure only: a sentence without one cannot say when or how many, while a name or
        # a place may stand in a form answer types miss.
        "untyped_figure": untyped if expected in _FIGURE_TYPES else np.zeros(n),
        # A "how many N" question: a figure counting N, or figures that count something else.
        "counts_asked": per_candidate["counts_asked"],
        "counts_other": per_candidate["counts_other"],
        "entities_present": per_candidate["entities_present"] / n_entities if n_entities else np.zeros(n),
        "entities_missing": n_entities - per_candidate["entities_present"],
        "figures_missing": per_candidate["figures_missing"],
        "role_extra": per_candidate["role_extra"],
        "negation_mismatch": (per_candidate["negated"] != prof.negated).astype(np.float64),
    }
    # The list family: the same for every candidate.
    constant: dict[str, float] = {
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
    rows = np.empty((n, len(BASE_FEATURES)))
    rows[:, [_COLUMN[name] for name in varying]] = np.column_stack(list(varying.values()))
    rows[:, [_COLUMN[name] for name in constant]] = list(constant.values())
    return rows


def with_aggregates(base: FloatArray, question: npt.NDArray[np.int64], paragraph: npt.NDArray[np.int64]) -> FloatArray:
    """``base`` rows (:data:`BASE_FEATURES`) of one or many questions' candidates with the :data:`AGGREGATES`
    columns appended (over the candidates of the same question and paragraph, the best normalised sentence score,
    the best coverage, how many there are (log) and the sum of their normalised sentence scores), then the
    :data:`LIST_AGGREGATES` (how many candidates the question has, log)."""
    group, n = _groups(question, paragraph)
    sent = base[:, BASE_FEATURES.index("sent_norm")]
    cov = base[:, BASE_FEATURES.index("coverage")]
    best_sent = np.full(n, -np.inf)
    best_cov = np.full(n, -np.inf)
    np.maximum.at(best_sent, group, sent)
    np.maximum.at(best_cov, group, cov)
    count = np.bincount(group, minlength=n).astype(np.float64)
    total = np.bincount(group, weights=sent, minlength=n)
    per_question, _ = _groups(question)
    n_candidates = np.bincount(per_question).astype(np.float64)[per_question]
    extra = np.column_stack(
        [best_sent[group], best_cov[group], np.log(count[group]), total[group], np.log(n_candidates)]
    )
    return np.hstack([base, extra])


def _groups(*keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Each row's group (rows with equal ``keys`` share one, numbered in the keys' sorted order) and how many there
    are: ``np.unique(..., axis=0, return_inverse=True)`` by one sort, without its structured-array detour."""
    if not len(keys[0]):
        return np.zeros(0, dtype=np.int64), 0
    order = np.lexsort(keys[::-1])
    starts = np.zeros(len(order), dtype=np.bool_)
    starts[0] = True
    for key in keys:
        ordered = key[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(starts) - 1
    return group, int(group[order[-1]]) + 1


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
