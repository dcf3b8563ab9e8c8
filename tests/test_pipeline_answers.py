"""The answers themselves, pinned: every answer of the eval question files on the bundled corpus, and of a few
hundred questions on a generated news corpus of about 20,000 sentences (names, dates, figures, dated documents that
disagree), must stay exactly what they were when ``tests/data/pipeline_answers.json`` was written: the same answer
text, confidence, citations (document, offsets, score) and short answer, to the last bit of every float.

The fixture is the oracle for work on the reader's speed, which must not change a single answer. Rewrite it only
for a change meant to change answers: ``python tests/test_pipeline_answers.py`` (about a minute), and say so in the
commit.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.evaluate import load_cases
from askidcpc.index import _kernels
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Document, Filter

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).resolve().parent / "data" / "pipeline_answers.json"
QUESTION_FILES = ("eval/questions.yaml", "eval/heldout.yaml")

# The generated corpus: English words (so the lexicon's synonyms take part), a long tail of rarer pseudo-words,
# people's names, years, dates and counted figures, five paragraphs of three to six sentences a document.
_COMMON = (  # noqa: SIM905
    "river bridge council mayor budget school library harbour railway election minister farmer market price storm "
    "flood museum festival hospital doctor factory worker treaty border rocket planet ocean forest harvest export "
    "party department country government leader meeting visit delegation company office city village army court"
).split()
_VERBS = "built opened met visited signed founded closed announced elected praised".split()  # noqa: SIM905
_NAMES = ("Li Wei", "Anna Berg", "Tom Okafor", "Maria Silva", "Song Tao", "Juan Perez", "Ada Stone")
_COUNTED = ("parties", "countries", "workers", "students", "villages", "delegations")
_SYLLABLES = [c + v for c in "bdgklmnprstvz" for v in "aeiou"]


def _rare(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def _sentence(rng: random.Random, rare: Sequence[str]) -> str:
    words = [rng.choice(_COMMON) if rng.random() < 0.6 else rng.choice(rare) for _ in range(rng.randint(4, 14))]
    at = rng.randint(1, len(words))
    words.insert(at, rng.choice(_VERBS))
    extra = rng.random()
    if extra < 0.15:
        words.append(f"in {rng.randint(1950, 2024)}")
    elif extra < 0.3:
        words.append(f"with about {rng.choice([60, 160, 400, 600, 1200])} {rng.choice(_COUNTED)}")
    elif extra < 0.4:
        words.insert(0, f"{rng.choice(_NAMES)} said the")
    elif extra < 0.45:
        words.append("but did not say when")
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."


def generated_corpus(seed: int = 16, n_documents: int = 800) -> list[Document]:
    """About 25 sentences a document (20,000 for 800), deterministic."""
    rng = random.Random(seed)
    rare = [_rare(rng) for _ in range(3000)]
    documents = []
    for d in range(n_documents):
        paragraphs = [" ".join(_sentence(rng, rare) for _ in range(rng.randint(3, 7))) for _ in range(5)]
        date = None if d % 17 == 0 else f"20{10 + d % 12:02d}-{1 + d % 12:02d}-{1 + d % 28:02d}"
        source = ("Daily", "Herald", "Wire")[d % 3]
        documents.append(Document(f"doc-{d:04d}", f"Article {d}", "\n\n".join(paragraphs), date=date, source=source))
    return documents


def generated_questions(documents: Sequence[Document], seed: int = 61, n: int = 300) -> Iterator[tuple[Any, ...]]:
    """``(question, top_k, history, filter)`` requests: questions made of a document's words (so most are
    answerable), question words of every answer type, a few of words nobody uses, follow-ups, and filters."""
    rng = random.Random(seed)
    openings = ("When was the", "How many", "Who", "What is the", "Where is the", "Which", "Why did the", "")
    for number in range(n):
        document = rng.choice(documents)
        words = [word.strip(".,") for word in document.text.split() if word[:1].islower()]
        picked = rng.sample(words, min(len(words), rng.randint(1, 5)))
        if number % 23 == 0:
            picked.append(_rare(rng) + "x")  # a word the corpus does not hold
        if number % 11 == 0:
            picked.append(rng.choice(_NAMES))
        question = f"{rng.choice(openings)} {' '.join(picked)}?".strip()
        top_k = (1, 3, 3, 5, 10)[number % 5]
        history: tuple[str, ...] = ()
        if number % 13 == 0:
            history = (f"What did {rng.choice(_NAMES)} say about the {rng.choice(_COMMON)}?",)
            question = f"And when did it {rng.choice(_VERBS).removesuffix('ed')}?"
        where = None
        if number % 19 == 0:
            where = Filter.build(sources=("Daily", "Herald", "Wire")[number % 3])
        elif number % 29 == 0:
            where = Filter.build(since="2015-01-01", until="2018-12-31")
        yield question, top_k, history, where


def record(answer: Answer) -> dict[str, Any]:
    """What must not change, compactly: the answer text (as its hash), confidence, citations by place and score,
    the short answer's place."""
    text = answer.answer
    short = answer.short_answer
    return {
        "answer": None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        "confidence": answer.confidence,
        "citations": [[c.doc_id, c.start, c.end, c.score] for c in answer.citations],
        "short": None if short is None else [short.doc_id, short.start, short.end],
    }


@cache
def _bundled() -> Pipeline:
    return Pipeline.load(Settings(corpus=DEFAULT_CORPUS))


@cache
def _generated() -> Pipeline:
    return Pipeline.from_documents(generated_corpus())


def _parts() -> tuple[Any, ...]:
    """The generated pipeline's parts, for a new pipeline over them (nothing cached from earlier searches)."""
    pipeline = _generated()
    return list(pipeline.documents), list(pipeline.passages), pipeline.index, pipeline.settings


def bundled_answers() -> dict[str, Any]:
    pipeline = _bundled()
    found: dict[str, Any] = {}
    for name in QUESTION_FILES:
        for case in load_cases(ROOT / name):
            # top_k only cuts the citations (the reader reads the same candidates up to RankParams.candidates)
            found[f"{name}:{case.case_id}"] = record(pipeline.ask(case.question, 5, case.history))
    return found


def generated_answers(pipeline: Pipeline | None = None) -> list[Any]:
    pipeline = pipeline or _generated()
    found = []
    for question, top_k, history, where in generated_questions(list(pipeline.documents)):
        found.append([question, record(pipeline.ask(question, top_k, history, where))])
    return found


def write() -> None:
    expected = {"bundled": bundled_answers(), "generated": generated_answers()}
    EXPECTED.write_text(json.dumps(expected, separators=(",", ":")).replace('],["', '],\n["') + "\n", encoding="utf-8")


def same(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-12 relative: the last bits of a sum over a set of terms follow the set's order, which
    Python's string hashing changes from process to process (the same code gives 0.08374042206769493 or ...491)."""
    if isinstance(got, float) and isinstance(want, float):
        return abs(got - want) <= 1e-12 * max(1.0, abs(want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[key], want[key]) for key in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(same(a, b) for a, b in zip(got, want, strict=True))
    return type(got) is type(want) and bool(got == want)


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return loaded


def test_bundled_answers_unchanged(expected: dict[str, Any]) -> None:
    found = bundled_answers()
    assert found.keys() == expected["bundled"].keys()
    changed = [key for key, value in found.items() if not same(value, expected["bundled"][key])]
    assert not changed, f"{len(changed)} answers changed, e.g. {changed[0]}: {found[changed[0]]}"


@pytest.mark.slow
@pytest.mark.parametrize("compiled", [False, True])
def test_generated_answers_unchanged(expected: dict[str, Any], compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Searched with numpy (as an index this small is) and with the compiled kernels (as a large one is)."""
    if compiled:
        monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)
    found = generated_answers(Pipeline.from_parts(*_parts()))
    assert len(found) == len(expected["generated"])
    changed = [
        at for at, (got, want) in enumerate(zip(found, expected["generated"], strict=True)) if not same(got, want)
    ]
    assert not changed, (
        f"{len(changed)} answers changed, e.g. {found[changed[0]]} != {expected['generated'][changed[0]]}"
    )


def test_generated_corpus_exercises_the_reader(expected: dict[str, Any]) -> None:
    """The pinned generated answers are varied: answers and abstentions, short answers, dated (conflicting)
    answers' extra citations; else the oracle would pin too little."""
    answers = [value for _, value in expected["generated"]]
    assert sum(value["answer"] is not None for value in answers) > 50
    assert sum(value["answer"] is None for value in answers) > 20
    assert sum(value["short"] is not None for value in answers) > 50
    assert len({round(value["confidence"], 3) for value in answers}) > 100


if __name__ == "__main__":
    write()
    sys.exit(0)
