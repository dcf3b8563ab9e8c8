from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.text.sentences import make_passages, split_spans
from askidcpc.types import Document


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two.", ["One.", "Two."]),
        (
            "He left at 3.5 p.m. on Monday. Then he came back.",
            ["He left at 3.5 p.m. on Monday.", "Then he came back."],
        ),
        (
            "Mr. Smith met Dr. Jones in the U.S. today. They talked.",
            ["Mr. Smith met Dr. Jones in the U.S. today.", "They talked."],
        ),
        (
            "It built effective mechanisms.The next step followed.",
            ["It built effective mechanisms.", "The next step followed."],
        ),
        (
            "A Heading\nThe body starts here. It goes on.",
            ["A Heading", "The body starts here.", "It goes on."],
        ),
        ("First paragraph.\n\nSecond paragraph.", ["First paragraph.", "Second paragraph."]),
        (
            "The opposition today — may rule tomorrow. Yes.",
            ["The opposition today — may rule tomorrow.", "Yes."],
        ),
        ("“We agree,” said Song. Others did not.", ["“We agree,” said Song.", "Others did not."]),
        (
            "J. R. R. Tolkien wrote books. He died in 1973.",
            ["J. R. R. Tolkien wrote books.", "He died in 1973."],
        ),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_news_prose(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,!?\n“”\"'—-3Mr.U.S\t")), max_size=120) | st.text(max_size=80))
def test_spans_are_exact_ordered_trimmed_and_cover_all_text(text: str) -> None:
    spans = split_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip()
        previous_end = end
    covered = "".join(text[start:end] for start, end in spans)
    assert "".join(covered.split()) == "".join(text.split())


def test_passages_link_neighbours_within_a_document() -> None:
    documents = [Document("a", "A", "One. Two. Three."), Document("b", "B", "Four.")]
    passages = make_passages(documents)
    assert [p.text for p in passages] == ["One.", "Two.", "Three.", "Four."]
    assert [(p.prev_pid, p.next_pid) for p in passages] == [(None, 1), (0, 2), (1, None), (None, None)]
    assert all(documents[0 if p.doc_id == "a" else 1].text[p.start : p.end] == p.text for p in passages)
