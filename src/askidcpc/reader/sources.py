"""An article the question names by its year: "What does the 2007 article say about ...?", "the story from 2016".

Where sources disagree, askidcpc dates its answer ("As of 2016-06-26: ..."), and a user who has seen that asks about
one source by its date. :func:`named_year` finds such a reference; the pipeline then answers from the articles of
that year only (as a ``since``/``until`` filter would), the question's words that name the source left out
(:func:`without_source`), unless no article is dated that year (then the year is the question's content, not a
source: "What did the 2004 report on Japan find?" over articles of other years) or the request has its own date
filter.
"""

from __future__ import annotations

import re

__all__ = ["named_year", "without_source"]

_YEAR = r"(1[89]\d\d|20\d\d)"
_SOURCE = r"(?:article|story|report|piece|news\s+(?:article|story|report)|interview|coverage)"
# "the 2007 article", "that 2016 story"; "the article from 2007", "the report of 2016", "the story published in 2016"
_THE = r"(?:\b(?:the|that|this|an?)\s+)?"
_NAMED = re.compile(
    rf"{_THE}\b{_YEAR}\s+{_SOURCE}\b"
    rf"|{_THE}\b{_SOURCE}s?\s+(?:from|of|dated|published\s+in|written\s+in)\s+(?:the\s+year\s+)?{_YEAR}\b",
    re.IGNORECASE,
)


def without_source(question: str) -> str:
    """``question`` without the words that name a source by its year ("What about the 2007 article?" → "What
    about?"): they say where to look, and no sentence of that article holds them."""
    return re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", _NAMED.sub(" ", question))).strip()


def named_year(question: str) -> str | None:
    """The year of the one article (or kind of source) ``question`` names by its year, None when it names none or
    several different years."""
    years = {first or second for first, second in _NAMED.findall(question)}
    return years.pop() if len(years) == 1 else None
