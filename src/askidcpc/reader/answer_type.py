"""Expected answer types: what a question asks for ("when" → a date, "how many" → a number, "who" → a name, "how
old" → an age, "where" → a place), the question words that only say so (dropped from the query), and whether a
sentence holds such an answer.

Two checks: :func:`has_answer_type` looks at a sentence alone (precomputed per sentence for ranking), and
:func:`answers_type` also ignores what the question itself names ("Who heads the Foreign Ministry?" is not answered by
"the Foreign Ministry"), which the reader uses as evidence for abstention. What a sentence holds is computed once per
sentence text and kind and kept (the same candidates come back question after question); only the comparison with
the question's words is made per question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from enum import Enum
from functools import lru_cache

__all__ = [
    "COUNT_WORDS",
    "NUMBER_WORDS",
    "AnswerType",
    "answers_type",
    "answers_type_among",
    "asks_yes_or_no",
    "attribute_words",
    "has_answer_type",
    "question_type",
    "ranking_type",
]


class AnswerType(Enum):
    DATE = "date"
    NUMBER = "number"
    PERSON = "person"
    AGE = "age"
    PLACE = "place"


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(
    rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+({_MONTHS})\b|\b({_DAYS})\b|"
    r"\b\d{1,2}(st|nd|rd|th)\s+century\b|\b(yesterday|today|centur(y|ies)|decades?|ago)\b",
    re.IGNORECASE,
)
# Words that give a quantity: every one makes a sentence hold a number; those in COUNT_WORDS also count things
# ("two parties"), which "one" ("one of the ..."), "half" and "percent" do not.
_QUANTITIES = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands "
    "million millions billion billions dozen dozens half several percent"
)
NUMBER_WORDS = tuple(_QUANTITIES.split())
COUNT_WORDS = tuple(word for word in NUMBER_WORDS if word not in ("one", "half", "percent"))
_NUMBER_WORDS = "|".join(NUMBER_WORDS)
# A number that is not just a year ("in 2004" says when, not how many).
_NUMBER = re.compile(rf"(?<![\d,.])(?!(?:1[0-9]{{3}}|20[0-9]{{2}})s?\b)\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
# Two capitalised words in a row not at the start of the sentence: a crude person (or organisation) name.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")
# Any run of capitalised words (sentence start included); answers_type drops function words and question words.
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’-]*)*")
# A single capitalised word that speaks or is spoken to ("…, Zhang said."; "Liu told China Daily").
_SPEAKER = re.compile(r"\b([A-Z][a-z]+),?\s+(?:said|says|told|added|noted|stressed|explained|wrote)\b")
_AGE = re.compile(
    r"\b\d{1,3}[- ]years?[- ]old\b|\baged?\s+(?:of\s+)?\d{1,3}\b|\bage\s+of\s+\d{1,3}\b|,\s+\d{2},\s|\(\d{2}\)",
    re.IGNORECASE,
)
# A capitalised word after a preposition of place or a list marker: "in Beijing", "at Tsinghua University", "from the
# Netherlands", "countries such as Indonesia".
_PLACE = re.compile(
    r"\b(?:in|at|from|near|to|into|across|outside|inside|throughout|such as|including)\s+(?:the\s+)?([A-Z][\w'’-]*)"
)
_NOT_NAMES = frozenset(
    f"the a an this that these those it its he she his her they their we our i you and but or for of in on at by to "
    f"as if when while after before during since with from mr ms mrs dr {_MONTHS.replace('|', ' ')} "
    f"{_DAYS.replace('|', ' ')}".split()
)

# Question openings → (type, how many of their words only name the type and leave the query).
_OPENINGS: Sequence[tuple[re.Pattern[str], AnswerType, int]] = (
    (re.compile(r"\bhow (many|much)\b"), AnswerType.NUMBER, 2),
    (re.compile(r"\bhow old\b"), AnswerType.AGE, 1),
    (re.compile(r"\bhow (long|often|far|big|large)\b"), AnswerType.NUMBER, 1),
    (re.compile(r"\b(what|which) (year|years|date|month|day|decade|century|time)\b"), AnswerType.DATE, 2),
    (re.compile(r"\b(in|since|by|until) when\b|\bwhen\b"), AnswerType.DATE, 1),
    (re.compile(r"\b(who|whom)\b"), AnswerType.PERSON, 1),
    (re.compile(r"\bwhere\b|\b(what|which)(?= (city|town|country|province|village|place)\b)"), AnswerType.PLACE, 1),
)
_OTHER_WH = frozenset(["what", "which", "who", "whom", "whose", "where", "why", "how"])
# A question opening with one of these asks yes/no; a "when" inside it starts a clause ("Does it matter when …").
_AUXILIARIES = frozenset(
    "do does did is are was were can could will would has have had should shall may might must".split()  # noqa: SIM905
)


def asks_yes_or_no(question_words: Sequence[str]) -> bool:
    """Whether a question (its normalized words) asks yes or no: it opens with an auxiliary verb ("Does the CPC
    ...?", "Was Song Tao ...?") and holds no question word ("Do you know when ...?" asks for a time) and no "or"
    ("Is it high or low?" is answered by one of its alternatives)."""
    return (
        bool(question_words)
        and question_words[0] in _AUXILIARIES
        and not (_OTHER_WH | {"when"}) & set(question_words)
        and "or" not in question_words
    )


def question_type(question_words: Sequence[str], clauses: bool = False) -> tuple[AnswerType | None, frozenset[str]]:
    """The answer type a question asks for (from its normalized words) and the words that only said so.

    ``("how", "many", ...)`` → (NUMBER, {"how", "many"}); a question with no type cue → (None, {}). With
    ``clauses``, a "when" that only joins a clause ("How can ties help when diplomacy fails?") is no cue; ranking
    keeps every "when" (measured on ReQA-SQuAD: a date bonus there costs nothing and often helps), abstention
    evidence does not.
    """
    text = " ".join(question_words)
    for pattern, kind, _ in _OPENINGS:
        match = pattern.search(text)
        clause = clauses and kind is AnswerType.DATE and match is not None and match.group(0) == "when"
        if match and not (clause and _clause_when(question_words)):
            return kind, frozenset(match.group(0).split())
    return None, frozenset()


_ATTRIBUTE_OPENING = re.compile(r"^(?:what|which) (?:(?:is|are|was|were) )?(?:the|its|his|her|their|a|an) ")
# Words that only say what kind of answer is wanted ("What is the name of …", "What is the main reason …"): never
# the topic, so never evidence that the corpus lacks it.
_GENERIC_WORDS = (
    "name names number numbers kind kinds type types sort sorts role roles purpose reason reasons way ways amount "
    "size total count figure figures percentage share date year years time place title position job aim goal "
    "goals result results example examples main first last current other same best most new meaning point idea"
)
_GENERIC = frozenset(_GENERIC_WORDS.split())
_ATTRIBUTE_END = frozenset(
    ["of", "between", "for", "in", "on", "at", "with", "to", "from", "by", "about", "like", "than", "going"]
)


def attribute_words(question_words: Sequence[str]) -> tuple[str, ...]:
    """The words naming what a "What is the X('s) Y [of Z]?" question asks for: the noun phrase after the
    determiner up to its first preposition ("annual budget" of "What is the department's annual budget?";
    "population" of "What is the population of Indonesia?"), less words that only name a kind of answer ("name",
    "number", "reason"). Other questions: ()."""
    text = " ".join(question_words)
    opening = _ATTRIBUTE_OPENING.match(text)
    if not opening:
        return ()
    phrase: list[str] = []
    for word in text[opening.end() :].split():
        if word in _ATTRIBUTE_END:
            break
        if word not in _GENERIC:
            phrase.append(word)
    return tuple(phrase)


def ranking_type(kind: AnswerType | None) -> AnswerType | None:
    """The type a ranking bonus looks for: an age is a number; the others are themselves."""
    return AnswerType.NUMBER if kind is AnswerType.AGE else kind


def _clause_when(question_words: Sequence[str]) -> bool:
    """Whether the question's first "when" joins a clause ("How can ties help when diplomacy fails?") rather than
    asking for a time: another question word comes before it, or the question opens with an auxiliary verb."""
    at = question_words.index("when")
    if at == 0:
        return False
    return bool(_OTHER_WH & set(question_words[:at])) or question_words[0] in _AUXILIARIES


@lru_cache(maxsize=1 << 17)
def has_answer_type(sentence: str, kind: AnswerType | None) -> bool:
    """Whether ``sentence`` (original casing) holds something of type ``kind``. No type: False."""
    if kind is AnswerType.DATE:
        return bool(_DATE.search(sentence))
    if kind is AnswerType.NUMBER:
        return bool(_NUMBER.search(sentence))
    if kind is AnswerType.PERSON:
        return bool(_NAME.search(sentence))
    if kind is AnswerType.AGE:
        return bool(_AGE.search(sentence))
    if kind is AnswerType.PLACE:
        return bool(_PLACE.search(sentence))
    return False


def answers_type(sentence: str, kind: AnswerType | None, question_words: Sequence[str]) -> bool:
    """Whether ``sentence`` holds something of type ``kind`` that the question (its normalized words) does not
    already name. Names and places count from the sentence's start too; a capitalised run counts when one of its
    words is neither a function word nor in the question."""
    return answers_type_among(sentence, kind, {word.lower() for word in question_words})


def answers_type_among(sentence: str, kind: AnswerType | None, asked: Set[str]) -> bool:
    """:func:`answers_type` with the question's words already lower-cased into a set (made once per question)."""
    if kind is None:
        return False
    if kind not in (AnswerType.PERSON, AnswerType.PLACE):
        return has_answer_type(sentence, kind)
    return any(word not in asked and bare not in asked for word, bare in _name_words(sentence, kind))


@lru_cache(maxsize=1 << 17)
def _name_words(sentence: str, kind: AnswerType) -> tuple[tuple[str, str], ...]:
    """The words of the names (``kind`` PERSON) or places (PLACE) that ``sentence`` could answer with, lower-cased,
    each with its possessive stripped too, less function words: one of them the question does not name is an
    answer. Names: runs of two or more capitalised words, and a single one that speaks or is spoken to; places: the
    capitalised word after a preposition of place."""
    if kind is AnswerType.PLACE:
        names = [match.group(1) for match in _PLACE.finditer(sentence)]
    else:
        names = [m.group(0) for m in _CAPITALISED.finditer(sentence) if len(m.group(0).split()) > 1]
        names += [m.group(1) for m in _SPEAKER.finditer(sentence)]
    return tuple(
        (lower, lower.rstrip("'’s"))
        for name in names
        for lower in (word.lower() for word in name.split())
        if lower not in _NOT_NAMES
    )
