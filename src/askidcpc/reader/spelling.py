"""Spelling: a question word that neither the corpus nor the English lexicon knows, one slip of the keyboard away
from a word the corpus uses ("foriegn", "Tsinghau", "departmnet"), is read as that word.

A typo is one letter deleted, inserted or changed, or two neighbouring letters swapped (Damerau's four edits), in a
word of five to thirty letters. Among several words that close, the one whose index term the corpus uses most (the
lowest idf) is taken, ties to the first in alphabetical order; of that term's spellings that close ("internatical",
"international"), the one the articles use (:func:`in_use`). A word WordNet knows is a real word, never a typo: a
question about a budget the articles never mention keeps its "budget", and the reader can see that the corpus lacks
it. The question is corrected as text, before anything reads it, so that a question with a typo is answered as the
same question spelled right."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from askidcpc.reader.lexicon import Lexicon, load_lexicon
from askidcpc.reader.query import Query
from askidcpc.reader.retriever import Retriever
from askidcpc.text.tokenize import STOP_WORDS, WORD, stem_word, stem_words, words

__all__ = ["MAX_LENGTH", "MAX_TRIED", "MIN_LENGTH", "Usage", "correction", "in_use", "one_edit", "spelled"]

# Of the words one edit from a typo that share the index term chosen (its spellings, alphabetical: "internatical"
# and "international" are both "internat"), the one to read: (term, spellings) -> one of them.
Usage = Callable[[str, Sequence[str]], str]
# Sentences holding a term that in_use reads for the spelling they use.
USAGE_SENTENCES = 3

MIN_LENGTH = 5  # shorter words are too often one letter from another real word ("tax" / "tab")
# Longer ones are no mistyped word (a word of n letters has about 54 n variants, each n long).
MAX_LENGTH = 30
# Unknown words a question gets corrections looked for (each costs about 0.2 ms): a question of mostly unknown
# words is about something else, not mistyped.
MAX_TRIED = 8
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


def correction(
    word: str, idf: Mapping[str, float], lexicon: Lexicon | None = None, usage: Usage | None = None
) -> str | None:
    """The word (lower case) that ``word`` is most likely a typo of, given the corpus' ``idf`` by index term, or
    None: ``word`` is short, a stop word, not plain ASCII letters, its term is in the corpus, WordNet knows it, or no
    word one edit away has a term the corpus uses. Of several spellings of that term, the one ``usage`` picks
    (:func:`in_use`), else the first alphabetically."""
    word = word.lower()
    if not _unknown(word, idf, load_lexicon() if lexicon is None else lexicon):
        return None
    return _chosen(word, idf, usage)


def in_use(retriever: Retriever) -> Usage:
    """A :data:`Usage` that picks the spelling the articles use: the first of the spellings that one of the
    :data:`USAGE_SENTENCES` sentences ``retriever`` finds for the term holds as a word (the first alphabetically
    when none does). A term with a single spelling one edit away costs nothing."""

    def used(term: str, spellings: Sequence[str]) -> str:
        if len(spellings) > 1:
            for hit in retriever.retrieve(Query(terms={term: 1.0}, own={term: 1.0}), USAGE_SENTENCES):
                held = set(words(hit.passage.text))
                for spelling in spellings:
                    if spelling in held:
                        return spelling
        return spellings[0]

    return used


def spelled(question: str, idf: Mapping[str, float], lexicon: Lexicon | None = None, usage: Usage | None = None) -> str:
    """``question`` with each word that is a typo (:func:`correction`) replaced by its correction, in the same case
    (all capitals, a capital first, or lower case); ``question`` itself when no word is. Only the first
    :data:`MAX_TRIED` unknown words are looked at."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    pieces: list[str] = []
    end = 0
    tried = 0
    for match in WORD.finditer(question):
        word = match.group(0)
        head, apostrophe, tail = word.partition("'")  # "Tsinghau's": the word before the possessive
        if not _unknown(head.lower(), idf, lexicon):
            continue
        tried += 1
        fixed = _chosen(head.lower(), idf, usage)
        if fixed is not None:
            pieces += [question[end : match.start()], _cased(fixed, head), apostrophe, tail]
            end = match.end()
        if tried == MAX_TRIED:
            break
    if not pieces:
        return question
    return "".join([*pieces, question[end:]])


def _unknown(word: str, idf: Mapping[str, float], lexicon: Lexicon) -> bool:
    """Whether ``word`` (lower case) could be a typo: long enough, plain letters, no stop word, and neither the
    corpus nor WordNet knows its term."""
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH or not (word.isascii() and word.isalpha()) or word in STOP_WORDS:
        return False
    term = stem_word(word)
    return term not in idf and term not in lexicon.synonyms and term not in lexicon.derivations


def _chosen(word: str, idf: Mapping[str, float], usage: Usage | None) -> str | None:
    nearest = _nearest(word, idf)
    if nearest is None:
        return None
    term, spellings = nearest
    return spellings[0] if usage is None else usage(term, spellings)


def _nearest(word: str, idf: Mapping[str, float]) -> tuple[str, tuple[str, ...]] | None:
    """The term one edit from ``word`` that the corpus uses most (ties: the term of the alphabetically first word)
    and its spellings one edit from ``word`` (alphabetical), or None."""
    variants = one_edit(word)
    found = {
        variant: variant_term
        for variant, variant_term in zip(variants, stem_words(variants), strict=True)
        if variant != word and variant not in STOP_WORDS and variant_term in idf
    }
    if not found:
        return None
    term = found[min(sorted(found), key=lambda variant: idf[found[variant]])]
    return term, tuple(sorted(variant for variant, variant_term in found.items() if variant_term == term))


def _cased(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
