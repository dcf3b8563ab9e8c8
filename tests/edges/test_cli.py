"""The command line (edges.cli): `askidcpc index` builds, adds to and removes from a saved index that `ask` and the
HTTP app then serve; `serve` defaults to loopback and takes CORS origins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges import server as server_module
from askidcpc.edges.cli import build_parser, main
from askidcpc.index import store
from askidcpc.pipeline import Pipeline
from askidcpc.text.corpus import load_corpus
from tests.conftest import QUESTIONS, answers
from tests.edges.conftest import ORIGIN


def write_sources(folder: Path) -> Path:
    folder.mkdir()
    for document in load_corpus(DEFAULT_CORPUS).documents:
        (folder / f"{document.doc_id}.md").write_text(
            (DEFAULT_CORPUS / f"{document.doc_id}.md").read_text(encoding="utf-8"), encoding="utf-8"
        )
    (folder / "copy.md").write_text((DEFAULT_CORPUS / "2007-cpc-party-diplomacy.md").read_text("utf-8"), "utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02")
    return folder


def test_cli_index_then_ask_equals_asking_the_folder(
    tmp_path: Path, bundled: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_sources(tmp_path / "articles")
    assert main(["index", str(sources), "--out", str(tmp_path / "index")]) == 0
    summary = capsys.readouterr().out
    assert "Indexed 2 documents" in summary and f"{len(bundled.passages)} passages" in summary
    assert "copy.md (copy): same text as 2007-cpc-party-diplomacy" in summary
    assert "binary.txt: looks like a binary file" in summary
    for question in QUESTIONS[:3]:
        assert main(["ask", "--json", "--corpus", str(tmp_path / "index"), question]) == 0
        assert json.loads(capsys.readouterr().out) == bundled.ask(question).to_dict()


def test_cli_add_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = write_sources(tmp_path / "articles")
    index = str(tmp_path / "index")
    assert main(["index", str(sources), "--out", index]) == 0
    (tmp_path / "new.jsonl").write_text(
        json.dumps({"id": "bridge", "text": "The mayor opened a bridge over the river on Monday."}) + "\n", "utf-8"
    )
    assert main(["index", "--add", str(tmp_path / "new.jsonl"), "--to", index]) == 0
    assert "Added 1 documents" in capsys.readouterr().out
    assert main(["ask", "--json", "--corpus", index, "Who opened the bridge over the river?"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"][0]["doc_id"] == "bridge"
    assert main(["index", "--remove", "bridge", "--from", index]) == 0
    assert "Removed 1 documents" in capsys.readouterr().out
    assert "bridge" not in store.load_index(Path(index)).documents.by_id
    assert main(["index", "--remove", "bridge", "--from", index]) == 1


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["index"], 2),
        (["index", "somewhere"], 2),
        (["index", "--out", "x"], 2),
        (["index", "--add", "a.md"], 2),
        (["index", "--remove", "a"], 2),
        (["index", "a", "--out", "x", "--add", "b", "--to", "y"], 2),
        (["index", "missing-folder", "--out", "INDEX"], 1),
    ],
)
def test_cli_index_usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], status: int) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == status
    assert not (tmp_path / "INDEX").exists()


def test_cli_nothing_indexable_keeps_the_old_index(saved: Path, tmp_path: Path) -> None:
    before = answers(saved)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "empty.txt").write_text("   ", encoding="utf-8")
    assert main(["index", str(tmp_path / "bad"), "--out", str(saved)]) == 1
    assert answers(saved) == before


def test_askidcpc_corpus_env_and_http_serve_a_saved_index(
    saved: Path, bundled: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastapi.testclient import TestClient

    from askidcpc.edges.server import create_app

    monkeypatch.setenv("ASKIDCPC_CORPUS", str(saved))
    assert main(["ask", "--json", QUESTIONS[1]]) == 0
    assert json.loads(capsys.readouterr().out) == bundled.ask(QUESTIONS[1]).to_dict()
    with TestClient(create_app(Settings(corpus=saved))) as client:
        health = client.get("/health").json()
        assert (health["documents"], health["passages"]) == (len(bundled.documents), len(bundled.passages))
        assert client.post("/ask", json={"question": QUESTIONS[2]}).json() == bundled.ask(QUESTIONS[2]).to_dict()
        for document in bundled.documents:
            served = client.get(f"/documents/{document.doc_id}").json()
            assert served["text"] == document.text and served["title"] == document.title
        assert client.get("/documents/nope").status_code == 404


def test_serve_defaults_to_loopback() -> None:
    parser, _ = build_parser()
    assert parser.parse_args(["serve"]).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ()),
        (["--cors-origin", ORIGIN], (ORIGIN,)),
        (["--cors-origin", ORIGIN, "--cors-origin", "*"], (ORIGIN, "*")),
    ],
)
def test_serve_cors_origin_option(monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: tuple[str, ...]) -> None:
    seen: list[Settings] = []
    monkeypatch.delenv("ASKIDCPC_CORS_ORIGINS", raising=False)
    monkeypatch.setattr(server_module, "serve", lambda settings, **options: seen.append(settings) or 0)
    assert main(["serve", *argv]) == 0
    assert seen[0].cors_origins == expected
