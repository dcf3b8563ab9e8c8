"""Every way of building a pipeline gives the same answers: one set of defaults (askidcpc.config), one loader
(askidcpc.text.corpus) for every command and every format."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.cli import main
from askidcpc.index.store import build_saved_index
from askidcpc.pipeline import Pipeline
from askidcpc.text.corpus import load_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import evaluate

QUESTIONS = sorted({case.question for case in evaluate.load_cases()})


def from_folder(tmp_path: Path) -> Pipeline:
    return Pipeline.load(Settings(corpus=DEFAULT_CORPUS))


def from_documents(tmp_path: Path) -> Pipeline:
    return Pipeline.from_documents(load_corpus(DEFAULT_CORPUS).documents)


def from_saved_index(tmp_path: Path) -> Pipeline:
    build_saved_index(tmp_path / "index", load_corpus(DEFAULT_CORPUS).documents)
    return Pipeline.load(Settings(corpus=tmp_path / "index"))


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, object]]:
    pipeline = Pipeline.load(Settings())
    return {question: pipeline.ask(question).to_dict() for question in QUESTIONS}


@pytest.mark.parametrize("build", [from_folder, from_documents, from_saved_index])
def test_every_construction_path_gives_the_same_answers(
    build: Callable[[Path], Pipeline], reference: dict[str, dict[str, object]], tmp_path: Path
) -> None:
    pipeline = build(tmp_path)
    differing = [q for q in QUESTIONS if pipeline.ask(q).to_dict() != reference[q]]
    assert differing == []


FORMATS = {
    "zebra.md": "---\ntitle: Zebras\ndate: 2020-01-01\n---\nThe zebra herd crossed the Mara river at dawn.\n",
    "walrus.txt": "Walruses\n\nThe walrus colony rested on the Svalbard ice for nine days.\n",
    "falcon.jsonl": json.dumps(
        {"id": "falcon", "title": "Falcons", "text": "The falcon nested on the cathedral tower."}
    )
    + "\n",
    "heron.html": (
        "<html><head><title>Herons</title></head><body><article><h1>Herons</h1>"
        "<p>The grey heron fished patiently in the shallow canal behind the old mill every single morning.</p>"
        "<p>Birdwatchers counted eleven herons along the canal during the spring survey last year.</p>"
        "</article></body></html>"
    ),
}


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("Where did the zebra herd cross?", "zebra"),
        ("Where did the walrus colony rest?", "walrus"),
        ("Where did the falcon nest?", "falcon"),
        ("Where did the grey heron fish?", "heron"),
    ],
)
def test_ask_corpus_reads_every_format_in_one_folder(
    question: str, doc_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in FORMATS.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert main(["ask", "--corpus", str(tmp_path), "--json", question]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"][0]["doc_id"] == doc_id


@pytest.mark.parametrize(
    ("in_source_tree", "installed", "expected"),
    [(True, True, "source"), (True, False, "source"), (False, True, "installed"), (False, False, "source")],
)
def test_the_bundled_corpus_is_found_in_a_source_tree_or_where_pip_installs_it(
    in_source_tree: bool, installed: bool, expected: str, tmp_path: Path
) -> None:
    from askidcpc.config import bundled_corpus

    root, prefix = tmp_path / "project", tmp_path / "prefix"
    if in_source_tree:
        (root / "corpus").mkdir(parents=True)
    if installed:
        (prefix / "share" / "askidcpc" / "corpus").mkdir(parents=True)
    found = bundled_corpus(root, prefix)
    assert found == (root / "corpus" if expected == "source" else prefix / "share" / "askidcpc" / "corpus")
