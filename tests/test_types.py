"""The Filter value (askidcpc.types): dates compared by the days they cover, one parser and validator for every
edge."""

from __future__ import annotations

import pytest

from askidcpc.errors import QuestionError
from askidcpc.types import Document, Filter, date_span


@pytest.mark.parametrize(
    ("date", "span"),
    [
        ("2007", ("2007-01-01", "2007-12-31")),
        ("2016-06", ("2016-06-01", "2016-06-30")),
        ("2016-02", ("2016-02-01", "2016-02-29")),
        ("2016-06-26", ("2016-06-26", "2016-06-26")),
        ("2016-06-26 23:19", ("2016-06-26", "2016-06-26")),
        ("2016-06-26T23:19:00Z", ("2016-06-26", "2016-06-26")),
        (None, None),
        ("", None),
        ("June 2016", None),
        ("2016-13", None),
        ("2016-04-31", None),
    ],
)
def test_date_span(date: str | None, span: tuple[str, str] | None) -> None:
    assert date_span(date) == span


def doc(doc_id: str = "a", date: str | None = "2007", source: str | None = "China Daily") -> Document:
    return Document(doc_id=doc_id, title=doc_id, text="Text.", date=date, source=source)


@pytest.mark.parametrize(
    ("words", "document", "matches"),
    [
        ("since=2007-06", doc(date="2007"), True),  # "2007" covers June 2007 onwards too
        ("until=2007-06", doc(date="2007"), True),
        ("since=2008", doc(date="2007"), False),
        ("until=2006-12-31", doc(date="2007"), False),
        ("since=2016-06-26 until=2016-06-26", doc(date="2016-06-26"), True),
        ("since=2016-06-27", doc(date="2016-06-26"), False),
        ("until=2016-06", doc(date="2016-07-01"), False),
        ("since=2000", doc(date=None), False),  # an undated article is in no date range
        ("source=china\\ daily", doc(), True),
        ('source="CHINA DAILY"', doc(), True),
        ("source=Xinhua", doc(), False),
        ("source=Xinhua", doc(source=None), False),
        ("doc=a,b", doc("b"), True),
        ("doc=a doc=c", doc("b"), False),
        ("doc=b since=2008", doc("b"), False),
        ("", doc(date=None, source=None), True),
    ],
)
def test_matches(words: str, document: Document, matches: bool) -> None:
    assert Filter.parse(words).matches(document) is matches


@pytest.mark.parametrize(
    ("words", "error"),
    [
        ("since=2016-13", "since must be an ISO date"),
        ("until=16", "until must be an ISO date"),
        ("until=2016-02-30", "until must be an ISO date"),
        ("since=2017 until=2016", "since 2017 is after until 2016"),
        ("since=2016 since=2017", "since is given 2 times"),
        ("date=2016", "unknown filter 'date=2016'"),
        ("doc", "unknown filter 'doc'"),
        ('source="China', "cannot read the filter"),
        ("doc=" + "x" * 201, "at most 200 characters"),
        ("doc=", "doc_id must not be empty"),
        ("doc=a,,b", "doc_id must not be empty"),
        ("source=' '", "source must not be empty"),
    ],
)
def test_bad_filters_say_what_is_wrong(words: str, error: str) -> None:
    with pytest.raises(QuestionError, match=error):
        Filter.parse(words)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"doc_ids": [f"d{i}" for i in range(101)]}, "at most 100 strings"),
        ({"sources": [3]}, "must be a string or a list"),
        ({"since": 2016}, "since must be an ISO date"),
    ],
)
def test_build_refuses_what_no_user_could_mean(kwargs: dict[str, object], error: str) -> None:
    with pytest.raises(QuestionError, match=error):
        Filter.build(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "words", ["doc=a", 'doc=a doc=b source="China Daily" since=2016 until=2016-12', "since=2007", ""]
)
def test_describe_parses_back_to_the_same_filter(words: str) -> None:
    where = Filter.parse(words)
    assert Filter.parse(where.describe()) == where
    assert where.active is bool(words)
