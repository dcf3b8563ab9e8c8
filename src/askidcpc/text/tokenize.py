"""Text → index terms. One function, :func:`tokenize`, serves passages and questions alike.

Steps: Unicode NFKC, curly quotes and dashes folded to ASCII, lowercase, word split (keeping numbers such as
``3.5`` or ``1,000`` whole), possessive ``'s`` dropped (``China’s`` → ``china``), English stop words removed, Snowball
English stemming (PyStemmer).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

__all__ = ["STOP_WORDS", "WORD", "normalize", "stem_word", "stem_words", "term_of", "tokenize", "words"]

_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    }
)  # fmt: skip

# A word: letters/digits, with inner apostrophes (don't, China's); or a number with inner . or , (3.5, 1,000).
WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")

# A compact English stop-word list (the classic SMART/NLTK core): function words only, so that numbers, names and
# content words always survive. Question words (what, when, who, ...) are here too: they carry no topic.
STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "let's",
        "me",
        "more",
        "most",
        "mustn't",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "when",
        "when's",
        "where",
        "where's",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "why",
        "why's",
        "will",
        "with",
        "won't",
        "would",
        "wouldn't",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "whose",
        "s",
        "t",
    ]
)

_stemmer = Stemmer.Stemmer("english")

# Past this many distinct words, new ones are not remembered (a corpus of made-up words cannot grow it without bound).
_TERM_CACHE_SIZE = 1 << 20


def normalize(text: str) -> str:
    """NFKC, quotes and dashes folded to ASCII, lowercase."""
    if text.isascii():  # NFKC and the folding change no ASCII character
        return text.lower()
    return unicodedata.normalize("NFKC", text).translate(_FOLD).lower()


def _cleaned(word: str) -> str:
    """One matched word with its possessive dropped and a number's thousands separators removed."""
    if word.endswith("'s"):
        word = word[:-2]
    if "," in word and word[0].isdigit():
        word = word.replace(",", "")
    return word


def words(text: str) -> list[str]:
    """The normalized words of ``text``, possessives dropped, before stop words and stemming."""
    return [_cleaned(word) for word in WORD.findall(normalize(text))]


@lru_cache(maxsize=1 << 16)
def stem_word(word: str) -> str:
    """The Snowball English stem of one normalized word."""
    return str(_stemmer.stemWord(word))


def stem_words(many: list[str]) -> list[str]:
    """:func:`stem_word` of each of ``many`` normalized words in one call, kept in no cache (for words seen once,
    such as the spelling variants of :mod:`askidcpc.reader.spelling`)."""
    return [str(stem) for stem in _stemmer.stemWords(many)]


def term_of(word: str) -> str | None:
    """The index term of one word as :data:`WORD` matches it in normalized text, None for a stop word (not cached:
    see :func:`tokenize` for the cached way)."""
    cleaned = _cleaned(word)
    return None if cleaned in STOP_WORDS else str(_stemmer.stemWord(cleaned))


class _Terms(dict[str, str | None]):
    """Each word as :data:`WORD` matches it -> :func:`term_of` it, filled as words are first seen (a term depends
    on its word alone), so a passage costs one dictionary look-up a word."""

    def __missing__(self, word: str) -> str | None:
        term = term_of(word)
        if len(self) < _TERM_CACHE_SIZE:
            self[word] = term
        return term


_TERMS = _Terms()


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: normalized, stop words removed, stemmed. Order is kept; duplicates are kept."""
    terms = _TERMS
    return [term for term in map(terms.__getitem__, WORD.findall(normalize(text))) if term is not None]
