"""``pytest eval``: run the question set once per session and print its table at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate

_REPORT_KEY = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def eval_results(request: pytest.FixtureRequest) -> tuple[list[evaluate.Result], dict[str, dict[str, float]]]:
    from askidcpc.config import Settings
    from askidcpc.pipeline import Pipeline

    pipeline = Pipeline.load(Settings())
    results = evaluate.run(pipeline, evaluate.load_cases())
    table = evaluate.summarize(results)
    report = evaluate.render(table, results)
    evaluate.REPORT.write_text(report, encoding="utf-8")
    request.config.stash[_REPORT_KEY] = report
    return results, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT_KEY, None)
    if report:
        terminalreporter.section("askidcpc answer accuracy (eval/questions.yaml; full report in eval/report.md)")
        table, _, failures = report.partition("\nFailures")
        terminalreporter.write_line(table.rstrip())
        misses = failures.strip().splitlines()[1:]
        terminalreporter.write_line(f"\n{len([m for m in misses if m.strip()])} misses listed in eval/report.md")
