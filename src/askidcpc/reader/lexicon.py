"""Lexical knowledge that ships with askidcpc: WordNet synonyms and derivations, by stem.

The table (``data/wordnet_lexicon.tsv.gz``) was generated offline from Princeton WordNet 3.0 by
``tools/build_lexicon.py`` and is read from the package, so nothing is downloaded at run time. Licence:
``data/WORDNET-LICENSE``. Keys are lemmas (single words, or phrases such as "set up") stemmed word by word as
:func:`askidcpc.text.tokenize.stem_word` stems; values are one-word stems.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from askidcpc.text.tokenize import STOP_WORDS, stem_word

__all__ = ["Lexicon", "expansions", "load_lexicon"]

log = logging.getLogger(__name__)

_TABLE = "wordnet_lexicon.tsv.gz"
# Longest phrase key looked up in a question ("in charge of" is three words).
_MAX_PHRASE = 3


@dataclass(frozen=True)
class Lexicon:
    """Stem (or stemmed phrase) -> synonym stems, and -> derivationally related stems."""

    synonyms: Mapping[str, tuple[str, ...]]
    derivations: Mapping[str, tuple[str, ...]]


_loading = threading.Lock()


def load_lexicon() -> Lexicon:
    """The bundled WordNet table (read once per process, about 0.1 s). Thread-safe: a second caller waits for the
    first one's reading instead of reading it again (loading a corpus starts it on a thread)."""
    with _loading:
        return _read_lexicon()


@lru_cache(maxsize=1)
def _read_lexicon() -> Lexicon:
    synonyms: dict[str, tuple[str, ...]] = {}
    derivations: dict[str, tuple[str, ...]] = {}
    with resources.files("askidcpc").joinpath("data", _TABLE).open("rb") as raw:
        table = gzip.decompress(raw.read()).decode("utf-8")
    for line in table.splitlines():
        if line.startswith("#"):
            continue
        key, same, related = line.split("\t")
        if same:
            synonyms[key] = tuple(same.split())
        if related:
            derivations[key] = tuple(related.split())
    log.debug("lexicon: %d synonym keys, %d derivation keys", len(synonyms), len(derivations))
    return Lexicon(synonyms, derivations)


def expansions(question_words: Sequence[str], lexicon: Lexicon, derivations: bool = False) -> dict[str, set[str]]:
    """Expansion stems for a question, keyed by the stem of the question word (or phrase head) they expand.

    ``question_words`` are normalized words (:func:`askidcpc.text.tokenize.words`), stop words included, so phrases such
    as "set up" or "in charge of" are found; single stop words are never expanded.
    """
    stems = [stem_word(word) for word in question_words]
    found: dict[str, set[str]] = {}
    start = 0
    while start < len(stems):
        step = 1
        # Longest match first: "set up" is expanded as a phrase, and "set" then not on its own.
        for length in range(_MAX_PHRASE, 0, -1):
            piece = question_words[start : start + length]
            if len(piece) < length or all(word in STOP_WORDS for word in piece):
                continue
            key = " ".join(stems[start : start + length])
            terms = set(lexicon.synonyms.get(key, ()))
            if derivations:
                terms.update(lexicon.derivations.get(key, ()))
            if terms:
                head = next(
                    stem
                    for word, stem in zip(piece, stems[start : start + length], strict=True)
                    if word not in STOP_WORDS
                )
                found.setdefault(head, set()).update(terms)
                step = length
                break
        start += step
    return found
