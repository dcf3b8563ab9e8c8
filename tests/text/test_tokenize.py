from __future__ import annotations

import pytest

from askidcpc.text.tokenize import tokenize, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("China’s department", ["china", "depart"]),
        ("China's", ["china"]),
        ("“Quoted” — dashes–hyphens", ["quot", "dash", "hyphen"]),
        ("The department was established in 1951", ["depart", "establish", "1951"]),
        ("3.5 and 1,000 visits", ["3.5", "1000", "visit"]),
        ("ＦＵＬＬＷＩＤＴＨ text", ["fullwidth", "text"]),
        ("mechanisms.The next", ["mechan", "next"]),
        ("What is it?", []),
        ("", []),
    ],
)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_questions_and_passages_share_terms() -> None:
    assert set(tokenize("Who set up the parties?")) <= set(tokenize("The party was set up by them."))
    assert words("Don't stop") == ["don't", "stop"]
