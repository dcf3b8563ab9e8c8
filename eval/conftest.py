"""``pytest eval``: run the question sets once per session and print their tables at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate

from askidcpc.config import Settings
from askidcpc.pipeline import Pipeline

Measured = tuple[list[evaluate.Result], dict[str, dict[str, float]]]

_REPORTS_KEY = pytest.StashKey[dict[str, str]]()


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return Pipeline.load(Settings())


def _measure(request: pytest.FixtureRequest, pipeline: Pipeline, path: Path) -> Measured:
    results = evaluate.run(pipeline, evaluate.load_cases(path))
    table = evaluate.summarize(results)
    request.config.stash.setdefault(_REPORTS_KEY, {})[path.name] = evaluate.render(table, results)
    return results, table


@pytest.fixture(scope="session")
def eval_results(request: pytest.FixtureRequest, pipeline: Pipeline) -> Measured:
    return _measure(request, pipeline, evaluate.QUESTIONS)


@pytest.fixture(scope="session")
def heldout_results(request: pytest.FixtureRequest, pipeline: Pipeline) -> Measured:
    return _measure(request, pipeline, evaluate.HELDOUT)


def pytest_sessionfinish(session: pytest.Session) -> None:
    reports = session.config.stash.get(_REPORTS_KEY, {})
    if reports:
        evaluate.REPORT.write_text(
            "\n".join(f"# {name}\n\n{report}" for name, report in sorted(reports.items(), reverse=True)),
            encoding="utf-8",
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reports = config.stash.get(_REPORTS_KEY, {})
    for name, report in sorted(reports.items(), reverse=True):
        terminalreporter.section(f"askidcpc answer accuracy on eval/{name} (full report in eval/report.md)")
        table, _, failures = report.partition("\nFailures")
        terminalreporter.write_line(table.rstrip())
        misses = [line for line in failures.strip().splitlines()[1:] if line.strip()]
        terminalreporter.write_line(f"\n{len(misses)} misses listed in eval/report.md")
