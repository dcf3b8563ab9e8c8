"""Example questions drawn from a corpus: names, salience, templates, and only questions the pipeline answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.examples import (
    ExampleCache,
    candidate_questions,
    example_questions,
    looks_like_person,
    names_in,
    question_for,
    salient_names,
    speakers,
)
from askidcpc.edges.server import create_app
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Citation, Document

# A hand-made corpus: each article has one distinctive name; "Harbour Board" is in all three (low idf).
CORPUS = (
    Document(
        "bridge",
        "Kestrel Bridge opens",
        "The Kestrel Bridge opened on Monday after four years of work. The Kestrel Bridge is 900 metres long and "
        "carries two railway tracks. Maria Delgado, the chief engineer, said the Kestrel Bridge was built to last a "
        "century. The Harbour Board paid for it.",
    ),
    Document(
        "ferry",
        "Ferry service ends",
        "The last ferry crossed the bay on Sunday. Tomas Brenner told passengers that the ferry had run for 80 "
        "years. Tomas Brenner was its captain for the last twelve of them. The Harbour Board sold the ferry to a "
        "museum.",
    ),
    Document(
        "museum",
        "A museum for the ferry",
        "The Northern Maritime Museum will show the ferry from June. The Northern Maritime Museum was founded in "
        "1911 by sailors. Tickets cost 5 euros. The Harbour Board gave the museum its building.",
    ),
)


@pytest.fixture(scope="module")
def small() -> Pipeline:
    return Pipeline.from_documents(CORPUS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Song Tao met the Cuban Communist Party delegation.", ["Song Tao", "Cuban Communist Party"]),
        (
            "In Beijing, the Institute of International Studies at Tsinghua University said so.",
            ["Institute of International Studies", "Tsinghua University"],
        ),
        ("The Foreign Ministry might be the symbol.", ["Foreign Ministry"]),  # a leading function word dropped
        ("On Sunday the Communist Party of China\u2019s organ spoke.", ["Communist Party of China"]),  # possessive
        ("Zhang said. Sun said. The end.", []),  # single capitalised words are not names
        ("The Party of", []),  # "of" never ends a name
        ("nothing capitalised here", []),
        ("", []),
    ],
)
def test_names_in(text: str, expected: list[str]) -> None:
    assert names_in(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Song told visitors that, he said.", {"Song"}),
        ("it grows, said Zhang Zhijun, deputy head", {"Zhang"}),
        ("Maria Delgado, the chief engineer, said so. Sun Shouliang noted that", {"Shouliang"}),
        ("nobody speaks here", set()),
    ],
)
def test_speakers(text: str, expected: set[str]) -> None:
    assert speakers(text) == expected


@pytest.mark.parametrize(
    ("name", "corpus_text", "expected"),
    [
        ("Song Tao", "Song told visitors that", True),  # the surname speaks
        ("Zhang Zhijun", "it grows, said Zhang Zhijun, deputy head", True),  # the whole name after the verb
        ("Maria Delgado", "Maria Delgado, the chief engineer, visited it.", False),  # never speaks
        ("Foreign Ministry", "Foreign Ministry said", False),  # an organisation word
        ("South China", "South China said", False),  # a place word
        ("CPC International", "CPC said", False),  # an acronym is not a name's word
        ("Song", "Song said", False),  # one word
        ("Anna Maria Lopez Garcia", "Garcia said", False),  # four words
    ],
)
def test_looks_like_person(name: str, corpus_text: str, expected: bool) -> None:
    assert looks_like_person(name, speakers(corpus_text)) is expected


@pytest.mark.parametrize(
    ("name", "person", "expected"),
    [
        ("Song Tao", True, "Who is Song Tao?"),
        ("International Department", False, "What do the articles say about the International Department?"),
        ("South China Sea", False, "What do the articles say about the South China Sea?"),
        ("Northeast Asia", False, "What do the articles say about Northeast Asia?"),
    ],
)
def test_question_for(name: str, person: bool, expected: str) -> None:
    assert question_for(name, person) == expected


def test_salient_names_prefer_a_documents_own_names() -> None:
    ranked = salient_names(CORPUS)
    assert [names[0] for names in ranked] == ["Kestrel Bridge", "Tomas Brenner", "Northern Maritime Museum"]
    assert all(names[-1] == "Harbour Board" for names in ranked)  # in every article: least salient


def test_candidate_questions_go_round_the_articles() -> None:
    pairs = candidate_questions(CORPUS)
    assert pairs[:3] == [
        ("What do the articles say about Kestrel Bridge?", "Kestrel Bridge"),
        ("Who is Tomas Brenner?", "Tomas Brenner"),  # "told passengers"
        ("What do the articles say about the Northern Maritime Museum?", "Northern Maritime Museum"),
    ]
    # "Maria Delgado, the chief engineer, said": the verb is not next to her name, so no "Who is".
    assert ("What do the articles say about Maria Delgado?", "Maria Delgado") in pairs
    questions = [question for question, _ in pairs]
    assert len(questions) == len(set(questions))


def _answer(question: str, sentence: str | None) -> Answer:
    citation = Citation("doc", "Title", None, None, sentence or "Unrelated words.", 0, 1, 1.0)
    return Answer(question, sentence, 0.5, (citation,))


@pytest.mark.parametrize(("limit", "max_tries"), [(4, 24), (1, 24), (4, 2), (4, 0)])
def test_example_questions_keep_only_answered_ones_that_mention_the_name(limit: int, max_tries: int) -> None:
    pairs = candidate_questions(CORPUS)
    asked: list[str] = []

    def ask(question: str) -> Answer:
        asked.append(question)
        if "Brenner" in question:
            return _answer(question, None)  # abstains
        if "Kestrel" in question:
            return _answer(question, "Tickets cost 5 euros.")  # answered, but not about the name
        name = dict(pairs)[question]
        return _answer(question, f"All about {name}.")

    examples = example_questions(CORPUS, ask, limit=limit, max_tries=max_tries)
    tried = [question for question, _ in pairs[:max_tries]]
    expected = [question for question in tried if "Brenner" not in question and "Kestrel" not in question][:limit]
    assert examples == tuple(expected)
    assert len(asked) <= max_tries and asked == tried[: len(asked)]


def test_examples_of_a_real_pipeline_are_answered(small: Pipeline) -> None:
    examples = example_questions(small.documents, small.ask)
    assert examples  # the hand-made corpus answers some of its own names
    for question in examples:
        assert small.ask(question).answer is not None


@pytest.mark.parametrize(
    "text",
    [
        "It rained. Then it stopped.",  # no name at all
        "Ada Lovelace wrote notes. She said they were long.",  # one name, two sentences
    ],
)
def test_a_two_sentence_corpus_gives_answered_examples_or_none(text: str) -> None:
    pipeline = Pipeline.from_documents([Document("tiny", "Tiny", text)])
    examples = example_questions(pipeline.documents, pipeline.ask)
    assert len(examples) <= 1
    assert all(pipeline.ask(question).answer is not None for question in examples)


def test_the_cache_derives_once_per_pipeline(small: Pipeline) -> None:
    cache = ExampleCache()
    first = cache.examples(small)
    assert cache.examples(small) is first  # the same tuple: not derived again
    other = Pipeline.from_documents(CORPUS[:1])
    assert cache.examples(other) == example_questions(other.documents, other.ask)


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline)) as test_client:
        yield test_client


def test_get_examples_serves_the_bundled_corpus_examples(client: TestClient, pipeline: Pipeline) -> None:
    response = client.get("/examples")
    assert response.status_code == 200
    examples = response.json()["examples"]
    assert examples == list(example_questions(pipeline.documents, pipeline.ask))
    assert 1 <= len(examples) <= 4
    for question in examples:
        assert pipeline.ask(question).answer is not None
    assert client.get("/examples").json() == {"examples": examples}
