"""Hostile input at the command line's edges, property-tested: corpus files for ``askidcpc index`` (invalid UTF-8
mid-file, a huge single line, script-only or deeply nested HTML, bad .jsonl lines, a BOM and CRLF) and JSON Lines on
``askidcpc ask --json -``. Never a traceback; a bad file is reported and skipped while the good ones are indexed; a bad
line gets ``{"error": ...}`` on its own line and the rest still answer."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askidcpc.edges.cli import ask_json_lines, main
from askidcpc.index import store
from askidcpc.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "alpha.md": b"---\ntitle: Alpha\ndate: 2020-01-02\n---\nThe harbour council met on Monday. The mayor spoke.\n",
    "beta.txt": b"Beta\n\nThe railway opened in 1901. It runs to the coast.\n",
}

# Files each of which may be indexed or skipped, but never stops the run; (suffix, content).
HOSTILE_FILES = st.one_of(
    st.tuples(st.sampled_from([".md", ".txt"]), st.binary(max_size=300)),
    st.tuples(
        st.sampled_from([".md", ".txt", ".html"]),
        st.builds(lambda a, b: a + b"\xff\xfe\xc3" + b, st.binary(max_size=100), st.binary(max_size=100)),
    ),
    st.tuples(st.just(".txt"), st.integers(1, 3_000_000).map(lambda n: b"Long line " + b"word " * (n // 5))),
    st.tuples(
        st.sampled_from([".html", ".htm"]),
        st.sampled_from(
            [
                b"<html><script>alert(1)</script></html>",
                b"<script>" + b"x" * 10_000 + b"</script>",
                b"<div>" * 5000 + b"Deep text here. And more." + b"</div>" * 5000,
                b"<html><body></body></html>",
                b"",
                b"\xef\xbb\xbf<html><body><p>BOM and CRLF.\r\nA sentence here.</p></body></html>\r\n",
                b"<html><body><p>Broken <b>tags <i>everywhere</p></div>",
            ]
        ),
    ),
    st.tuples(
        st.just(".jsonl"),
        st.lists(
            st.one_of(
                st.sampled_from(
                    [
                        b'{"doc_id": "j1", "title": "T", "text": "A fine sentence."}',
                        b'{"doc_id": 5, "title": ["x"], "text": 7}',
                        b'{"title": "T"',
                        b"[1, 2, 3]",
                        b'"just a string"',
                        b"\xff\xfe\x00",
                        b'{"text": "\\ud800 lone"}',
                        b'\xef\xbb\xbf{"doc_id": "bom", "text": "With a BOM."}\r',
                    ]
                ),
                st.binary(max_size=80),
            ),
            max_size=6,
        ).map(lambda lines: b"\n".join(lines)),
    ),
    st.tuples(
        st.sampled_from([".md", ".txt"]),
        st.text(max_size=200).map(lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8", "replace")),
    ),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(HOSTILE_FILES, min_size=1, max_size=3))
def test_hostile_corpus_files_are_skipped_or_indexed_and_the_good_ones_indexed(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], files: list[tuple[str, bytes]]
) -> None:
    folder = tmp_path_factory.mktemp("articles")
    for name, content in GOOD.items():
        (folder / name).write_bytes(content)
    names = []
    for number, (suffix, content) in enumerate(files):
        names.append(f"hostile-{number}{suffix}")
        (folder / names[-1]).write_bytes(content)
    out = folder.parent / f"{folder.name}-index"
    assert main(["index", str(folder), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    indexed = {document.doc_id for document in store.load_index(out).documents}
    assert {"alpha", "beta"} <= indexed
    for name, (suffix, content) in zip(names, files, strict=True):  # each hostile file is indexed or reported
        used = any(doc_id == Path(name).stem or doc_id.startswith(("j1", "bom")) for doc_id in indexed)
        # Left alone (text/formats.py is not this test's): a .jsonl with no line that is not blank is skipped silently.
        silent = suffix == ".jsonl" and not content.strip()
        assert used or silent or name in captured.out, (name, captured.out)


LINES = st.one_of(
    st.text(max_size=120),
    st.text(max_size=40).map(lambda text: json.dumps({"question": text})),
    st.sampled_from(
        [
            '{"question": "\\ud800"}',
            '{"question": "ok?", "history": ["\\udfff"]}',
            '{"question": "a\\u0000b"}',
            '\ufeff{"question": "With a BOM?"}',
            '{"question": "CRLF?"}\r',
            '{"question": "' + "long " * 1000 + '"}',
            '{"question": 3}',
            '{"question": "ok?", "top_k": "3"}',
            '{"question": "ok?", "top_k": 1e999}',
            '{"question": "ok?", "history": "earlier"}',
            '{"question": "ok?", "history": [1, 2]}',
            '{"question": "ok?", "extra": true}',
            "null",
            "[]",
            "{}",
            '{"question": "Who heads the department?", "question": 1}',
        ]
    ),
)


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(LINES, min_size=1, max_size=6))
def test_every_json_line_gets_one_answer_or_error_line(pipeline: Pipeline, lines: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ") for line in lines) + "\n"
    out = io.StringIO()
    # Read as sys.stdin reads text: universal newlines (\r\n and \r become \n), and lines end at \n only.
    assert ask_json_lines(pipeline, io.StringIO(text, newline=None), out, 3) == 0
    asked = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    answered = out.getvalue().split("\n")[:-1]  # JSON Lines end at \n only (U+0085, U+2028 may be inside a string)
    assert len(answered) == len(asked)
    for line in answered:
        result = json.loads(line)
        assert ("error" in result and isinstance(result["error"], str)) or {"answer", "citations"} <= set(result)


@pytest.mark.slow
def test_json_lines_with_undecodable_bytes_on_stdin_answer_every_line() -> None:
    stdin = b"\xff\xfe{}\n" + b'{"question": "Who heads the department?"}\n' + b"\xc3(\n" + b'{"question": "\\ud800"}\n'
    done = subprocess.run(
        [sys.executable, "-m", "askidcpc", "ask", "--json", "-"],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    results = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert ["error" in result for result in results] == [True, False, True, True]


# JSON nested deeper than Python's json reads (RecursionError) is an error line / a skipped, listed line, never a
# traceback that ends the whole run.
DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_json_line_gets_an_error_line(pipeline: Pipeline) -> None:
    out = io.StringIO()
    ask_json_lines(pipeline, io.StringIO(DEEP + '\n{"question": "ok?"}\n'), out, 3)
    assert [("error" in json.loads(line)) for line in out.getvalue().splitlines()] == [True, False]


def test_a_deeply_nested_jsonl_line_is_skipped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "deep.jsonl").write_text(DEEP + '\n{"id": "ok", "text": "A good sentence."}\n', encoding="utf-8")
    assert main(["index", str(tmp_path), "--out", str(tmp_path / "index")]) == 0
    assert "deep.jsonl:1" in capsys.readouterr().out
