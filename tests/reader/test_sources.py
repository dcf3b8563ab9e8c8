"""An article the question names by its year (reader.sources)."""

from __future__ import annotations

import pytest

from askidcpc.reader.sources import named_year, without_source


@pytest.mark.parametrize(
    ("question", "year", "rest"),
    [
        ("What about the 2007 article?", "2007", "What about?"),
        ("Who chairs the club, according to the story from 2016?", "2016", "Who chairs the club, according to?"),
        ("How many countries did the 2007 article say the CPC had ties in?", "2007", None),
        ("Who chairs the club, according to the story from 2016?", "2016", None),
        ("What did the report published in 2016 find?", "2016", None),
        ("What does that 2016 news story say?", "2016", None),
        # a year that names no source, and two different years
        ("What happened in 2004?", None, "What happened in 2004?"),
        ("Does the 2007 article agree with the 2016 article?", None, None),
        ("How many parties does the CPC have ties with?", None, None),
    ],
)
def test_named_year(question: str, year: str | None, rest: str | None) -> None:
    assert named_year(question) == year
    if rest is not None:
        assert without_source(question) == rest
    if year is not None:
        assert year not in without_source(question)
