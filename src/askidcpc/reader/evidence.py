"""Lexical evidence the reader's features are made of: how much of the question a sentence covers (idf-weighted,
synonyms counting partly), whether the corpus knows a question word at all (or a likely typo of it), and what the
figures of a sentence count ("about 400 political parties")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from askidcpc.reader.answer_type import COUNT_WORDS
from askidcpc.reader.query import Query
from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word

__all__ = ["RELATED_CREDIT", "counts_asked", "figures_counted", "highest_idf", "is_known", "support"]


# A figure and the (up to two) words after it: what it counts.
_FIGURE = rf"\d+(?:,\d{{3}})*(?:\.\d+)?|{'|'.join(COUNT_WORDS)}"
_COUNTED = re.compile(rf"\b({_FIGURE})\s+(?:of\s+)?([a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)")


# What a synonym counts for, against the question's own word.
RELATED_CREDIT = 0.7


def highest_idf(idf: Mapping[str, float]) -> float:
    """The highest idf in ``idf`` (1.0 when empty); a table that keeps it as ``ceiling`` (a large index's
    :class:`~askidcpc.reader.rank.TermIdf`) is not scanned."""
    ceiling = getattr(idf, "ceiling", None)
    return float(ceiling) if ceiling is not None else max(idf.values(), default=1.0)


def support(
    query: Query, passage_terms: set[str], idf: Mapping[str, float], related_credit: float = RELATED_CREDIT
) -> float:
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
