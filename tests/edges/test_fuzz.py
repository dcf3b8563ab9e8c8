"""schemathesis against the app's own OpenAPI schema, in-process (ASGI): every route, schema-valid and
schema-violating requests. Each response must be JSON, not a 5xx, match the schema for its status, accept what the
schema allows and reject what it does not. Bounded for CI (over 1,000 requests in all); `benchmarks/fuzz.py` runs
the same thing longer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.server import create_app
from askidcpc.pipeline import Pipeline

# Slow: thousands of generated requests (schemathesis).
pytestmark = pytest.mark.slow

# Statuses that reject a schema-violating request: 413 for a body over the cap is one as much as 422 is.
REJECTIONS = ["400", "404", "405", "413", "422"]

# (operation, generation modes, requests per mode). A route without parameters has a single possible request, and a
# free-form path parameter cannot be made schema-violating, so those get no negative mode.
PLAN: list[tuple[str, tuple[GenerationMode, ...], int]] = [
    ("POST /ask", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), 300),
    ("GET /search", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), 150),
    ("GET /health", (GenerationMode.POSITIVE,), 1),
    ("GET /examples", (GenerationMode.POSITIVE,), 1),
    ("GET /documents", (GenerationMode.POSITIVE,), 1),
    ("GET /documents/{doc_id}", (GenerationMode.POSITIVE,), 150),
    ("GET /documents/{doc_id}/context", (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), 150),
]
MIN_TOTAL = 1000
FILTERS = ("doc_id", "source", "since", "until")

SECRETS = ("Traceback", 'File "', str(DEFAULT_CORPUS.parent), "/site-packages/")


def schema_for(pipeline: Pipeline, **app_options: Any) -> Any:
    app = create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline, **app_options)
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture(scope="module")
def schema(pipeline: Pipeline) -> Any:
    return schema_for(pipeline)


def operations(schema: Any) -> dict[str, Any]:
    return {operation.label: operation for operation in (result.ok() for result in schema.get_all_operations())}


def check_response(case: Any, response: Any, filtered: bool = False) -> None:
    """schemathesis's checks (all of them), plus: JSON, never a 5xx, nothing internal in the body. ``filtered``: the
    request carries a filter, which a schema cannot fully describe (it may name no document, or a day that does not
    exist, such as 2016-02-30): its 422 is not a valid request rejected."""
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    assert response.headers["content-type"] == ["application/json"], response.headers  # schemathesis: a list
    for secret in SECRETS:
        assert secret not in response.text, (secret, response.text[:300])
    if filtered and response.status_code == 422:
        case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance])
    else:
        case.validate_response(response)


def real_targets(pipeline: Pipeline) -> st.SearchStrategy[tuple[str, int, int]]:
    # Random doc_ids are nearly always 404; half the generated document requests use a real document and sentence.
    return st.sampled_from([(p.doc_id, p.start, p.end) for p in pipeline.passages])


def test_the_plan_covers_every_route(schema: Any) -> None:
    assert set(operations(schema)) == {label for label, _, _ in PLAN}
    assert sum(count * len(modes) for _, modes, count in PLAN) >= MIN_TOTAL


def _plan() -> Iterator[Any]:
    for label, modes, count in PLAN:
        for mode in modes:
            yield pytest.param(label, mode, count, id=f"{label}-{mode.value}")


@pytest.mark.parametrize(("label", "mode", "count"), list(_plan()))
def test_generated_requests_conform(
    schema: Any, pipeline: Pipeline, label: str, mode: GenerationMode, count: int
) -> None:
    operation = operations(schema)[label]
    statuses: Counter[int] = Counter()
    filtered_rejections = 0
    targets = real_targets(pipeline)

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE and "doc_id" in case.path_parameters and data.draw(st.booleans()):
            doc_id, start, end = data.draw(targets)
            case.path_parameters["doc_id"] = doc_id
            if case.query is not None and "start" in case.query:
                case.query.update(start=start, end=end)
        response = case.call()
        statuses[response.status_code] += 1
        given = {**(case.body if isinstance(case.body, dict) else {}), **(case.query or {})}
        filtered = any(given.get(name) for name in FILTERS)
        if response.status_code == 422 and filtered:
            nonlocal filtered_rejections
            filtered_rejections += 1
        check_response(case, response, filtered and mode is GenerationMode.POSITIVE)

    run()
    assert sum(statuses.values()) >= count, statuses  # the whole quota was sent
    if mode is GenerationMode.NEGATIVE and label == "GET /search":
        # Unknown query parameters are ignored (as HTTP servers do) and a query string cannot carry an object, so some
        # "schema-violating" cases reach the route as valid requests; schemathesis's own check judged each above.
        assert 422 in statuses and set(statuses) <= {200, *(int(status) for status in REJECTIONS)}, statuses
    elif mode is GenerationMode.NEGATIVE:
        assert set(statuses) <= {int(status) for status in REJECTIONS}, statuses
    elif label in ("POST /ask", "GET /search"):
        # A schema-valid filter may still name no document or no real day (2016-02-30): a 422 saying so.
        assert 200 in statuses and set(statuses) <= {200, 422}, statuses
        assert filtered_rejections == statuses[422], (filtered_rejections, statuses)
    elif label in ("GET /health", "GET /documents"):
        assert set(statuses) == {200}, statuses
    else:
        assert 200 in statuses and set(statuses) <= {200, 404}, statuses
