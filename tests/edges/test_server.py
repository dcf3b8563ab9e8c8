"""The HTTP edge: every route and error case through TestClient, odd bodies fuzzed, and the real `askidcpc serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askidcpc.config import DEFAULT_CORPUS, MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from askidcpc.edges.server import STATIC_DIR, ServerLimits, create_app
from askidcpc.pipeline import Pipeline
from tests.edges.conftest import free_port, running_server

LIMITS = ServerLimits()

FIRST = "Who is Song Tao?"
FOLLOW_UP = "What did he tell the visitors?"


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "body",
    [
        {"question": FIRST},
        {"question": f"   {FIRST}\n"},
        {"question": FOLLOW_UP, "history": [FIRST]},
        {"question": "How many parties does the CPC have ties with?", "top_k": 1},
        {"question": "WeChat", "top_k": MAX_TOP_K, "history": []},
        {"question": "How do I bake sourdough bread?"},
        {"question": "x" * MAX_QUESTION_CHARS, "history": ["q"] * MAX_HISTORY},
        {"question": "中国共产党"},
        {"question": "Was Song Tao a deputy foriegn minister?"},  # read as "foreign": read_as says so
    ],
)
def test_ask_returns_the_pipelines_answer(client: TestClient, pipeline: Pipeline, body: dict[str, Any]) -> None:
    response = client.post("/ask", json=body)
    assert response.status_code == 200
    expected = pipeline.ask(body["question"], top_k=body.get("top_k", 3), history=body.get("history", ()))
    assert response.json() == expected.to_dict()
    for citation in response.json()["citations"]:
        text = client.get(f"/documents/{citation['doc_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["sentence"]
    short = response.json()["short_answer"]
    if short is not None:
        text = client.get(f"/documents/{short['doc_id']}").json()["text"]
        assert text[short["start"] : short["end"]] == short["text"]


def test_health_and_documents(client: TestClient, pipeline: Pipeline) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "documents": len(pipeline.documents),
        "passages": len(pipeline.passages),
    }
    listed = client.get("/documents").json()
    assert listed == [document.metadata() for document in pipeline.documents]
    for document in pipeline.documents:
        assert client.get(f"/documents/{document.doc_id}").json() == {**document.metadata(), "text": document.text}


def test_context_is_a_contiguous_span_around_the_sentence(client: TestClient, pipeline: Pipeline) -> None:
    for passage in pipeline.passages:
        found = client.get(
            f"/documents/{passage.doc_id}/context", params={"start": passage.start, "end": passage.end}
        ).json()
        text = pipeline.documents_by_id[passage.doc_id].text
        assert found["sentence"] == passage.text
        span = found["before"] + found["sentence"] + found["after"]
        begin = passage.start - len(found["before"])
        assert text[begin : begin + len(span)] == span
        previous = pipeline.passages[passage.prev_pid] if passage.prev_pid is not None else None
        following = pipeline.passages[passage.next_pid] if passage.next_pid is not None else None
        assert begin == (previous.start if previous else passage.start)
        assert passage.end + len(found["after"]) == (following.end if following else passage.end)


JSON_TYPE = {"content-type": "application/json"}


def _error_cases() -> list[tuple[str, str, dict[str, Any], int, str]]:
    long_question = "x" * (MAX_QUESTION_CHARS + 1)
    return [
        # (method, path, request keyword arguments, status, words in the detail)
        ("POST", "/ask", {"json": {"question": ""}}, 422, "question is empty"),
        ("POST", "/ask", {"json": {"question": " \t\n "}}, 422, "question is empty"),
        ("POST", "/ask", {"json": {"question": long_question}}, 422, "over the limit of 2,000 characters"),
        ("POST", "/ask", {"json": {"question": f"  {long_question[1:]}  "}}, 200, ""),
        ("POST", "/ask", {"json": {"question": 42}}, 422, "question: Input should be a valid string"),
        ("POST", "/ask", {"json": {"question": None}}, 422, "question"),
        ("POST", "/ask", {"json": {"question": "ok?", "top_k": 0}}, 422, "top_k"),
        ("POST", "/ask", {"json": {"question": "ok?", "top_k": MAX_TOP_K + 1}}, 422, "top_k"),
        ("POST", "/ask", {"json": {"question": "ok?", "top_k": "3"}}, 422, "top_k"),
        ("POST", "/ask", {"json": {"question": "ok?", "top_k": True}}, 422, "top_k"),
        ("POST", "/ask", {"json": {"question": "ok?", "top_k": 2.5}}, 422, "top_k"),
        ("POST", "/ask", {"json": {"question": "ok?", "history": ["q"] * (MAX_HISTORY + 1)}}, 422, "history has more"),
        ("POST", "/ask", {"json": {"question": "ok?", "history": "earlier"}}, 422, "history"),
        ("POST", "/ask", {"json": {"question": "ok?", "history": [None]}}, 422, "history.0"),
        ("POST", "/ask", {"json": {"question": "ok?", "history": [long_question]}}, 422, "history.0"),
        ("POST", "/ask", {"json": {"question": "ok?", "mode": "fast"}}, 422, "unknown field 'mode'"),
        ("POST", "/ask", {"json": {}}, 422, "question: Field required"),
        ("POST", "/ask", {"json": ["ok?"]}, 422, "must be a JSON object"),
        ("POST", "/ask", {"json": "ok?"}, 422, "must be a JSON object"),
        ("POST", "/ask", {}, 422, "must be a JSON object with a 'question'"),
        ("POST", "/ask", {"content": b'{"question": ', "headers": JSON_TYPE}, 422, "not valid JSON"),
        ("POST", "/ask", {"content": b"\xff\xfe\x00garbage", "headers": JSON_TYPE}, 422, "not valid JSON"),
        ("POST", "/ask", {"content": b'{"question":"ok?"}'}, 422, "sent as application/json"),
        ("POST", "/ask", {"content": b"\x00" * 5, "headers": JSON_TYPE}, 422, "not UTF-8 text"),
        ("POST", "/ask", {"content": b"[" * 30_000 + b"]" * 30_000, "headers": JSON_TYPE}, 422, "nested too deeply"),
        ("POST", "/ask", {"content": b'{"question":' * 5000 + b"1" + b"}" * 5000, "headers": JSON_TYPE}, 422, "nested"),
        ("POST", "/ask", {"content": b"[" * 900 + b"]" * 900, "headers": JSON_TYPE}, 422, "must be a JSON object"),
        ("POST", "/ask", {"content": b'{"question":"ok?"}', "headers": {"content-type": "text/plain"}}, 422, "JSON"),
        ("POST", "/ask", {"json": {"question": "x" * (LIMITS.max_body_bytes + 1)}}, 413, "over the limit of 65,536"),
        ("GET", "/ask", {}, 405, "Method Not Allowed"),
        ("GET", "/documents/no-such-doc", {}, 404, "no document 'no-such-doc'"),
        ("GET", "/documents/2007-cpc-party-diplomacy/context?start=0&end=1", {}, 404, "no sentence"),
        ("GET", "/documents/no-such-doc/context?start=0&end=1", {}, 404, "no document"),
        ("GET", "/documents/2007-cpc-party-diplomacy/context?start=-1&end=1", {}, 422, "start"),
        ("GET", "/documents/2007-cpc-party-diplomacy/context?start=a&end=1", {}, 422, "start"),
        ("GET", "/documents/2007-cpc-party-diplomacy/context", {}, 422, "start: Field required"),
        ("GET", "/nowhere", {}, 404, "Not Found"),
    ]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "detail"), _error_cases())
def test_errors_are_json_with_a_clear_detail(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int, detail: str
) -> None:
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    if status != 200:
        assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/", "/health", "/documents", "/documents/2007-cpc-party-diplomacy", "/documents/no-such-doc", "/static/app.css"],
)
def test_head_is_get_without_the_body(client: TestClient, path: str) -> None:
    got, head = client.get(path), client.head(path)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content)) != "0"
    assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize(
    ("path", "allow", "status"),
    [
        ("/", "GET, HEAD, OPTIONS", 204),
        ("/ask", "OPTIONS, POST", 204),
        ("/health", "GET, HEAD, OPTIONS", 204),
        ("/documents/anything/context", "GET, HEAD, OPTIONS", 204),
        ("/static/app.css", "GET, HEAD, OPTIONS", 204),
        ("/nowhere", None, 404),
    ],
)
@pytest.mark.parametrize("preflight", [False, True], ids=["options", "cors-preflight"])
def test_options_lists_the_methods_of_the_path(
    client: TestClient, path: str, allow: str | None, status: int, preflight: bool
) -> None:
    # No CORS origins configured: a preflight gets the same answer, without Access-Control-Allow-Origin, so a
    # browser keeps other origins out.
    headers = {"origin": "https://example.org", "access-control-request-method": "POST"} if preflight else {}
    response = client.options(path, headers=headers)
    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert "access-control-allow-origin" not in response.headers
    if status == 204:
        assert response.content == b""


def test_head_of_a_post_route_is_405_with_allow(client: TestClient) -> None:
    response = client.head("/ask")
    assert (response.status_code, response.headers["allow"], response.content) == (405, "POST", b"")


@pytest.mark.parametrize(
    ("body", "loc", "position"),
    [
        (b'{"question": ', ["body"], 13),
        (b'{"question": "ok?",}', ["body"], 19),
        (b'{"question": "ok?"}\n\n{', ["body"], 21),
        (b'{"question": 42}', ["body", "question"], None),
        (b'{"question": "ok?", "history": ["a", 7]}', ["body", "history", "1"], None),
        (b'{"question": "ok?", "top_k": 0}', ["body", "top_k"], None),
    ],
)
def test_error_locations_name_the_field_or_the_body(
    client: TestClient, body: bytes, loc: list[str], position: int | None
) -> None:
    response = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == loc
    assert error.get("position") == position
    if position is not None:
        assert f"at character {position}" in error["msg"]
        with pytest.raises(json.JSONDecodeError) as raised:
            json.loads(body)
        assert raised.value.pos == position  # the offset is Python's json's, an oracle


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    yield b'{"question": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(("size", "status"), [(LIMITS.max_body_bytes - 100, 422), (LIMITS.max_body_bytes * 4, 413)])
def test_streamed_body_without_length_is_limited(client: TestClient, size: int, status: int) -> None:
    # No Content-Length (chunked): the limit is enforced as the body streams in.
    response = client.post("/ask", content=_chunks(size), headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"


def test_body_limit_is_configurable(pipeline: Pipeline) -> None:
    app = create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline, limits=ServerLimits(max_body_bytes=40))
    with TestClient(app) as small:
        assert small.post("/ask", json={"question": "Who is Song Tao?"}).status_code == 200
        assert small.post("/ask", json={"question": "Who is Song Tao, and what does he do?"}).status_code == 413


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
ODD_BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"question": JSON_VALUES | st.text(max_size=100)},
        optional={"top_k": JSON_VALUES, "history": JSON_VALUES | st.lists(st.text(max_size=20), max_size=25)},
    ).map(lambda value: json.dumps(value).encode()),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=ODD_BODIES)
def test_odd_bodies_get_an_answer_or_a_4xx(client: TestClient, body: bytes) -> None:
    response = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 422), response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    if response.status_code == 200:
        assert set(payload) >= {"question", "answer", "confidence", "citations", "short_answer"}
    else:
        assert isinstance(payload["detail"], str) and payload["detail"]


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"question": ' * depth + b'"x"' + b"}" * depth


HOSTILE_BODIES = st.one_of(
    st.builds(_nested, st.integers(1, 40_000), st.sampled_from(["array", "object"])),
    st.lists(st.tuples(st.sampled_from(["question", "top_k", "history"]), JSON_VALUES), min_size=2, max_size=6).map(
        lambda pairs: ("{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}").encode()
    ),  # duplicate keys: the last one counts
    st.builds(
        lambda head, cut, tail: head[:cut] + tail,
        st.just(b'{"question": "When was the International Department founded?"}'),
        st.integers(0, 60),
        st.binary(max_size=8),
    ),  # valid JSON cut short and followed by junk (invalid UTF-8 included)
    st.integers(60_000, 200_000).map(lambda n: b'{"question": "' + b"\\ud800" * (n // 6) + b'"}'),
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=HOSTILE_BODIES)
def test_hostile_bodies_get_a_4xx_or_an_answer_never_a_5xx(client: TestClient, body: bytes) -> None:
    response = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 413, 422), response.text[:300]
    payload = response.json()
    if response.status_code == 200:
        assert set(payload) >= {"question", "answer", "confidence", "citations"}
    else:
        assert isinstance(payload["detail"], str) and payload["detail"]
        assert "Traceback" not in response.text


def test_openapi_carries_the_contract_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    request = schema["components"]["schemas"]["AskRequest"]["properties"]
    assert (request["question"]["minLength"], request["question"]["maxLength"]) == (1, MAX_QUESTION_CHARS)
    assert (request["top_k"]["minimum"], request["top_k"]["maximum"], request["top_k"]["default"]) == (1, MAX_TOP_K, 3)
    assert request["history"]["maxItems"] == MAX_HISTORY
    assert request["history"]["items"]["maxLength"] == MAX_QUESTION_CHARS
    assert set(schema["paths"]) >= {"/ask", "/health", "/documents", "/documents/{doc_id}"}


URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_load_only_from_this_server(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    references = [a or b for a, b in URL.findall(response.text)]
    assert references, "the page references its assets"
    for reference in references:
        assert reference.startswith("/") or reference.startswith("data:"), reference
        if reference.startswith("/"):
            assert client.get(reference).status_code == 200, reference
    assert "http://" not in response.text and "https://" not in response.text


@pytest.mark.parametrize("name", sorted(p.name for p in STATIC_DIR.iterdir()))
def test_static_files_have_no_external_references(name: str) -> None:
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_page_has_a_restrictive_content_security_policy(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy


# ---- the real server, over real HTTP ----


@pytest.mark.slow
@pytest.mark.parametrize("options", [[], ["--workers", "2"]], ids=["one-process", "two-workers"])
def test_live_server_answers_over_http(pipeline: Pipeline, options: list[str]) -> None:
    with running_server(*options) as (url, server):
        first = httpx.post(f"{url}/ask", json={"question": FIRST}, timeout=10)
        second = httpx.post(f"{url}/ask", json={"question": FOLLOW_UP, "history": [FIRST]}, timeout=10)
        bad = httpx.post(f"{url}/ask", json={"question": ""}, timeout=10)
        page = httpx.get(f"{url}/", timeout=10)
    log = server.stdout.read() if server.stdout else ""
    assert first.status_code == 200 and first.json() == pipeline.ask(FIRST).to_dict()
    assert second.json() == pipeline.ask(FOLLOW_UP, history=[FIRST]).to_dict()
    assert bad.status_code == 422 and "question is empty" in bad.json()["detail"]
    assert page.status_code == 200 and 'id="ask-form"' in page.text
    assert f"http://127.0.0.1:{url.rsplit(':', 1)[1]}/ (this machine only)" in log
    assert server.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert "Traceback" not in log


@pytest.mark.slow
def test_serve_with_a_bad_corpus_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "serve", "--corpus", str(tmp_path / "missing"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("askidcpc: ")


@pytest.mark.slow
def test_serve_on_a_busy_port_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "askidcpc", "serve", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    # One line, before the corpus is loaded and before any "serving" or "ready" line.
    assert done.stderr == f"askidcpc: could not serve on http://127.0.0.1:{port}/: address already in use\n"
    assert done.stdout == ""


@pytest.mark.slow
def test_one_question_gives_one_answer_object_everywhere(pipeline: Pipeline, tmp_path: Path) -> None:
    """The REPL (piped, --json), `askidcpc ask --json` and POST /ask give the identical answer object."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    chat = subprocess.run(
        [sys.executable, "-m", "askidcpc", "chat", "--json"],
        input=f"{FIRST}\n{FOLLOW_UP}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    single = subprocess.run(
        [sys.executable, "-m", "askidcpc", "ask", "--json", FIRST], capture_output=True, text=True, timeout=60
    )
    lines = subprocess.run(
        [sys.executable, "-m", "askidcpc", "ask", "--json", "-"],
        input=json.dumps({"question": FOLLOW_UP, "history": [FIRST]}) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    with running_server() as (url, _):
        http = [
            httpx.post(f"{url}/ask", json={"question": FIRST}, timeout=10).json(),
            httpx.post(f"{url}/ask", json={"question": FOLLOW_UP, "history": [FIRST]}, timeout=10).json(),
        ]
    repl = [json.loads(line) for line in chat.stdout.splitlines()]
    cli = [json.loads(single.stdout), json.loads(lines.stdout)]
    assert repl == cli == http
    assert http[0] == pipeline.ask(FIRST).to_dict()
