"""``askidcpc search``, ``GET /search``, and filters on every edge (``ask``/``search``/``chat`` options, ``/filter``
in the chat, the filter fields of ``POST /ask``): the same results as the pipeline's, and a filter matching no document
says so."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from askidcpc.config import DEFAULT_CORPUS, MAX_QUESTION_CHARS, Settings
from askidcpc.edges.cli import ask_json_lines, main
from askidcpc.edges.repl import PROMPT, Chat, ChatState
from askidcpc.edges.server import create_app
from askidcpc.pipeline import Pipeline
from askidcpc.types import Filter

OLD = "2007-cpc-party-diplomacy"
NEW = "2016-06-26-cpc-diplomatic-arm"
PARTIES = "How many parties does the department have ties with?"


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        ([], None),
        (["--since", "2016"], Filter.parse("since=2016")),
        (["--until", "2007-10"], Filter.parse("until=2007-10")),
        (["--doc", OLD, "--top-k", "5"], Filter.parse(f"doc={OLD}")),
        (["--source", "china daily"], Filter.parse('source="China Daily"')),
    ],
)
def test_search_json_is_the_pipelines_ranking(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], argv: list[str], where: Filter | None
) -> None:
    assert main(["search", " political parties ", "--json", *argv]) == 0
    body = json.loads(capsys.readouterr().out)
    top_k = int(argv[argv.index("--top-k") + 1]) if "--top-k" in argv else 3
    expected = pipeline.search("political parties", top_k, where)
    assert body == {"query": "political parties", "results": [citation.to_dict() for citation in expected]}
    assert len(body["results"]) == top_k
    if where is not None:
        assert all(where.matches(pipeline.documents_by_id[r["doc_id"]]) for r in body["results"])


def test_search_text_numbers_each_sentence_with_its_document(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "political parties", "--doc", OLD, "--top-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    found = pipeline.search("political parties", 2, Filter.parse(f"doc={OLD}"))
    assert out[0] == f"[1] {found[0].sentence}"
    assert out[2] == f"[2] {found[1].sentence}"
    assert f"({OLD} [{found[0].start}:{found[0].end}], score {found[0].score:.3f})" in out[1]


@pytest.mark.parametrize(
    ("argv", "status", "error"),
    [
        (["search", "parties", "--since", "2030"], 1, "askidcpc: no document matches the filter since=2030"),
        (["ask", PARTIES, "--doc", "nope"], 1, "askidcpc: no document matches the filter doc=nope"),
        (["search", "parties", "--since", "2016-13"], 2, "askidcpc search: since must be an ISO date"),
        (["ask", PARTIES, "--since", "2017", "--until", "2016"], 2, "askidcpc ask: since 2017 is after until 2016"),
        (["search", "   "], 2, "askidcpc search: question is empty"),
        (["search", "x" * (MAX_QUESTION_CHARS + 1)], 2, "askidcpc search: question is 2,001 characters"),
        (["chat", "--source", "Nobody"], 1, "askidcpc: no document matches the filter source=nobody"),
    ],
)
def test_filter_and_search_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], status: int, error: str
) -> None:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert captured.err.startswith(error) and len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


def test_ask_with_a_filter_is_the_pipelines_filtered_answer(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", PARTIES, "--json", "--since", "2010"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body == pipeline.ask(PARTIES, filter=Filter.parse("since=2010")).to_dict()
    assert {c["doc_id"] for c in body["citations"]} == {NEW}
    assert body != pipeline.ask(PARTIES).to_dict()


def test_json_lines_take_a_filter_per_line(pipeline: Pipeline) -> None:
    lines = io.StringIO(
        "\n".join(
            json.dumps(request)
            for request in (
                {"question": PARTIES, "doc_id": OLD},
                {"question": PARTIES},  # the options' filter (none here)
                {"question": PARTIES, "source": ["Nobody"]},
                {"question": PARTIES, "since": "yesterday"},
            )
        )
    )
    out = io.StringIO()
    assert ask_json_lines(pipeline, lines, out, 3) == 0
    first, second, third, fourth = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == pipeline.ask(PARTIES, filter=Filter.parse(f"doc={OLD}")).to_dict()
    assert second == pipeline.ask(PARTIES).to_dict()
    assert third == {"error": "no document matches the filter source=nobody"}
    assert fourth["error"].startswith("since must be an ISO date")


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ({"q": "political parties"}, None),
        ({"q": "political parties", "top_k": 5, "since": "2016-06"}, Filter.parse("since=2016-06")),
        ({"q": "  Song Tao ", "doc_id": [OLD, "unknown"], "until": "2010"}, Filter.parse(f"doc={OLD} until=2010")),
        ({"q": "parties", "source": "CHINA DAILY", "top_k": 20}, Filter.parse("source=china\\ daily")),
    ],
)
def test_get_search_is_the_pipelines_ranking(
    client: TestClient, pipeline: Pipeline, query: dict[str, Any], where: Filter | None
) -> None:
    response = client.get("/search", params=query)
    assert response.status_code == 200
    expected = pipeline.search(query["q"], query.get("top_k", 3), where)
    assert response.json() == {"query": query["q"].strip(), "results": [c.to_dict() for c in expected]}


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"q": "   "}, "q is empty"),
        ({"q": "x" * (MAX_QUESTION_CHARS + 1)}, "q is over the limit of 2,000 characters"),
        ({"q": f"  {'x' * MAX_QUESTION_CHARS}  ", "since": "2016-02-30"}, "since must be an ISO date"),
        ({}, "q: Field required"),
        ({"q": "parties", "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
        ({"q": "parties", "since": "2030"}, "no document matches the filter since=2030"),
        ({"q": "parties", "until": "June"}, "until must be an ISO date"),
    ],
)
def test_get_search_errors_are_422_in_words(client: TestClient, query: dict[str, Any], detail: str) -> None:
    response = client.get("/search", params=query)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
    assert response.json()["errors"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"question": PARTIES, "since": "2010"}, Filter.parse("since=2010")),
        ({"question": PARTIES, "doc_id": OLD, "top_k": 5}, Filter.parse(f"doc={OLD}")),
        ({"question": PARTIES, "source": ["China Daily"], "until": "2016-06-26"}, Filter.parse("source=china\\ daily")),
        ({"question": PARTIES, "doc_id": None, "since": None}, None),
    ],
)
def test_ask_filter_fields(client: TestClient, pipeline: Pipeline, body: dict[str, Any], where: Filter | None) -> None:
    response = client.post("/ask", json=body)
    assert response.status_code == 200
    assert response.json() == pipeline.ask(PARTIES, top_k=body.get("top_k", 3), filter=where).to_dict()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"question": PARTIES, "doc_id": "nope"}, "no document matches the filter doc=nope"),
        ({"question": PARTIES, "since": "2016-02-30"}, "since must be an ISO date"),
        ({"question": PARTIES, "until": "26 June 2016"}, "until must be an ISO date"),
        ({"question": PARTIES, "since": "2017", "until": "2016"}, "since 2017 is after until 2016"),
        ({"question": PARTIES, "doc_id": 5}, "doc_id.str: Input should be a valid string"),
        ({"question": PARTIES, "doc_ids": [OLD]}, "unknown field 'doc_ids'; the fields are question, top_k, history"),
    ],
)
def test_ask_filter_errors_are_422(client: TestClient, body: dict[str, Any], detail: str) -> None:
    response = client.post("/ask", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_chat_filter_command(pipeline: Pipeline) -> None:
    chat = Chat(pipeline)
    state = ChatState()
    assert state.prompt == PROMPT
    shown = chat.step(state, "/filter")
    assert "No filter" in "".join(text for _, text in shown.fragments)
    on = chat.step(state, f"/filter doc={OLD} until=2010")
    assert on.state.where == Filter.parse(f"doc={OLD} until=2010")
    assert on.state.prompt == f"ask [doc={OLD} until=2010]> "
    assert "(1 article)" in "".join(text for _, text in on.fragments)
    asked = chat.step(on.state, PARTIES)
    assert asked.answer == pipeline.ask(PARTIES, filter=on.state.where)
    assert chat.step(asked.state, "/new").state.where == on.state.where  # a new conversation keeps the filter
    refused = chat.step(on.state, "/filter since=2030")
    assert refused.error == "no document matches the filter since=2030" and refused.state == on.state
    bad = chat.step(on.state, "/filter when=now")
    assert bad.error is not None and bad.error.startswith("unknown filter 'when=now'") and bad.state == on.state
    off = chat.step(on.state, "/filter off")
    assert off.state.where is None and off.state.prompt == PROMPT
    banner = "".join(text for _, text in chat.banner(100, on.state.where))
    assert f"Filter: doc={OLD} until=2010" in banner


def test_chat_starts_with_the_options_filter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PARTIES}\n"))
    assert main(["chat", "--json", "--doc", OLD]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {c["doc_id"] for c in body["citations"]} == {OLD}
