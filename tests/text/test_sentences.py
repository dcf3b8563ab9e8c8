from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.text.sentences import (
    _BOUNDARY,
    _INSIDE,
    _LINE,
    _LINE_END,
    _UNSURE,
    _classify,
    _line_segments,
    _syntok_spans,
    make_passages,
    split_spans,
)
from askidcpc.types import Document
from benchmarks.splitters import CASES
from tests.conftest import DATA


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
    # Every character but blanks lies in a span; syntok counts U+200B (zero-width space) as a blank too.
    assert "".join(covered.replace("\u200b", " ").split()) == "".join(text.replace("\u200b", " ").split())


def test_passages_link_neighbours_within_a_document() -> None:
    documents = [Document("a", "A", "One. Two. Three."), Document("b", "B", "Four.")]
    passages = make_passages(documents)
    assert [p.text for p in passages] == ["One.", "Two.", "Three.", "Four."]
    assert [(p.prev_pid, p.next_pid) for p in passages] == [(None, 1), (0, 2), (1, None), (None, None)]
    assert all(documents[0 if p.doc_id == "a" else 1].text[p.start : p.end] == p.text for p in passages)


# --- The fast path against its oracle: split_spans must give exactly the spans of _syntok_spans (syntok on every
# whole line plus the fix-ups), offsets and all.

ORACLE_TEXTS = [
    *(pytest.param(case.text, id=case.name) for case in CASES),
    *(pytest.param(path.read_text(encoding="utf-8"), id=path.name) for path in sorted(DATA.glob("*.txt"))),
    # Found by a long run of the generator below: a tab between a stop and the chunk before the next stop.
    "\tUS the... Ab éclair co-op MCM.\tLa.\x1cBeijing set Beijing Ünal approx fig McDonald talks.\u3009 Dr. ",
    "Dec mar it McDonald parties.\tNo.\uff09 ((Dec 2.- St. mar of- it Rep.",
    "Dr en a said over.\tHowever.) Okt Ünal CPC Mr. no; Xi",
]


@pytest.mark.parametrize("text", ORACLE_TEXTS)
def test_split_spans_equals_the_syntok_reference(text: str) -> None:
    assert split_spans(text) == _syntok_spans(text)


def words(text: str) -> list[str]:
    return text.split()


# A generated stress set: sentences of ordinary and tricky words (abbreviations, titles, initials, decimals, Roman
# numerals, months after a year, hyphenated words, case changes inside a word, non-ASCII letters), with quotes,
# brackets (balanced, unbalanced, full-width, glued into punctuation-only chunks), ellipses, "?!", semicolons,
# lowercase sentence starts, and every kind of blank syntok and str.isspace disagree on. Each text gets its own rate
# of tricky pieces, so the set has plain prose as well as noise.
WORDS = words(
    "the parties talks be ca de en es no etc vs approx fig mar may set it a x of in said department over ties "
    "new Beijing CPC Smith Song Xi CPCs iPhone McDonald Ünal éclair über Œuvre 中国 straße"
)
CAPITALS = words(
    "The It This In A No So De Es La However Smith Beijing Song May March Mayor Jan January Dec Mar Sept Nov "
    "Oct Okt Ünal Éclair Xi I II XX Mr Dr Gov Inc Ab McDonald CPC US"
)
TRICKY = words(
    "Mr. Mrs. Ms. Dr. Prof. Gen. Gov. Lt. Sen. Rep. St. Inc. Co. No. no. NO. etc. e.g. i.e. U.S. U.S.A. p.m. "
    "a.m. Ph.D. ca. vs. approx. fig. Jan. Sept. mar. Messrs. J. R. W. A. I. X. Q. 2015 5 3.5 86.4 1,200 $1.2 "
    "10-20 mid-2015 1990s G20 42 7th 2. II XX XIV IV VI XXX MCM V X well-known Sino-US e-mail co-op long-term "
    "x- -ly A-list (since 2015) (D) (x y) ( x) (a) (x-y's)"
)
ENDS = [*words('! ? ?! ... … ; : , .) .” ." ?” !) .’ .] ..'), ""]
OPENERS = ["“", '"', "‘", "(", "[", "((", "（", "\u2329", "\u3008", "{", "- "]
CLOSERS = ["”", '"', "’", ")", "]", "))", "）", "\u232a", "\u3009", "}", "'", "´"]
BLANKS = ["  ", "\t", "\xa0", "\u200b", "\r", "\x1c", "\u3000", " \n", "\n", "\n\n", "", " - ", " — ", " ( ", " ) "]
INNER = [",", ";", ":", " —", "-", "'s", "’s", "...", ".", "(", ")", "“", "”", "/", "&", "'", "!", "?"]


def stress_text(rng: random.Random) -> str:
    noise = rng.choice((0.0, 0.02, 0.05, 0.1, 0.3))

    def maybe(pool: list[str], default: str) -> str:
        return rng.choice(pool) if rng.random() < noise else default

    parts = [maybe([" ", "  ", "\t"], "")]
    for _ in range(rng.randint(1, 6)):
        sentence = [rng.choice(CAPITALS) if rng.random() < 0.9 else rng.choice(WORDS)]
        for _ in range(rng.randint(0, 8)):
            sentence.append(maybe(TRICKY, rng.choice(WORDS)) + maybe(INNER, ""))
        parts.append(maybe(OPENERS, "") + " ".join(sentence) + maybe(ENDS, ".") + maybe(CLOSERS, ""))
        parts.append(maybe(BLANKS, " "))
    return "".join(parts)


def stress_texts(seed: int, count: int = 300) -> list[str]:
    rng = random.Random(seed)
    return [stress_text(rng) for _ in range(count)]


@pytest.mark.parametrize("seed", range(10))
def test_split_spans_equals_the_syntok_reference_on_generated_text(seed: int) -> None:
    differing = [text for text in stress_texts(seed) if split_spans(text) != _syntok_spans(text)]
    assert differing == []


def test_generated_text_takes_both_paths() -> None:
    """The stress set must exercise the fast path and the syntok path alike, or the test above proves little."""
    texts = stress_texts(0)
    segments = [
        segment for text in texts for line in _LINE.finditer(text) for segment in _line_segments(text, *line.span())
    ]
    plain = sum(segment[2] for segment in segments)
    lines = sum(1 for text in texts for _ in _LINE.finditer(text))
    assert len(segments) > 1.5 * lines  # many lines are cut
    assert 0.25 * len(segments) < plain < 0.75 * len(segments)


PIECES = [*WORDS, *CAPITALS, *TRICKY, *ENDS, *OPENERS, *CLOSERS, *BLANKS, *INNER, ". ", ". The ", "! It ", "? a "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join) | st.lists(st.sampled_from(PIECES)).map("".join))
def test_split_spans_equals_the_syntok_reference_on_any_mix_of_pieces(text: str) -> None:
    assert split_spans(text) == _syntok_spans(text)


# What the fast path decides at one stop (the first "." "!" or "?" after the marker "|"), and the oracle agreeing:
# at a _BOUNDARY the reference ends a sentence right after the stop (and its closing quote), at _INSIDE it does not.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They met| on Monday. The talks went on.", _BOUNDARY),
        ("Ties with Beijing| grew! Since then, more.", _BOUNDARY),
        ("Did it| matter? Xi said so.", _BOUNDARY),
        ("It grew in| 2015. The next year too.", _BOUNDARY),
        ("It was a| well-known. Then it was not.", _BOUNDARY),
        ("Some, e.g. tools| etc. The list goes on.", _BOUNDARY),  # an abbreviation before a sentence starter
        ("He said| no. Then he left.", _BOUNDARY),
        ("He met| Mr. Smith on Monday.", _INSIDE),  # an abbreviation before a name
        ("It grew| approx. Five percent.", _INSIDE),  # "Five" is not one of syntok's sentence starters
        ("It fell| sharply. the next day it rose.", _INSIDE),  # lowercase never starts a sentence for syntok
        ("It ended| here.   ", _LINE_END),
        ("It grew in| 2015. May was worse.", _UNSURE),  # a year before a month name
        ("It grew by| 5. The rest fell.", _UNSURE),  # one digit: maybe a list number
        ("It ended after World War| II. The talks resumed.", _UNSURE),  # a Roman numeral
        ("A novel by J. R.| R. Tolkien sold well.", _UNSURE),  # an initial
        ("The talks ended at 5 p.m| . The next round starts.", _UNSURE),
        ("He flew to the U.S| . It returned later.", _UNSURE),
        ("He met| Gov. Li on Monday.", _UNSURE),  # a title syntok does not know; the fix-up re-joins it
        ("He met| Dr. The rest followed.", _UNSURE),  # a title before a starter: cut, then re-joined
        ("He bought an| iPhone. The shop closed.", _UNSURE),  # syntok sees the token "Phone"
        ("He said| yes.\u201d Then he left.", _BOUNDARY),  # a closing quote goes with the stop
        ("He said| yes.\u201d then he left.", _INSIDE),
        ("He said| etc.\u201d Then he left.", _UNSURE),
        ("He said| yes.\u201d) Then he left.", _UNSURE),
        ("He said| yes. \u201cThen he left.\u201d", _UNSURE),  # a quote before the next word
        ("He said| no. A1 was the code.", _UNSURE),  # "no" before a token with a digit
        ("It was| good.. The end.", _UNSURE),
    ],
)
def test_classify_agrees_with_syntok(text: str, expected: int) -> None:
    marker = text.index("|")
    text = text[:marker] + text[marker + 1 :]
    stop = min(position for position in range(marker, len(text)) if text[position] in ".!?")
    assert _classify(text, stop, 0, len(text)) == expected
    ends = {end for _, end in _syntok_spans(text)}
    cut = stop + 2 if text[stop + 1] in '\u201d"' else stop + 1
    if expected == _BOUNDARY:
        assert cut in ends
    if expected == _INSIDE:
        assert cut not in ends


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Plain prose: cut at every stop, every piece plain.
        ("One rose. Two fell. Three held.", ["One rose.", " Two fell.", " Three held."]),
        ("One rose.\tTwo.) Three.", ["One rose.", "\tTwo.) Three.~"]),  # a stop after a tab
        # A piece syntok must judge stays whole and is not plain; the cuts around it still hold.
        (
            "It rose. Mr. Li, the director (since 2015.), left. Then it fell.",
            ["It rose.", " Mr. Li, the director (since 2015.), left.~", " Then it fell."],
        ),
        # A short aside in parentheses before a lowercase word or a comma is skipped whole by syntok: plain.
        (
            "It rose. Mr. Li, the director (since 2015), left (at 5) early. Then it fell.",
            ["It rose.", " Mr. Li, the director (since 2015), left (at 5) early.", " Then it fell."],
        ),
        ("It rose (at 5) Then it fell.", ["It rose (at 5) Then it fell.~"]),  # a capital after the aside
        # Up to 46 characters inside (so at most 46 tokens: syntok looks for the closing bracket among 50).
        (f"It rose ({' '.join(['ab'] * 15)}) early.", [f"It rose ({' '.join(['ab'] * 15)}) early."]),
        (f"It rose ({' '.join(['a'] * 24)}) early.", [f"It rose ({' '.join(['a'] * 24)}) early.~"]),
        # Stops syntok surely passes over: an abbreviation before a name, a stop inside a token (3.5, p.m, e.g),
        # one before a lowercase word, a semicolon; and a closing quote that goes with its stop.
        (
            "Mr. Li, e.g. a director, said “Yes.” Then he left at 3.5 p.m. on time; It rained; the end.",
            ["Mr. Li, e.g. a director, said “Yes.”", " Then he left at 3.5 p.m. on time; It rained; the end."],
        ),
        # No cut inside an open bracket, since syntok may skip the bracketed text whole.
        (
            "It rose (as noted. Then it fell). Prices held. Done.",
            ["It rose (as noted. Then it fell). Prices held.~", " Done."],
        ),
        (
            "It rose (as noted. Then it fell. Prices held. Done.",
            ["It rose (as noted. Then it fell. Prices held. Done.~"],
        ),
        # A bracket glued into a chunk of punctuation is not a token of its own: no more cuts in the line.
        ("It rose (as noted --) here. Then it fell. Done.", ["It rose (as noted --) here. Then it fell. Done.~"]),
        ("It rose \u2329as noted\u232a here. Then it fell.", ["It rose \u2329as noted\u232a here. Then it fell.~"]),
        # A bracket syntok does not know is only something to leave to syntok.
        ("It rose \u3008as noted\u3009 here. Then it fell.", ["It rose \u3008as noted\u3009 here.~", " Then it fell."]),
    ],
)
def test_line_segments(line: str, expected: list[str]) -> None:
    got = [line[start:end] + ("" if plain else "~") for start, end, plain in _line_segments(line, 0, len(line))]
    assert got == expected
    assert split_spans(line) == _syntok_spans(line)
