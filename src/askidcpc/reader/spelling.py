"""Spelling: a question word that neither the corpus nor the English lexicon knows, one slip of the keyboard away
from a word the corpus uses ("foriegn", "Tsinghau", "departmnet"), is read as that word.

A typo is one letter deleted, inserted or changed, or two neighbouring letters swapped (Damerau's four edits), in a
word of five letters or more. Among several words that close, the one whose index term the corpus uses most (the
lowest idf) is taken, ties to the first in alphabetical order. A word WordNet knows is a real word, never a typo: a
question about a budget the articles never mention keeps its "budget", and the reader can see that the corpus lacks
it. The question is corrected as text, before anything reads it, so that a question with a typo is answered as the
same question spelled right."""

from __future__ import annotations

from collections.abc import Mapping

from askidcpc.reader.lexicon import Lexicon, load_lexicon
from askidcpc.text.tokenize import STOP_WORDS, WORD, stem_word

__all__ = ["MIN_LENGTH", "correction", "one_edit", "spelled"]

MIN_LENGTH = 5  # shorter words are too often one letter from another real word ("tax" / "tab")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit(term: str) -> list[str]:
    """Every string one letter deleted, swapped with the next, changed or inserted away from ``term`` (lower-case
    letters; some more than once, and ``term`` itself among the changes)."""
    splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
    return (
        [head + tail[1:] for head, tail in splits if tail]
        + [head + tail[1] + tail[0] + tail[2:] for head, tail in splits if len(tail) > 1]
        + [head + letter + tail[1:] for head, tail in splits if tail for letter in _LETTERS]
        + [head + letter + tail for head, tail in splits for letter in _LETTERS]
    )


def correction(word: str, idf: Mapping[str, float], lexicon: Lexicon | None = None) -> str | None:
    """The word (lower case) that ``word`` is most likely a typo of, given the corpus' ``idf`` by index term, or
    None: ``word`` is short, a stop word, not plain ASCII letters, its term is in the corpus, WordNet knows it, or no
    word one edit away has a term the corpus uses."""
    word = word.lower()
    if len(word) < MIN_LENGTH or not (word.isascii() and word.isalpha()) or word in STOP_WORDS:
        return None
    term = stem_word(word)
    lexicon = load_lexicon() if lexicon is None else lexicon
    if term in idf or term in lexicon.synonyms or term in lexicon.derivations:
        return None
    found = {
        variant: variant_term
        for variant in one_edit(word)
        if variant != word and variant not in STOP_WORDS and (variant_term := stem_word(variant)) in idf
    }
    if not found:
        return None
    return min(sorted(found), key=lambda variant: idf[found[variant]])


def spelled(question: str, idf: Mapping[str, float], lexicon: Lexicon | None = None) -> str:
    """``question`` with each word that is a typo (:func:`correction`) replaced by its correction, in the same case
    (all capitals, a capital first, or lower case); ``question`` itself when no word is."""
    pieces: list[str] = []
    end = 0
    for match in WORD.finditer(question):
        word = match.group(0)
        head, apostrophe, tail = word.partition("'")  # "Tsinghau's": the word before the possessive
        fixed = correction(head, idf, lexicon)
        if fixed is None:
            continue
        pieces += [question[end : match.start()], _cased(fixed, head), apostrophe, tail]
        end = match.end()
    if not pieces:
        return question
    return "".join([*pieces, question[end:]])


def _cased(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
