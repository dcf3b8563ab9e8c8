from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st

from askidcpc.text.sentences import split_spans
from askidcpc.text.tokenize import STOP_WORDS, stem_word, stem_words, tokenize, words


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


# --- the cached tokenizer == the one it replaced ----------------------------------------------------------------

_REFERENCE_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_REFERENCE_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    }
)  # fmt: skip
_reference_stemmer = Stemmer.Stemmer("english")


def reference_tokenize(text: str) -> list[str]:
    """The tokenizer as it was before its cache and ASCII shortcut, kept as the oracle."""
    found = []
    for word in _REFERENCE_WORD.findall(unicodedata.normalize("NFKC", text).translate(_REFERENCE_FOLD).lower()):
        if word.endswith("'s"):
            word = word[:-2]
        if "," in word and word[0].isdigit():
            word = word.replace(",", "")
        found.append(word)
    return [str(_reference_stemmer.stemWord(word)) for word in found if word not in STOP_WORDS]


def sample_texts() -> dict[str, list[str]]:
    """Broad text: the bundled articles and the tests' scraped pages, sentence by sentence and whole; the
    evaluation questions; synthetic benchmark sentences; hand-picked Unicode."""
    root = Path(__file__).resolve().parents[2]
    articles = [path.read_text(encoding="utf-8") for path in sorted((root / "corpus").glob("*.md"))]
    articles += [path.read_text(encoding="utf-8") for path in sorted((root / "tests" / "data").glob("*.txt"))]
    questions = re.findall(r"question: (.+)", (root / "eval" / "questions.yaml").read_text(encoding="utf-8"))
    sentences = [text[start:end] for text in articles for start, end in split_spans(text)]
    return {
        "articles": articles,
        "sentences": sentences,
        "questions": questions,
        "unicode": [
            "Zürich’s “cooperation” — 3.5% growth; ＦＵＬＬＷＩＤＴＨ ﬁnance Ünïcödé café naïve",
            "北京 delegation met 莫斯科 officials, 1,000th time, e\u0301te\u0301 Ⅻ ² ½ ﬀ İstanbul ΣΊΣΥΦΟΣ",
            "it's the council's 1,000th budget; don't, can't, O'Brien's 3,5,6 1.2.3 a_b x'y'z 'quoted'",
        ],
    }


@pytest.mark.parametrize("source", ["articles", "sentences", "questions", "unicode"])
def test_tokenize_equals_the_reference_tokenizer(source: str) -> None:
    texts = sample_texts()[source]
    assert texts
    for text in texts:
        assert tokenize(text) == reference_tokenize(text), text
        assert tokenize(text) == reference_tokenize(text), text  # and again, from the cache


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
@settings(max_examples=300, deadline=None)
def test_tokenize_equals_the_reference_on_any_text(text: str) -> None:
    assert tokenize(text) == reference_tokenize(text)


@given(st.text(alphabet="ab1,.'’ -\nÅé", max_size=60))
@settings(max_examples=300, deadline=None)
def test_tokenize_equals_the_reference_on_tricky_punctuation(text: str) -> None:
    assert tokenize(text) == reference_tokenize(text)


@pytest.mark.parametrize("many", [[], ["said", "saying", "departments"], ["foriegn", "tsinghau", "running", "a"]])
def test_stem_words_stems_as_stem_word_does(many: list[str]) -> None:
    assert stem_words(many) == [stem_word(word) for word in many]
