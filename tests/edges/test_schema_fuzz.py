"""schemathesis in the fast loop: every operation the OpenAPI schema lists (found from the schema, so a new route is
fuzzed without editing this file), a few dozen generated requests each, in-process (ASGI) over the bundled corpus.
Schema-valid requests must be answered (200, or 404 for a document that does not exist, or 422 from a filter that
names no document or no real day, which a schema cannot describe), schema-violating ones rejected with a documented
4xx; every response must match the schema for its status. `test_fuzz.py` (slow) sends over 1,000 requests with more
checks; `benchmarks/fuzz.py` runs longer still."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.server import create_app
from askidcpc.pipeline import Pipeline

EXAMPLES = 30  # per operation and mode: about 200 requests, 3-6 s in all
ACCEPTED = ["200", "404"]  # a schema-valid request: answered, or a document id the corpus does not have
REJECTED = ["404", "413", "422"]  # a schema-violating one (413: a body over the size cap)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODE_CHECKS = {GenerationMode.POSITIVE: positive_data_acceptance, GenerationMode.NEGATIVE: negative_data_rejection}
FILTERS = ("doc_id", "source", "since", "until")  # the filter fields of POST /ask's body and GET /search's query

# The schema alone (no corpus is loaded until the lifespan runs), to list the operations at collection time.
SPEC: dict[str, Any] = create_app(Settings(corpus=DEFAULT_CORPUS)).openapi()


def _can_violate(operation: dict[str, Any]) -> bool:
    # A schema-violating request needs something with a constraint to break: a body, or a typed query parameter.
    # A free-form string in the path (doc_id) takes any value, and an operation with no input has one request.
    return "requestBody" in operation or any(param["in"] == "query" for param in operation.get("parameters", []))


def _plan() -> Iterator[Any]:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            yield pytest.param(label, GenerationMode.POSITIVE, id=f"{label}-positive")
            if _can_violate(operation):
                yield pytest.param(label, GenerationMode.NEGATIVE, id=f"{label}-negative")


@pytest.fixture(scope="module")
def schema(pipeline: Pipeline) -> Any:
    app = create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline)
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                "negative_data_rejection": {"expected-statuses": REJECTED},
            }
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


def test_the_plan_covers_the_contract() -> None:
    planned = {(param.values[0], param.values[1]) for param in _plan()}
    contract = {"POST /ask", "GET /health", "GET /documents", "GET /documents/{doc_id}"}
    assert {(label, GenerationMode.POSITIVE) for label in contract} <= planned
    assert ("POST /ask", GenerationMode.NEGATIVE) in planned
    assert ("GET /documents/{doc_id}", GenerationMode.NEGATIVE) not in planned  # a free-form id cannot be invalid


@pytest.mark.parametrize(("label", "mode"), list(_plan()))
def test_generated_requests_conform(schema: Any, pipeline: Pipeline, label: str, mode: GenerationMode) -> None:
    operation = next(op for op in (result.ok() for result in schema.get_all_operations()) if op.label == label)
    # Random doc_ids are nearly always 404; half the schema-valid requests name a real document and sentence, so
    # the 200 answers are generated and checked too.
    targets = st.sampled_from([(p.doc_id, p.start, p.end) for p in pipeline.passages])
    statuses: Counter[int] = Counter()
    filtered_rejections = 0

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        nonlocal filtered_rejections
        if mode is GenerationMode.POSITIVE and "doc_id" in (case.path_parameters or {}) and data.draw(st.booleans()):
            doc_id, start, end = data.draw(targets)
            case.path_parameters["doc_id"] = doc_id
            if case.query is not None and "start" in case.query:
                case.query.update(start=start, end=end)
        if mode is GenerationMode.POSITIVE and data.draw(st.booleans()):
            # Random filter values nearly always name no document (a 422): half the schema-valid requests drop them.
            for given in (case.body if isinstance(case.body, dict) else {}, case.query or {}):
                for name in FILTERS:
                    given.pop(name, None)
        response = case.call()
        statuses[response.status_code] += 1
        checks = [*CHECKS, MODE_CHECKS[mode]]
        given = {**(case.body if isinstance(case.body, dict) else {}), **(case.query or {})}
        if mode is GenerationMode.POSITIVE and response.status_code == 422 and any(given.get(f) for f in FILTERS):
            # A schema-valid filter may name no document or source, or no real day (2016-02-30): a 422 saying so.
            filtered_rejections += 1
            checks.remove(positive_data_acceptance)
        case.validate_response(response, checks=checks)

    run()
    if mode is GenerationMode.NEGATIVE:
        # A body is checked whole; a query string is not (an unknown parameter is ignored, and it cannot carry an
        # object), so a "schema-violating" query can be a valid request: negative_data_rejection judged each case.
        answered = set() if "requestBody" in _operation(label) else {200}
        assert sum(statuses.values()) >= EXAMPLES, statuses
        assert set(statuses) <= answered | {int(status) for status in REJECTED}, statuses
        assert sum(statuses[int(status)] for status in REJECTED) > sum(statuses.values()) / 2, statuses
    else:
        # An operation with no input has a single request; the others get the whole quota, and some answer 200.
        assert 200 in statuses and set(statuses) <= {200, 404, 422}, statuses
        assert statuses[422] == filtered_rejections, (filtered_rejections, statuses)
        assert sum(statuses.values()) >= (EXAMPLES if _has_input(label) else 1), statuses


def _operation(label: str) -> dict[str, Any]:
    method, path = label.split(" ", 1)
    operation: dict[str, Any] = SPEC["paths"][path][method.lower()]
    return operation


def _has_input(label: str) -> bool:
    operation = _operation(label)
    return "requestBody" in operation or bool(operation.get("parameters"))
