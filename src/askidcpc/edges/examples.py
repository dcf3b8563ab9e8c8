"""Example questions for the web page's start screen, drawn from the served corpus (nothing hard-coded).

There is no text generation here: each example is a simple template ("Who is X?", "What do the articles say about
X?") around a name that the corpus itself makes salient, and only questions the pipeline answers
are kept, so a click on one never lands on "the articles do not answer".

- **Names**: runs of two or more capitalised words in an article's text ("Song Tao", "Institute of International
  Studies"), with "of" allowed inside; leading function words ("In", "The") and a final possessive are dropped.
- **Salience**: tf-idf across the corpus (a name in every article says little about any one of them), doubled when
  the name is in the article's title. Each article offers its best names, best first; the examples go round the
  articles (most salient first) so they cover several articles before a second name of one.
- **Template**: "Who is X?" only when X looks like a person: two or three plain capitalised words, no organisation
  or place word, and X or one of its words is the subject or object of a speech verb somewhere in the corpus
  ("Song told", "said Zhang"). Any other name gets "What do the articles say about X?", with "the X" for an
  organisation ("the Foreign Ministry") or a place such as "the South China Sea". (Not "What is X?": an extractive
  answer is a sentence about X, seldom a definition of it.)
- **Kept**: the pipeline answers it (not an abstention) and the answer's first sentence mentions the name.

A small corpus may give no example at all; the page then shows none.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from askidcpc.pipeline import Pipeline
from askidcpc.text.tokenize import STOP_WORDS
from askidcpc.types import Answer, Document

__all__ = [
    "MAX_DOCUMENTS",
    "MAX_EXAMPLES",
    "ExampleCache",
    "candidate_questions",
    "example_questions",
    "looks_like_person",
    "names_in",
    "question_for",
    "salient_names",
    "speakers",
]

MAX_EXAMPLES = 4
MAX_TRIES = 24  # questions asked at most to find the examples: bounds the work on a large corpus
NAMES_PER_DOCUMENT = 4
MAX_DOCUMENTS = 1000  # names are drawn from the first documents only: bounds the work on a large corpus

# A capitalised word: "Song", "CPC", "Sino-Japanese", "People's", "Workers'"; connectors join them inside a name.
_WORD = r"[A-Z][A-Za-z]*(?:-[A-Za-z]+)*(?:['\u2019][a-z]*)?"
_NAME = re.compile(rf"\b{_WORD}(?:\s+(?:of\s+)?{_WORD})+")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_SPEECH_VERBS = ("said", "says", "told", "tells", "added", "noted", "stressed", "asked", "explained")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that make a name an organisation (or a place or event), never a person.
ORGANISATION_WORDS = _words(
    """Academy Agency Association Assembly Bank Board Bureau Center Centre Church College Commission Committee
    Company Congress Corporation Council Court Department Foundation Gallery Government Group Hospital House
    Institute League Library Ministry Museum Office Organization Organisation Parliament Party Press Republic
    School Senate Service Society State Studies Union United University"""
)
PLACE_WORDS = _words(
    """Africa America Asia Bay City Coast County East Europe Island Islands Kingdom Lake Mountain Mountains North
    Ocean Peninsula Province Region River Road Sea South Square Street Valley War West World"""
)
# The last words of place names said with "the": "the South China Sea", "the Korean Peninsula".
THE_PLACE_WORDS = _words("Canal Channel Desert Gulf Islands Ocean Peninsula River Sea Strait")


def _strip(name: str) -> str:
    words = name.split()
    while words and words[0].lower() in STOP_WORDS:  # "In Beijing", "The Foreign Ministry"
        words.pop(0)
    if words:
        words[-1] = _POSSESSIVE.sub("", words[-1])
    while words and words[-1] == "of":
        words.pop()
    return " ".join(words)


def names_in(text: str) -> list[str]:
    """The capitalised multi-word names of ``text`` in order of appearance, repeats included."""
    found: list[str] = []
    for match in _NAME.finditer(text):
        name = _strip(" ".join(match.group().split()))
        if len(name.split()) >= 2:
            found.append(name)
    return found


def _occurrences(name: str, text: str) -> int:
    return len(re.findall(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text))


@dataclass(frozen=True)
class _Scored:
    name: str
    score: float


def salient_names(documents: Sequence[Document], per_document: int = NAMES_PER_DOCUMENT) -> list[list[str]]:
    """For each document (in the order given), up to ``per_document`` of its names, most salient (tf-idf, title
    counted twice) first; a name inside a better one already taken ("Department" in "International Department")
    is skipped, as is one of them both ways round."""
    texts = [f"{document.title}\n{document.text}" for document in documents]
    distinct = [set(names_in(text)) for text in texts]
    frequency: Counter[str] = Counter()
    for names in distinct:
        frequency.update(names)
    count = len(documents)
    ranked: list[list[str]] = []
    for document, text, names in zip(documents, texts, distinct, strict=True):
        scored: list[_Scored] = []
        for name in names:
            idf = math.log((1 + count) / (1 + frequency[name])) + 1.0
            tf = _occurrences(name, text) + _occurrences(name, document.title)
            scored.append(_Scored(name, tf * idf))
        scored.sort(key=lambda item: (-item.score, text.find(item.name), item.name))
        chosen: list[str] = []
        for item in scored:
            if any(item.name in taken or taken in item.name for taken in chosen):
                continue
            chosen.append(item.name)
            if len(chosen) == per_document:
                break
        ranked.append(chosen)
    return ranked


def speakers(text: str) -> frozenset[str]:
    """The capitalised words of ``text`` right before or after a speech verb: "Song" in "Song told", "Zhang" in
    "said Zhang Zhijun"."""
    verbs = "|".join(_SPEECH_VERBS)
    before = re.findall(rf"\b([A-Z][\w-]*)\s+(?:{verbs})\b", text)
    after = re.findall(rf"\b(?:{verbs})\s+([A-Z][\w-]*)", text)
    return frozenset(before) | frozenset(after)


def looks_like_person(name: str, speaking: frozenset[str]) -> bool:
    """Whether ``name`` reads as a person's name: two or three plain capitalised words ("Song Tao", not "CPC" or
    "Workers'"), none an organisation or place word, and one of them among the ``speaking`` words (see
    :func:`speakers`) of the corpus."""
    words = name.split()
    if not 2 <= len(words) <= 3:
        return False
    if any(not re.fullmatch(r"[A-Z][a-z]+(?:-[A-Za-z][a-z]+)?", word) for word in words):
        return False
    if any(word in ORGANISATION_WORDS or word in PLACE_WORDS for word in words):
        return False
    return any(word in speaking for word in words)


def question_for(name: str, person: bool) -> str:
    """The example question about ``name``."""
    if person:
        return f"Who is {name}?"
    words = name.split()
    the = "the " if words[-1] in THE_PLACE_WORDS or any(word in ORGANISATION_WORDS for word in words) else ""
    return f"What do the articles say about {the}{name}?"


def candidate_questions(documents: Sequence[Document]) -> list[tuple[str, str]]:
    """(question, name) pairs to try, in order: each document's best name in turn (the documents whose best name is
    most salient first), then each one's second, and so on; no question twice."""
    ranked = salient_names(documents)
    speaking = speakers("\n".join(document.text for document in documents))
    order = sorted(range(len(documents)), key=lambda index: (not ranked[index], index))
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for depth in range(max((len(names) for names in ranked), default=0)):
        for index in order:
            if depth >= len(ranked[index]):
                continue
            name = ranked[index][depth]
            question = question_for(name, looks_like_person(name, speaking))
            if question not in seen:
                seen.add(question)
                pairs.append((question, name))
    return pairs


def _mentions(answer: Answer, name: str) -> bool:
    if answer.answer is None or not answer.citations:
        return False
    first = answer.citations[0].sentence
    return all(word in first for word in name.split() if word != "of")


def example_questions(
    documents: Sequence[Document],
    ask: Callable[[str], Answer],
    limit: int = MAX_EXAMPLES,
    max_tries: int = MAX_TRIES,
) -> tuple[str, ...]:
    """Up to ``limit`` example questions about ``documents`` that ``ask`` answers, the answer's first sentence
    mentioning the name asked about; at most ``max_tries`` questions are asked."""
    examples: list[str] = []
    for question, name in candidate_questions(documents)[:max_tries]:
        if _mentions(ask(question), name):
            examples.append(question)
            if len(examples) == limit:
                break
    return tuple(examples)


class ExampleCache:
    """The examples of the pipeline last asked about, derived once per pipeline (a reload brings a new one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._examples: tuple[str, ...] = ()

    def examples(self, pipeline: Pipeline) -> tuple[str, ...]:
        """``pipeline``'s example questions (from its first :data:`MAX_DOCUMENTS` documents); the first call for a
        pipeline asks it up to :data:`MAX_TRIES` questions (milliseconds each)."""
        with self._lock:
            if self._pipeline is not pipeline:
                documents = [pipeline.documents[i] for i in range(min(len(pipeline.documents), MAX_DOCUMENTS))]
                self._examples = example_questions(documents, pipeline.ask)
                self._pipeline = pipeline
            return self._examples
