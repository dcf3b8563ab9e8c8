"""The answer cache of ``POST /ask``: a repeated request gets the very bytes of its first answer without running
``ask()`` again; any request ``ask()`` could answer differently misses; it is bounded, off at size 0, and a reload
starts an empty one."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.server import create_app
from askidcpc.edges.server.cache import MAX_ANSWER_BYTES, AnswerCache, answer_key
from askidcpc.errors import AskError
from askidcpc.index import store
from askidcpc.pipeline import Pipeline
from askidcpc.types import Answer, Filter
from tests.index.test_store import random_documents

QUESTION = "When was the International Department founded?"


class CountingPipeline:
    """The real pipeline, counting the calls of ``ask``."""

    def __init__(self, real: Pipeline) -> None:
        self.real = real
        self.asked = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def ask(self, question: str, top_k: int | None = None, history: Sequence[str] = (), **kwargs: Any) -> Answer:
        with self._lock:
            self.asked += 1
        return self.real.ask(question, top_k=top_k, history=history, **kwargs)


@contextmanager
def counting_client(pipeline: Pipeline, size: int = 1024) -> Iterator[tuple[TestClient, CountingPipeline]]:
    counting = CountingPipeline(pipeline)
    settings = Settings(corpus=DEFAULT_CORPUS, answer_cache=size)
    with TestClient(create_app(settings, pipeline=counting)) as client:  # type: ignore[arg-type]
        yield client, counting


# ---- the cache itself ----


@pytest.mark.parametrize(("size", "added", "kept"), [(0, 3, 0), (1, 3, 1), (3, 2, 2), (3, 5, 3)])
def test_the_cache_keeps_at_most_its_size(size: int, added: int, kept: int) -> None:
    cache = AnswerCache(size)
    for number in range(added):
        cache.put(number, b"%d" % number)
    assert len(cache) == kept
    # The most recent ones are those kept.
    assert [cache.get(number) for number in range(added)] == [None] * (added - kept) + [
        b"%d" % number for number in range(added - kept, added)
    ]


def test_the_least_recently_used_answer_is_dropped_first() -> None:
    cache = AnswerCache(2)
    cache.put("a", b"A")
    cache.put("b", b"B")
    assert cache.get("a") == b"A"  # now "b" is the least recently used
    cache.put("c", b"C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"A", None, b"C")
    assert (cache.hits, cache.misses) == (3, 1)


@pytest.mark.parametrize(("length", "kept"), [(MAX_ANSWER_BYTES, True), (MAX_ANSWER_BYTES + 1, False)])
def test_an_answer_over_the_byte_limit_is_not_kept(length: int, kept: bool) -> None:
    cache = AnswerCache(4)
    cache.put("long", b"x" * length)
    assert (cache.get("long") is not None) is kept


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        AnswerCache(-1)


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        (Filter.build(sources="China Daily"), Filter.build(sources="CHINA DAILY"), True),
        (Filter.build(doc_ids=["a", "b"]), Filter.build(doc_ids=["b", "a"]), True),
        (Filter.build(since="2016"), Filter.build(since=" 2016 "), True),
        (Filter.build(since="2016"), Filter.build(since="2016-01"), False),
        (Filter(), Filter.build(sources="China Daily"), False),
    ],
)
def test_the_key_is_the_built_filter(one: Filter, other: Filter, same: bool) -> None:
    assert (answer_key(QUESTION, 3, [], one) == answer_key(QUESTION, 3, [], other)) is same


# ---- POST /ask with the cache ----


def test_a_repeat_gets_the_same_bytes_without_asking_again(pipeline: Pipeline) -> None:
    oracle = JSONResponse(pipeline.ask(QUESTION).to_dict())  # how the server rendered every answer before the cache
    with counting_client(pipeline) as (client, counting):
        first = client.post("/ask", json={"question": QUESTION})
        repeats = [client.post("/ask", json={"question": QUESTION}) for _ in range(3)]
    assert counting.asked == 1
    assert first.status_code == 200 and first.content == oracle.body
    for repeat in repeats:
        assert repeat.status_code == 200
        assert repeat.content == first.content
        assert repeat.headers["content-type"] == first.headers["content-type"] == oracle.media_type
        assert repeat.headers["content-length"] == first.headers["content-length"]


@pytest.mark.parametrize(
    ("variant", "hits"),
    [
        ({"question": f"  {QUESTION}\n"}, True),  # trimmed, as the answer object says
        ({"question": QUESTION, "top_k": 3}, True),  # the default, given
        ({"question": QUESTION, "top_k": 3.0}, True),
        ({"question": QUESTION, "history": []}, True),
        ({"question": QUESTION, "source": "china daily"}, False),  # a filter (this one then hits as any case)
        ({"question": QUESTION.lower()}, False),
        ({"question": QUESTION, "top_k": 4}, False),
        ({"question": QUESTION, "history": ["Who heads the CPC International Department?"]}, False),
        ({"question": QUESTION, "doc_id": "2016-06-26-cpc-diplomatic-arm"}, False),
        ({"question": QUESTION, "since": "2016"}, False),
        ({"question": QUESTION, "until": "2016-12"}, False),
    ],
)
def test_only_a_request_asked_alike_hits(pipeline: Pipeline, variant: dict[str, Any], hits: bool) -> None:
    with counting_client(pipeline) as (client, counting):
        plain = client.post("/ask", json={"question": QUESTION})
        response = client.post("/ask", json=variant)
        again = client.post("/ask", json=variant)
    assert plain.status_code == response.status_code == again.status_code == 200
    assert counting.asked == (1 if hits else 2)  # the variant's repeat is always a hit
    assert again.content == response.content
    uncached = JSONResponse(pipeline.ask(**_call(variant)).to_dict()).body
    assert response.content == uncached


def _call(body: dict[str, Any]) -> dict[str, Any]:
    where = Filter.build(body.get("doc_id"), body.get("source"), body.get("since"), body.get("until"))
    return {
        "question": body["question"],
        "top_k": int(body.get("top_k", 3)),
        "history": body.get("history", ()),
        "filter": where if where.active else None,
    }


def test_size_zero_asks_every_time(pipeline: Pipeline) -> None:
    with counting_client(pipeline, size=0) as (client, counting):
        answers = [client.post("/ask", json={"question": QUESTION}).content for _ in range(3)]
    assert counting.asked == 3
    assert answers == [JSONResponse(pipeline.ask(QUESTION).to_dict()).body] * 3


def test_the_cache_is_bounded(pipeline: Pipeline) -> None:
    questions = ["Who is Song Tao?", "When was the International Department founded?", "Where is Beijing?"]
    with counting_client(pipeline, size=2) as (client, counting):
        for question in questions:
            assert client.post("/ask", json={"question": question}).status_code == 200
        assert counting.asked == 3
        client.post("/ask", json={"question": questions[-1]})  # kept
        assert counting.asked == 3
        client.post("/ask", json={"question": questions[0]})  # dropped, the least recently used
        assert counting.asked == 4


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": QUESTION, "doc_id": "no-such-document"}, 422),  # a filter that lets nothing through
        ({"question": QUESTION, "top_k": 0}, 422),
        ({"question": "   "}, 422),
    ],
)
def test_errors_are_not_kept(pipeline: Pipeline, body: dict[str, Any], status: int) -> None:
    with counting_client(pipeline) as (client, _):
        first, second = (client.post("/ask", json=body) for _ in range(2))
    assert first.status_code == second.status_code == status
    assert first.content == second.content


def test_a_reload_empties_the_cache(tmp_path: Path) -> None:
    index = tmp_path / "index"
    store.build_saved_index(index, random_documents(50, 40, prefix="old"))
    app = create_app(Settings(corpus=index))
    question = {"question": "river bridge council", "top_k": 5}
    with TestClient(app) as client:
        before = client.post("/ask", json=question)
        assert client.post("/ask", json=question).content == before.content
        store.build_saved_index(index, random_documents(51, 25, prefix="new"))
        assert client.post("/ask", json=question).content == before.content  # not reloaded yet: the old index
        assert client.portal.call(app.state.reload) is True  # type: ignore[union-attr]
        after = client.post("/ask", json=question)
    cited = [citation["doc_id"] for citation in before.json()["citations"]]
    cited_after = [citation["doc_id"] for citation in after.json()["citations"]]
    assert cited and all(doc_id.startswith("old-") for doc_id in cited)
    assert cited_after and all(doc_id.startswith("new-") for doc_id in cited_after)
    assert after.content == JSONResponse(Pipeline.load(Settings(corpus=index)).ask(**question).to_dict()).body


@pytest.mark.parametrize(("value", "size"), [("0", 0), ("64", 64), (" 2048 ", 2048), ("", 1024)])
def test_the_size_comes_from_the_environment(value: str, size: int) -> None:
    assert Settings.from_env({"ASKIDCPC_ANSWER_CACHE": value}).answer_cache == size


@pytest.mark.parametrize("value", ["-1", "1e3", "lots", "²"])
def test_a_bad_size_in_the_environment_is_one_clear_error(value: str) -> None:
    with pytest.raises(AskError, match="ASKIDCPC_ANSWER_CACHE must be a whole number"):
        Settings.from_env({"ASKIDCPC_ANSWER_CACHE": value})
