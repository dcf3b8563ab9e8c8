from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.index import store
from askidcpc.pipeline import VECTOR_MODEL, Pipeline
from askidcpc.types import Document

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return Pipeline.load(Settings(corpus=DEFAULT_CORPUS))


# The bundled corpus as a saved index, and the answers a saved index gives, for the store and CLI tests.

QUESTIONS = [
    "When was the International Department founded?",
    "Who heads the CPC International Department?",
    "How many parties does the CPC have ties with?",
    "What is the capital of Cuba?",
    "WeChat",
    "the of and",
]


@pytest.fixture(scope="module")
def bundled() -> Pipeline:
    return Pipeline.load(Settings(corpus=DEFAULT_CORPUS))


@pytest.fixture
def saved(tmp_path: Path, bundled: Pipeline) -> Path:
    path = tmp_path / "index"
    store.save_index(path, bundled.documents, bundled.passages, bundled.index)
    return path


def answers(path: Path) -> list[dict[str, object]]:
    pipeline = Pipeline.load(Settings(corpus=path))
    return [pipeline.ask(question).to_dict() for question in QUESTIONS]


# A stand-in sentence encoder for the saved index's passage vectors (deterministic unit vectors from each text's
# hash), so that tests of storing vectors load no model; by default it claims the installed model's identity, as the
# edge's encoder does. tests/test_semantic_index.py and the slow CLI tests use the real one.


class FakeEncoder:
    def __init__(self, model: store.VectorModel = VECTOR_MODEL) -> None:
        self.model = model
        self.calls: list[list[str]] = []

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([fake_vector(text, self.model.dim) for text in texts])


def fake_vector(text: str, dim: int) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little"))
    vector = rng.standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


# A seeded synthetic corpus (paragraphs of sentences from a small vocabulary, names, dates and figures) and
# questions over it, for the ranking, paragraph, idf and context tests.

WORDS = [
    "river",
    "bridge",
    "council",
    "mayor",
    "budget",
    "school",
    "library",
    "harbour",
    "railway",
    "election",
    "minister",
    "farmer",
    "market",
    "price",
    "storm",
    "flood",
    "museum",
    "festival",
    "hospital",
    "doctor",
    "factory",
    "worker",
    "treaty",
    "border",
    "rocket",
    "planet",
    "ocean",
    "forest",
    "harvest",
    "export",
]


NAMES = ["Li Wei", "Anna Berg", "Tom Okafor", "Maria Silva"]
EXTRAS = ["in 1998", "on May 4", "about 300 people", "twelve times", "last century", "", "", ""]


def sentence(rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
    if rng.random() < 0.3:
        body = f"{body} with {rng.choice(NAMES)}"
    return f"The {body} {rng.choice(EXTRAS)}".rstrip() + "."


def corpus(seed: int, n_documents: int) -> list[Document]:
    rng = random.Random(seed)
    documents = []
    for d in range(n_documents):
        paragraphs = [" ".join(sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 4))]
        documents.append(Document(f"doc-{d}", f"Doc {d}", "\n\n".join(paragraphs), date=f"20{10 + d % 9}-01-01"))
    return documents


def questions(seed: int) -> list[str]:
    rng = random.Random(seed)
    openings = ["When did the", "How many", "Who met the", "What is the", "Where is the", ""]
    return [
        f"{rng.choice(openings)} {' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))}?".strip()
        for _ in range(25)
    ] + ["What about the zeppelin?", "the"]
