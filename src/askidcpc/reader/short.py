"""Short answers: the phrase of the answer sentence that answers the question ("1951" of "Established in 1951,
Song's department has built contacts with ...").

Model-free and extractive. The sentence's tokens are chunked into candidate phrases (every run of up to
:data:`MAX_TOKENS` tokens that starts and ends on a content word and crosses no clause punctuation: dates and years,
figures with what they count, capitalised names and places, noun phrases); each gets named features
(:data:`FEATURES`): whether it is of the type the question expects (crossed with the question's kind, so "when"
learns to want years and "who" capitalised names), how near it is to the words the question matched, how much of it
the question already holds (a phrase of question words only is never a candidate), its length and its position. A
linear score over the standardised features, fitted by ``tools/train_short.py`` (a softmax over each question's
candidates, cross-validated by article on SQuAD v1.1 dev) and shipped as ``data/short_weights.json``, picks one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from askidcpc.reader.answer_type import NUMBER_WORDS, AnswerType, asks_yes_or_no
from askidcpc.reader.query import Query
from askidcpc.text.tokenize import STOP_WORDS, stem_word, words

__all__ = [
    "FEATURES",
    "GROUPS",
    "MAX_TOKENS",
    "WEIGHTS",
    "Phrase",
    "ShortModel",
    "candidate_phrases",
    "load_short_model",
    "phrase_features",
    "question_group",
    "short_answer_span",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
WEIGHTS = "short_weights.json"
# Longest candidate phrase, in tokens: SQuAD v1.1 dev's first answers average 3.0 words; 5.4% are longer than 8.
MAX_TOKENS = 8

# A token: a number (with a currency sign or percent, inner . or ,), a word (inner apostrophes), or one other
# character. Offsets are the sentence's own.
_TOKEN = re.compile(r"[$£€¥]?\d+(?:[.,:]\d+)*(?:%|st|nd|rd|th|s)?|[^\W_]+(?:['’][^\W_]+)*|[^\w\s]")
# Punctuation a phrase may hold inside ("Denver, Colorado", "1.3-billion", "AT&T"); others end a clause.
_INNER = frozenset([",", "-", "–", "&", "/", ".", "'", "’"])
_MONTHS = frozenset(
    "january february march april may june july august september october november december "  # noqa: SIM905
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_YEAR = re.compile(r"^(?:1[0-9]{3}|20[0-9]{2})s?$")
_NUMBER = re.compile(r"^[$£€¥]?\d")
_NUMBER_WORDS = frozenset(NUMBER_WORDS)
_PREPOSITIONS = frozenset("in at on from by near to into of for during since until after before with".split())  # noqa: SIM905
# Punctuation that ends a clause or opens an aside: an answer often sits right after or before one.
_BREAKS = frozenset([",", ";", ":", "(", ")", '"', "“", "”", "-", "–", "—"])
# Endings of a lowercase word that is more likely a verb or an adverb than a noun.
_VERB_LIKE = re.compile(r"[a-z](?:ed|ing|ly|es)$")
_DETERMINERS = frozenset("the a an its his her their this that these those our your".split())  # noqa: SIM905
_DATE_WORDS = frozenset("century centuries decade decades year years ago bc ad bce ce".split())  # noqa: SIM905

# The question's kind (the rows of the benchmark's table, and what the type features are crossed with): its
# expected answer type where it has one, else "what" (what / which) or "other" (why, how, no question word).
GROUPS = ("when", "who", "how many", "where", "what", "other")
_GROUP_OF_TYPE = {
    AnswerType.DATE: "when",
    AnswerType.PERSON: "who",
    AnswerType.NUMBER: "how many",
    AnswerType.AGE: "how many",
    AnswerType.PLACE: "where",
}

# Properties of a phrase whose worth depends on what is asked: each is crossed with every group.
_TYPED = ("year", "date", "number", "capitalised", "after_preposition", "length", "single_word", "long")
# Properties that count the same whatever is asked.
_SHARED = (
    "question_share",
    "has_question_word",
    "distance",
    "no_match_in_sentence",
    "left_context",
    "right_context",
    "chunk_start",
    "chunk_end",
    "inner_function_words",
    "position",
    "head_word",
    "counted_follows",
    "window_share",
    "match_before",
    "match_after",
    "after_clause_break",
    "before_clause_break",
    "verb_like_start",
    "verb_like_end",
    "lowercase_share",
    "after_determiner",
    "before_of",
    "after_of",
    "before_and",
    "inner_and",
)
# Shared properties whose worth also depends on what is asked: crossed with every group besides.
_CROSSED = ("distance", "window_share", "chunk_start", "chunk_end", "after_clause_break", "before_clause_break")
_PER_GROUP = _TYPED + _CROSSED
FEATURES: tuple[str, ...] = _SHARED + tuple(f"{group}:{name}" for group in GROUPS for name in _PER_GROUP)


@dataclass(frozen=True)
class Phrase:
    """A candidate phrase: ``[start, end)`` in the sentence's characters and ``[first, last]`` in its tokens."""

    start: int
    end: int
    first: int
    last: int


class _Token(NamedTuple):
    start: int
    end: int
    text: str
    lower: str
    stem: str
    word: bool  # a word or number, not punctuation
    content: bool  # a word that is not a function word


def _tokens(sentence: str) -> list[_Token]:
    found = []
    for match in _TOKEN.finditer(sentence):
        text = match.group(0)
        lower = text.lower().replace("’", "'")
        word = text[0].isalnum() or _NUMBER.match(text) is not None
        found.append(
            _Token(
                match.start(),
                match.end(),
                text,
                lower,
                stem_word(lower) if word else lower,
                word,
                word and lower not in STOP_WORDS,
            )
        )
    return found


def candidate_phrases(sentence: str) -> list[Phrase]:
    """Every run of 1 to :data:`MAX_TOKENS` tokens of ``sentence`` that starts and ends on a content word and holds
    no clause punctuation (only ``, - & / . '``), in order of start then end."""
    return [Phrase(*span) for span in _spans(_tokens(sentence))]


def _spans(tokens: Sequence[_Token]) -> list[tuple[int, int, int, int]]:
    """:func:`candidate_phrases` as ``(start, end, first, last)`` tuples."""
    spans = []
    n = len(tokens)
    for first, token in enumerate(tokens):
        if not token.content:
            continue
        for last in range(first, min(first + MAX_TOKENS, n)):
            end = tokens[last]
            if not end.word and end.text not in _INNER:
                break
            if end.content:
                spans.append((token.start, end.end, first, last))
    return spans


@dataclass(frozen=True)
class _Question:
    group: str
    stems: frozenset[str]  # every stem the question (and its history, and synonyms) holds
    head: frozenset[str]  # stems of the noun after "what / which" ("what team" → team)
    counted: frozenset[str]  # stems of what "how many" counts


def question_group(question: str, query: Query) -> str:
    """The question's kind, one of :data:`GROUPS`."""
    kind = _GROUP_OF_TYPE.get(query.answer_type) if query.answer_type is not None else None
    if kind is not None:
        return kind
    question_words = words(question)
    if {"what", "which"} & set(question_words):
        return "what"
    if "who" in question_words or "whom" in question_words:  # "whose", ... already typed
        return "who"
    return "other"


_HEAD_SKIP = frozenset("is are was were did does do the a an of kind type sort name".split())  # noqa: SIM905


def _analyse(question: str, query: Query) -> _Question:
    question_words = words(question)
    stems = {stem_word(word) for word in query.asked if word not in STOP_WORDS}
    stems |= set(query.own)
    for related in query.related.values():
        stems |= related
    head: set[str] = set()
    for at, word in enumerate(question_words):
        if word in ("what", "which"):
            for following in question_words[at + 1 : at + 4]:
                if following in _HEAD_SKIP:
                    continue
                if following not in STOP_WORDS:
                    head.add(stem_word(following))
                break
            break
    return _Question(question_group(question, query), frozenset(stems), frozenset(head), frozenset(query.counted))


def _is_date(token: _Token) -> bool:
    return token.lower in _MONTHS or token.lower in _DATE_WORDS


def _is_number(token: _Token) -> bool:
    return (_NUMBER.match(token.text) is not None and not _YEAR.match(token.text)) or token.lower in _NUMBER_WORDS


def phrase_features(question: str, query: Query, sentence: str) -> tuple[list[Phrase], FloatArray]:
    """The candidate phrases of ``sentence`` for ``question`` (analysed as ``query``) that are not made of question
    words only, and a row of :data:`FEATURES` for each (computed over all phrases at once)."""
    spans, features = _phrase_table(question, query, sentence)
    return [Phrase(*span) for span in spans], features


def _phrase_table(question: str, query: Query, sentence: str) -> tuple[list[tuple[int, int, int, int]], FloatArray]:
    """:func:`phrase_features` with each phrase as a ``(start, end, first, last)`` tuple."""
    asked = _analyse(question, query)
    tokens = _tokens(sentence)
    n = len(tokens)
    every = _spans(tokens)
    if not every:
        return [], np.zeros((0, len(FEATURES)))
    flags = {
        "matched": [token.content and token.stem in asked.stems for token in tokens],
        "content": [token.content for token in tokens],
        "word": [token.word for token in tokens],
        "function": [token.word and not token.content for token in tokens],
        "upper": [token.content and token.text[0].isupper() for token in tokens],
        "lower": [token.content and token.text[0].islower() for token in tokens],
        "head": [token.stem in asked.head for token in tokens],
        "and": [token.lower in ("and", "or") for token in tokens],
        "year": [_YEAR.match(token.text) is not None for token in tokens],
        "date": [_is_date(token) for token in tokens],
        "number": [_is_number(token) for token in tokens],
        "verb": [_VERB_LIKE.search(token.text) is not None for token in tokens],
        "break": [token.text in _BREAKS for token in tokens],
        "break_or_stop": [token.text in _BREAKS or token.text == "." for token in tokens],
        "determiner": [token.lower in _DETERMINERS for token in tokens],
        "of": [token.lower == "of" for token in tokens],
        "preposition": [token.lower in _PREPOSITIONS for token in tokens],
        "counted": [token.stem in asked.counted for token in tokens],
    }
    names = list(flags)
    table = np.asarray(list(flags.values()), dtype=bool).reshape(len(names), n)
    is_ = dict(zip(names, table, strict=True))
    # One row of prefix sums a property, and each property padded with a value before the first token and after
    # the last (filled in by before() and after()): one array operation each for all properties.
    sums = np.zeros((len(names), n + 1), dtype=np.int64)
    np.cumsum(table, axis=1, out=sums[:, 1:])
    prefix = dict(zip(names, sums, strict=True))
    padded = np.zeros((len(names), n + 2), dtype=bool)
    padded[:, 1:-1] = table
    row_of = {name: at for at, name in enumerate(names)}
    first = np.asarray([span[2] for span in every])
    last = np.asarray([span[3] for span in every])

    def count(name: str, start: IntArray, end: IntArray) -> FloatArray:
        """How many tokens of each ``[start, end]`` (clipped to the sentence) have property ``name``."""
        sums = prefix[name][np.minimum(np.maximum(end + 1, 0), n)] - prefix[name][np.minimum(np.maximum(start, 0), n)]
        return np.asarray(sums, dtype=np.float64)

    def before(name: str, at_start: bool) -> FloatArray:
        """Whether the token before each phrase has property ``name`` (``at_start`` for a phrase opening the
        sentence)."""
        flags = padded[row_of[name], : n + 1].copy()
        flags[0] = at_start
        return np.asarray(flags[first], dtype=np.float64)

    def after(name: str, at_end: bool) -> FloatArray:
        flags = padded[row_of[name], 1:].copy()
        flags[n] = at_end
        return np.asarray(flags[last + 1], dtype=np.float64)

    content = count("content", first, last)
    in_question = count("matched", first, last)
    keep = in_question < content
    first, last, content, in_question = first[keep], last[keep], content[keep], in_question[keep]
    phrases = [span for span, kept in zip(every, keep.tolist(), strict=True) if kept]
    # The nearest matched token before each phrase and after it, as gaps in tokens (n: none).
    matched_at = np.flatnonzero(is_["matched"])
    previous = np.full(n + 1, -1)
    following = np.full(n + 1, -1)
    for at in range(n):
        previous[at + 1] = at if is_["matched"][at] else previous[at]
    for at in range(n - 1, -1, -1):
        following[at] = at if is_["matched"][at] else following[at + 1]
    left_match, right_match = previous[first], following[last + 1]
    left_gap = np.where(left_match >= 0, first - left_match, n)
    right_gap = np.where(right_match >= 0, right_match - last, n)
    # The share of the question's stems matched within _WINDOW tokens either side: matched tokens in each window,
    # by distinct stem.
    stems = sorted({tokens[at].stem for at in matched_at.tolist()})
    stem_of = np.zeros((len(matched_at), max(len(stems), 1)))
    for row, at in enumerate(matched_at.tolist()):
        stem_of[row, stems.index(tokens[at].stem)] = 1.0
    window = ((matched_at >= first[:, None] - _WINDOW) & (matched_at < first[:, None])) | (
        (matched_at > last[:, None]) & (matched_at <= last[:, None] + _WINDOW)
    )
    near = ((window.astype(np.float64) @ stem_of) > 0).sum(axis=1) if len(matched_at) else np.zeros(len(first))
    n_inside = count("word", first, last)
    shared = {
        "question_share": in_question / content,
        "has_question_word": (in_question > 0).astype(np.float64),
        "distance": np.log1p(np.minimum(left_gap, right_gap)),
        "no_match_in_sentence": np.full(len(first), float(not len(matched_at))),
        "left_context": count("matched", first - 3, first - 1),
        "right_context": count("matched", last + 1, last + 3),
        "chunk_start": 1.0 - before("content", False),
        "chunk_end": 1.0 - after("content", False),
        "inner_function_words": count("function", first, last),
        "position": prefix["word"][first] / max(int(prefix["word"][n]), 1),
        "head_word": (count("head", first - 1, last + 1) > 0).astype(np.float64),
        "counted_follows": after("counted", False),
        "window_share": near / len(asked.stems) if asked.stems else np.zeros(len(first)),
        "match_before": ((left_match >= 0) & (left_gap <= 3)).astype(np.float64),
        "match_after": ((right_match >= 0) & (right_gap <= 3)).astype(np.float64),
        "after_clause_break": before("break", True),
        "before_clause_break": after("break_or_stop", True),
        "verb_like_start": is_["verb"][first].astype(np.float64),
        "verb_like_end": is_["verb"][last].astype(np.float64),
        "lowercase_share": count("lower", first, last) / content,
        "after_determiner": before("determiner", False),
        "before_of": after("of", False),
        "after_of": before("of", False),
        "before_and": after("and", False),
        "inner_and": (count("and", first, last) > 0).astype(np.float64),
    }
    typed = {
        "year": (count("year", first, last) > 0).astype(np.float64),
        "date": (count("date", first, last) > 0).astype(np.float64),
        "number": (count("number", first, last) > 0).astype(np.float64),
        "capitalised": count("upper", first, last) / content,
        "after_preposition": before("preposition", False),
        "length": n_inside,
        "single_word": (n_inside == 1).astype(np.float64),
        "long": (n_inside >= 5).astype(np.float64),
    }
    features = np.zeros((len(first), len(FEATURES)))
    for at, name in enumerate(_SHARED):
        features[:, at] = shared[name]
    offset = len(_SHARED) + GROUPS.index(asked.group) * len(_PER_GROUP)
    for at, name in enumerate(_PER_GROUP):
        features[:, offset + at] = typed[name] if name in typed else shared[name]
    return phrases, features


# Tokens either side of a phrase whose matches with the question count toward its window share.
_WINDOW = 8


@dataclass(frozen=True, eq=False)
class ShortModel:
    """Standardisation and weights over :data:`FEATURES` (every weight keyed by its feature's name in the file)."""

    mean: FloatArray
    scale: FloatArray
    weights: FloatArray

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> ShortModel:
        """The model from its weight file's contents; ValueError when it names other features than this code's."""
        if tuple(spec["features"]) != FEATURES:
            raise ValueError("short-answer weights do not match this version's features; rerun tools/train_short.py")

        def column(name: str) -> FloatArray:
            return np.asarray([float(spec[name][feature]) for feature in FEATURES])

        return cls(column("mean"), column("scale"), column("weights"))

    def scores(self, features: FloatArray) -> FloatArray:
        return np.asarray(((features - self.mean) / self.scale) @ self.weights, dtype=np.float64)


@lru_cache(maxsize=1)
def load_short_model() -> ShortModel:
    """The shipped model, read once per process."""
    with resources.files("askidcpc").joinpath("data", WEIGHTS).open("r", encoding="utf-8") as handle:
        return ShortModel.from_json(json.load(handle))


def short_answer_span(
    question: str, query: Query, sentence: str, model: ShortModel | None = None
) -> tuple[int, int] | None:
    """``[start, end)`` in ``sentence`` of the phrase that answers ``question`` (analysed as ``query``) by ``model``
    (the shipped one when None), the first of equals; None when the sentence holds no phrase that is not made of
    the question's own words, or when the question asks yes or no (its answer is not a phrase of the sentence)."""
    if asks_yes_or_no(words(question)):
        return None
    phrases, features = _phrase_table(question, query, sentence)
    if not phrases:
        return None
    model = model or load_short_model()
    start, end, _, _ = phrases[int(np.argmax(model.scores(features)))]
    return start, end
