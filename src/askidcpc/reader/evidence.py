"""Evidence and confidence: what speaks for the best sentence beyond its BM25 score (how much of the question it
covers, its lead over the runner-up, whether it holds the expected answer type, question words the corpus never
uses), and the calibrated probability that it answers the question."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from askidcpc.config import AnswerPolicy
from askidcpc.reader.answer_type import COUNT_WORDS, answers_type
from askidcpc.reader.query import Query
from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word, tokenize
from askidcpc.types import Hit

__all__ = [
    "Evidence",
    "confidence",
    "counts_asked",
    "evidence",
    "figures_counted",
    "highest_idf",
    "is_known",
    "support",
]


# A figure and the (up to two) words after it: what it counts.
_FIGURE = rf"\d+(?:,\d{{3}})*(?:\.\d+)?|{'|'.join(COUNT_WORDS)}"
_COUNTED = re.compile(rf"\b({_FIGURE})\s+(?:of\s+)?([a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)")


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

    def features(self) -> dict[str, float]:
        """The features :class:`~askidcpc.config.AnswerPolicy` weighs, by name (``bias`` is the constant 1)."""
        return {
            "bias": 1.0,
            "coverage": self.coverage,
            "gap": self.gap,
            "typed": float(self.typed),
            "untyped": float(self.untyped),
            "unknown": self.unknown,
            "missing": self.missing,
            "unknown_attribute": float(self.unknown_attribute),
        }


def highest_idf(idf: Mapping[str, float]) -> float:
    """The highest idf in ``idf`` (1.0 when empty); a table that keeps it as ``ceiling`` (a large index's
    :class:`~askidcpc.reader.rank.TermIdf`) is not scanned."""
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
    counts = figures_counted(text)
    return any(stem in counts or query.related.get(stem, frozenset()) & counts.keys() for stem in query.counted)


def confidence(found: Evidence, policy: AnswerPolicy) -> float:
    """The calibrated probability that the best sentence answers the question."""
    features = found.features()
    weights = dict(policy.weights)
    if weights.keys() != features.keys():
        raise ValueError(f"confidence weights name {sorted(weights)}; the evidence has {sorted(features)}")
    logit = sum(weight * features[name] for name, weight in weights.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


def figures_counted(text: str, number_words: bool = True) -> dict[str, set[str]]:
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
