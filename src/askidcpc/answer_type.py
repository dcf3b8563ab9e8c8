"""Expected answer types: what a question asks for ("when" → a date, "how many" → a number, "who" → a name), the
question words that only say so (dropped from the query), and whether a sentence holds such an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

__all__ = ["AnswerType", "has_answer_type", "question_type"]


class AnswerType(Enum):
    DATE = "date"
    NUMBER = "number"
    PERSON = "person"


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
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    "eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|"
    "million|millions|billion|billions|dozen|dozens|half|several|percent"
)
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
# Two capitalised words in a row not at the start of the sentence: a crude person (or organisation) name.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")

# Question openings → (type, how many of their words only name the type and leave the query).
_OPENINGS: Sequence[tuple[re.Pattern[str], AnswerType, int]] = (
    (re.compile(r"\bhow (many|much)\b"), AnswerType.NUMBER, 2),
    (re.compile(r"\bhow (long|old|often|far|big|large)\b"), AnswerType.NUMBER, 1),
    (re.compile(r"\b(what|which) (year|years|date|month|day|decade|century|time)\b"), AnswerType.DATE, 2),
    (re.compile(r"\b(in|since|by|until) when\b|\bwhen\b"), AnswerType.DATE, 1),
    (re.compile(r"\b(who|whom)\b"), AnswerType.PERSON, 1),
)


def question_type(question_words: Sequence[str]) -> tuple[AnswerType | None, frozenset[str]]:
    """The answer type a question asks for (from its normalized words) and the words that only said so.

    ``("how", "many", ...)`` → (NUMBER, {"how", "many"}); a question with no type cue → (None, {}).
    """
    text = " ".join(question_words)
    for pattern, kind, _ in _OPENINGS:
        match = pattern.search(text)
        if match:
            return kind, frozenset(match.group(0).split())
    return None, frozenset()


def has_answer_type(sentence: str, kind: AnswerType | None) -> bool:
    """Whether ``sentence`` (original casing) holds something of type ``kind``. No type: False."""
    if kind is AnswerType.DATE:
        return bool(_DATE.search(sentence))
    if kind is AnswerType.NUMBER:
        return bool(_NUMBER.search(sentence))
    if kind is AnswerType.PERSON:
        return bool(_NAME.search(sentence))
    return False
