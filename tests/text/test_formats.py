"""Ingest: HTML main text and metadata, JSON Lines with bad lines, the source walker, duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS
from askidcpc.errors import CorpusError, DocumentError
from askidcpc.text.corpus import find_sources, ingest
from askidcpc.text.formats import parse_html, read_document, read_html, read_jsonl, read_source
from askidcpc.types import Document

ARTICLE = (
    "The council approved a budget of 4 million dollars on Tuesday, the largest increase in a decade.",
    "Residents welcomed the decision, said the mayor, who had campaigned for it since 2019.",
    "Work on the new river bridge is due to start in the spring and to take two years.",
)

PAGE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>Town Herald | Council backs bigger budget</title>
<meta property="og:title" content="Council backs bigger budget">
<meta property="og:site_name" content="Town Herald">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2021-03-04T10:00:00Z">
<link rel="canonical" href="https://herald.example/2021/03/budget">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li></ul></nav>
<article><h1>Council backs bigger budget</h1>
<p>{first}</p><p>{second}</p><p>{third}</p></article>
<aside class="share">Share this story on Facebook</aside>
<footer><p>Copyright 2021 Town Herald. All rights reserved. Subscribe to our newsletter.</p></footer>
</body></html>"""


def page(charset: str = "utf-8", first: str = ARTICLE[0]) -> str:
    return PAGE.format(charset=charset, first=first, second=ARTICLE[1], third=ARTICLE[2])


def test_html_main_text_and_metadata() -> None:
    document = parse_html("budget", page())
    assert document.text.split("\n") == list(ARTICLE)  # headline, menu, share line and footer left out
    assert (document.doc_id, document.title, document.date, document.author, document.source, document.url) == (
        "budget",
        "Council backs bigger budget",
        "2021-03-04",
        "Jane Doe",
        "Town Herald",
        "https://herald.example/2021/03/budget",
    )


def test_html_in_another_encoding_is_decoded(tmp_path: Path) -> None:
    first = "The café owner, Zoë Müller, said the council’s decision was “overdue” after years of debate."
    (tmp_path / "cafe.html").write_bytes(page("windows-1252", first).encode("cp1252"))
    assert read_html(tmp_path / "cafe.html").text.split("\n")[0] == first


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no article text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "no article text"),
    ],
)
def test_html_without_article_text_is_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "page.html").write_bytes(content)
    with pytest.raises(DocumentError, match=reason) as raised:
        read_html(tmp_path / "page.html")
    assert raised.value.path == tmp_path / "page.html"


GOOD = {"id": "a1", "text": "The harbour reopened on Friday.", "title": "Harbour", "date": "2024-05-01"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        (json.dumps({"text": "No id."}), "'id'"),
        (json.dumps({"id": "", "text": "Empty id."}), "'id'"),
        (json.dumps({"id": True, "text": "Boolean id."}), "'id'"),
        (json.dumps({"id": ["x"], "text": "List id."}), "'id'"),
        (json.dumps({"id": "b"}), "'text'"),
        (json.dumps({"id": "b", "text": "   "}), "'text'"),
        (json.dumps({"id": "b", "text": 5}), "'text'"),
        (json.dumps({"id": "b", "text": "Fine.", "title": {"x": 1}}), "'title' must be a string"),
    ],
)
def test_a_bad_jsonl_line_is_reported_with_its_number_and_the_rest_read(tmp_path: Path, line: str, reason: str) -> None:
    later = {"id": 7, "text": "A second good line.", "source": "Wire", "url": "https://x.example/7", "lang": "en"}
    (tmp_path / "feed.jsonl").write_text(f"{json.dumps(GOOD)}\n\n{line}\n{json.dumps(later)}\n", encoding="utf-8")
    items = list(read_jsonl(tmp_path / "feed.jsonl"))
    assert len(items) == 3
    good, bad, second = items
    assert good == Document("a1", "Harbour", GOOD["text"], date="2024-05-01")
    assert isinstance(bad, DocumentError) and bad.path.name == "feed.jsonl:3"
    assert reason in bad.reason
    assert second == Document("7", "7", later["text"], source="Wire", url="https://x.example/7")
    assert isinstance(second, Document) and dict(second.extra) == {"lang": "en"}


def test_jsonl_that_is_not_utf8_is_reported_at_the_bad_line(tmp_path: Path) -> None:
    (tmp_path / "feed.jsonl").write_bytes(json.dumps(GOOD).encode() + b'\n{"id": "x", "text": "caf\xe9"}\n')
    items = list(read_source(tmp_path / "feed.jsonl"))
    assert isinstance(items[0], Document)
    assert (
        isinstance(items[1], DocumentError) and "not UTF-8" in items[1].reason and items[1].path.name == "feed.jsonl:2"
    )


def test_markdown_and_text_are_read_as_the_corpus_loader_reads_them() -> None:
    for path in sorted(DEFAULT_CORPUS.glob("*.md")):
        assert list(read_source(path)) == [read_document(path)]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_ingest_a_mixed_folder(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    write(root / "a.md", "---\ntitle: A\ndate: 2020-01-02\n---\nThe railway line to the coast reopened.\n")
    write(root / "sub" / "b.txt", "The museum bought a painting.\n")
    write(root / "sub" / "c.html", page())
    write(root / "feed.jsonl", json.dumps(GOOD) + "\n" + json.dumps({"id": "dup", "text": GOOD["text"]}) + "\n")
    write(root / "copy-of-b.txt", "The museum bought a painting.\n")  # same text as b: indexed once
    write(root / "a.txt", "Another text whose doc_id 'a' is already taken.\n")
    write(root / "binary.txt", b"\x00\x01")
    write(root / "notes.pdf", "ignored: not an article type")
    write(root / ".hidden" / "secret.md", "Hidden folders are left out.\n")
    outside = write(tmp_path / "outside.md", "Outside the folder.\n")
    (root / "link.md").symlink_to(outside)
    seen: list[tuple[str, int]] = []
    result = ingest([root, tmp_path / "missing"], on_file=lambda path, total: seen.append((path.name, total)))
    assert [d.doc_id for d in result.documents] == ["a", "copy-of-b", "a1", "c"]
    assert [(d.doc_id, d.kept) for d in result.duplicates] == [("dup", "a1"), ("b", "copy-of-b")]
    reasons = {error.path.name: error.reason for error in result.skipped}
    assert set(reasons) == {"missing", "link.md", "a.txt", "binary.txt"}
    assert "not found" in reasons["missing"] and "outside" in reasons["link.md"]
    assert "already taken" in reasons["a.txt"] and "binary" in reasons["binary.txt"]
    assert result.files == len(seen) == 7 and {total for _, total in seen} == {7}


def test_an_explicit_file_of_an_unsupported_type_is_reported(tmp_path: Path) -> None:
    pdf = write(tmp_path / "report.pdf", "%PDF-1.4")
    files, problems = find_sources([pdf])
    assert files == [pdf] and not problems
    [error] = list(read_source(pdf))
    assert isinstance(error, DocumentError) and "unsupported file type .pdf" in error.reason


@pytest.mark.parametrize(
    "files",
    [{}, {"empty.txt": "   "}, {"bad.jsonl": "{oops\n"}, {"blank.html": "<html></html>"}],
)
def test_nothing_readable_is_an_error(tmp_path: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        write(tmp_path / name, content)
    with pytest.raises(CorpusError, match="no readable documents"):
        ingest([tmp_path])
