"""The long fuzz run: schemathesis against the app's OpenAPI schema, in-process (ASGI), like tests/test_fuzz.py but
with many more requests per route and a fresh random seed each run.

    python benchmarks/fuzz.py [--requests 3000] [--seed N] [--corpus PATH]

Every route, schema-valid (positive) and schema-violating (negative) requests. A failure is any response that is a
5xx, is not JSON, leaks a traceback or a local path, or fails one of schemathesis's checks (response schema, status
code, content type, positive data accepted, negative data rejected). Prints a JSON summary (requests sent, by route,
mode and status; failures) and exits 1 if anything failed. Bounded: --requests per route and mode.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.server import create_app
from askidcpc.pipeline import Pipeline

REJECTIONS = ["400", "404", "405", "413", "422"]
# Routes with no parameters have one possible request; a free-form path parameter cannot be made invalid.
SINGLE = {"GET /health", "GET /documents"}
NO_NEGATIVE = SINGLE | {"GET /documents/{doc_id}"}
SECRETS = ("Traceback", 'File "', str(DEFAULT_CORPUS.parent), "/site-packages/")


def _fuzz_one(
    operation: Any, mode: GenerationMode, requests: int, run_seed: int, targets: Any, sent: Counter[str]
) -> Any:
    """A hypothesis test sending ``requests`` generated requests for ``operation`` in ``mode``."""

    @seed(run_seed)
    @settings(
        max_examples=1 if operation.label in SINGLE else requests,
        deadline=None,
        database=None,
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
        sent[f"{operation.label} {mode.value} {response.status_code}"] += 1
        assert response.status_code < 500, response.text[:300]
        assert response.headers["content-type"] == ["application/json"], response.headers
        for secret in SECRETS:
            assert secret not in response.text, secret
        case.validate_response(response)

    return run


def fuzz(pipeline: Pipeline, requests: int, run_seed: int) -> dict[str, Any]:
    app = create_app(Settings(corpus=DEFAULT_CORPUS), pipeline=pipeline)
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    targets = st.sampled_from([(p.doc_id, p.start, p.end) for p in pipeline.passages])
    sent: Counter[str] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE] if operation.label in NO_NEGATIVE else list(GenerationMode)
        for mode in modes:
            run = _fuzz_one(operation, mode, requests, run_seed, targets, sent)
            try:
                run()
            except Exception as exc:  # report every operation's failure, not only the first
                failures.append(f"{operation.label} {mode.value}: {str(exc)[:2000]}")
    return {"requests": sum(sent.values()), "by_route_mode_status": dict(sorted(sent.items())), "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="generated requests per route and mode")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: a random one, printed)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    pipeline = Pipeline.load(Settings(corpus=args.corpus))
    started = time.perf_counter()
    summary = fuzz(pipeline, args.requests, run_seed)
    summary = {"seed": run_seed, "seconds": round(time.perf_counter() - started, 1), **summary}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
