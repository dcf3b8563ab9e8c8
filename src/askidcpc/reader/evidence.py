"""Lexical evidence the reader's features are made of: how much of the question a sentence covers (idf-weighted,
synonyms counting partly), whether the corpus knows a question word at all (or a likely typo of it), and what the
figures of a sentence count ("about 400 political parties").

Coverage is measured for many term sets at once (:class:`Coverage`: numpy over a sets x terms table of which query
terms each set holds), so that a question's thirty candidates, their paragraphs and neighbours cost a few array
operations, not a Python loop over the question's terms for each."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from askidcpc.reader.answer_type import COUNT_WORDS
from askidcpc.reader.query import Query
from askidcpc.reader.spelling import MAX_LENGTH, MIN_LENGTH, one_edit
from askidcpc.text.tokenize import STOP_WORDS, normalize, stem_word

__all__ = [
    "RELATED_CREDIT",
    "Coverage",
    "Held",
    "counts_asked",
    "figures_counted",
    "highest_idf",
    "is_known",
    "support",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


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


class Held(NamedTuple):
    """Which query terms each of some term sets holds, one row a set (:meth:`Coverage.held`): ``terms``, every
    query term (:attr:`Coverage.terms`); ``present``, each own term itself; ``synonym``, a synonym of each own term."""

    terms: BoolArray
    present: BoolArray
    synonym: BoolArray

    @property
    def related_only(self) -> BoolArray:
        """The own terms a row lacks but holds a synonym of."""
        return self.synonym & ~self.present

    @staticmethod
    def stack(blocks: Sequence[Held]) -> Held:
        """The rows of ``blocks``, one after the other."""
        return Held(*(np.concatenate(arrays) for arrays in zip(*blocks, strict=True)))

    def take(self, rows: Sequence[int]) -> Held:
        """These rows, in this order (repeats allowed)."""
        return Held(self.terms[rows], self.present[rows], self.synonym[rows])

    def __or__(self, other: object) -> Held:
        """What the union of each row's two sets holds."""
        if not isinstance(other, Held):
            return NotImplemented
        return Held(self.terms | other.terms, self.present | other.present, self.synonym | other.synonym)


class Coverage:
    """How much of a query's own terms sets of passage terms hold, many sets at once (made once per question).

    :meth:`held` marks which of the query's terms (own terms first, in query order, then their synonyms: ``terms``)
    each set holds; the other methods read that table. An own term counts fully when present, ``related_credit``
    when only one of its synonyms is. Terms the corpus never uses weigh the corpus' highest idf (``idf.ceiling``
    when the table keeps one, see :func:`highest_idf`).
    """

    def __init__(self, query: Query, idf: Mapping[str, float], related_credit: float = RELATED_CREDIT) -> None:
        ceiling = highest_idf(idf)
        self.own = tuple(query.own)
        related = [query.related.get(term, frozenset()) for term in self.own]
        self.terms = tuple(dict.fromkeys([*self.own, *(stem for stems in related for stem in stems)]))
        self._column = {term: at for at, term in enumerate(self.terms)}
        self._lookup = frozenset(self.terms)
        # Each query term: the own terms it stands in for; and as a table (own term x query term).
        self._stands_for: dict[str, list[int]] = {term: [] for term in self.terms}
        for j, stems in enumerate(related):
            for stem in stems:
                self._stands_for[stem].append(j)
        self._synonym = np.zeros((len(self.own), len(self.terms)), dtype=np.bool_)
        pairs = [(j, self._column[stem]) for stem, owners in self._stands_for.items() for j in owners]
        self._synonym[[j for j, _ in pairs], [column for _, column in pairs]] = True
        weights = [query.own[term] for term in self.own]
        idfs = [idf.get(term, ceiling) for term in self.own]
        mass = [weight * max(value, 1e-6) for weight, value in zip(weights, idfs, strict=True)]
        self._mass = np.asarray(mass, dtype=np.float64)
        self._credit = np.asarray([related_credit * value for value in mass], dtype=np.float64)
        # A running sum in query order, as every share below adds up its terms.
        self._total = 0.0
        for value in mass:
            self._total += value
        self._missing = np.asarray(
            [weight * value / ceiling for weight, value in zip(weights, idfs, strict=True)], dtype=np.float64
        )

    def held(self, term_sets: Sequence[Set[str]]) -> Held:
        """What each of ``term_sets`` holds of the query (one row a set)."""
        rows: list[int] = []
        columns: list[int] = []
        synonym_rows: list[int] = []
        synonym_columns: list[int] = []
        for row, found in enumerate(term_sets):
            for term in self._lookup & found:
                rows.append(row)
                columns.append(self._column[term])
                owners = self._stands_for[term]
                if owners:
                    synonym_rows += [row] * len(owners)
                    synonym_columns += owners
        terms = np.zeros((len(term_sets), len(self.terms)), dtype=np.bool_)
        terms[rows, columns] = True
        synonym = np.zeros((len(term_sets), len(self.own)), dtype=np.bool_)
        synonym[synonym_rows, synonym_columns] = True
        return Held(terms, terms[:, : len(self.own)], synonym)

    def held_of(self, terms: BoolArray) -> Held:
        """:meth:`held` from the table of which of :attr:`terms` each set holds (one row a set, one column a term),
        as an index's postings tell it without the sets."""
        synonym: BoolArray = np.any(terms[:, None, :] & self._synonym[None, :, :], axis=2)
        return Held(terms, terms[:, : len(self.own)], synonym)

    def counted_terms(self, held: Held) -> list[list[str]]:
        """The query terms that count for each row: own terms present, and the synonyms present of own terms only
        a synonym stands in for."""
        counted = held.terms & ((np.arange(len(self.terms)) < len(self.own)) | (held.related_only @ self._synonym))
        found: list[list[str]] = [[] for _ in range(len(counted))]
        for row, column in zip(*(axis.tolist() for axis in np.nonzero(counted)), strict=True):
            found[row].append(self.terms[column])
        return found

    def support(self, held: Held) -> FloatArray:
        """Each row's idf-weighted share of the own terms covered, in [0, 1] (0 for a query without own terms)."""
        if not self._total:
            return np.zeros(len(held.present))
        covered = np.where(held.present, self._mass, np.where(held.related_only, self._credit, 0.0))
        # np.cumsum adds in order, as a running sum would; the last column is the sum.
        return np.cumsum(covered, axis=1)[:, -1] / self._total

    def missing(self, held: Held) -> FloatArray:
        """Each row's rarest missing own term (neither it nor a synonym held): its weight x idf / the highest idf;
        0 when none is missing."""
        absent = ~(held.present | held.synonym)
        missing: FloatArray = np.max(np.where(absent, self._missing, 0.0), axis=1, initial=0.0)
        return missing


def support(
    query: Query, passage_terms: Set[str], idf: Mapping[str, float], related_credit: float = RELATED_CREDIT
) -> float:
    """The idf-weighted share of the query's own terms that ``passage_terms`` covers, in [0, 1].

    A term counts fully when present, ``related_credit`` when only one of its synonyms is. Terms the corpus never
    uses count with the highest idf, so a question about something the articles never mention (a budget, a recipe)
    cannot be well supported. (One set; :class:`Coverage` measures many.)
    """
    coverage = Coverage(query, idf, related_credit)
    return float(coverage.support(coverage.held([passage_terms]))[0])


def is_known(term: str, related: frozenset[str], idf: Mapping[str, float]) -> bool:
    """Whether the corpus uses ``term``, one of its ``related`` synonyms, or a word it is a likely typo of.

    A typo, for terms of five to thirty letters: one letter deleted, inserted, changed or two swapped; or extending a
    stem of six letters or more by at most two. A question word the corpus has no trace of marks a question it
    probably cannot answer."""
    if term in idf or any(stem in idf for stem in related):
        return True
    if not MIN_LENGTH <= len(term) <= MAX_LENGTH or not term.isalpha():
        return False
    if any(term[:cut] in idf for cut in (len(term) - 1, len(term) - 2) if cut >= 6):
        return True
    return any(variant in idf for variant in one_edit(term))


def counts_asked(query: Query, text: str) -> bool:
    """Whether ``text`` gives a figure counting what a "how many N" ``query`` asks about (N or a synonym)."""
    counts = _counted_stems(text)
    return any(stem in counts or query.related.get(stem, frozenset()) & counts for stem in query.counted)


@lru_cache(maxsize=1 << 16)
def _counted_stems(text: str) -> frozenset[str]:
    """What the figures of ``text`` count (:func:`figures_counted`'s stems), kept per sentence."""
    return frozenset(stem for stem, _ in _figures_counted(text, True))


def figures_counted(text: str, number_words: bool = True) -> dict[str, set[str]]:
    """What each figure of ``text`` counts: the stems of the (up to two) words after it, up to a stop word, each
    mapped to the figures before it ("about 400 political parties" → {"polit": {"400"}, "parti": {"400"}}). Without
    ``number_words`` only written figures count ("the two parties" names a pair, it reports no figure). A new dict
    each call (the analysis behind it is kept per sentence)."""
    return {stem: set(figures) for stem, figures in _figures_counted(text, number_words)}


@lru_cache(maxsize=1 << 16)
def _figures_counted(text: str, number_words: bool) -> tuple[tuple[str, frozenset[str]], ...]:
    counted: dict[str, set[str]] = {}
    for match in _COUNTED.finditer(normalize(text)):
        if not number_words and not match.group(1)[0].isdigit():
            continue
        for word in match.group(2).split():
            if word in STOP_WORDS:  # "400 members in 30 towns": "in" ends what 400 counts
                break
            counted.setdefault(stem_word(word), set()).add(match.group(1).replace(",", ""))
    return tuple((stem, frozenset(figures)) for stem, figures in counted.items())
