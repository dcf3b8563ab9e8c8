"""Reading one file (text.formats): the raw seeds cleaned like the bundled articles, HTML main text and metadata, JSON
Lines with bad lines, the size limit, unsupported types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS
from askidcpc.errors import DocumentError
from askidcpc.text.corpus import find_sources
from askidcpc.text.formats import parse_html, parse_text, read_document, read_html, read_jsonl, read_source
from askidcpc.text.sentences import split_spans
from askidcpc.types import Document
from tests.conftest import DATA
from tests.text.conftest import ARTICLE, GOOD, page, write

SEED_2016 = DATA / "000_bb9a6ea2df670ab5.txt"
SEED_2007 = DATA / "002_e31773e76e17c56e.txt"
BOILERPLATE = (
    "Updated:",
    "By ZHANG YUNBI",
    "Print Mail",
    "[By ZOU HONG",
    "The International Department of Communist",
)


def seed_sentences(path: Path) -> list[str]:
    """Every sentence of a raw seed, boilerplate and photo caption lines left out."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path == SEED_2016:
        lines = lines[lines.index("Event highlights work of CPC diplomatic arm", 1) + 1 :]
    body = "\n".join(line for line in lines if not line.startswith(BOILERPLATE))
    return [body[start:end] for start, end in split_spans(body)]


@pytest.mark.parametrize(
    ("doc_id", "seed"),
    [("2016-06-26-cpc-diplomatic-arm", SEED_2016), ("2007-cpc-party-diplomacy", SEED_2007)],
)
def test_bundled_corpus_keeps_every_sentence_of_the_seed(doc_id: str, seed: Path) -> None:
    document = read_document(DEFAULT_CORPUS / f"{doc_id}.md")
    expected = seed_sentences(seed)
    got = [document.text[start:end] for start, end in split_spans(document.text)]
    assert got == expected
    assert len(got) >= 14


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Event highlights work of CPC diplomatic arm"),
        ("date", "2016-06-26"),
        ("author", "Zhang Yunbi"),
        ("source", "China Daily"),
    ],
)
def test_raw_seed_is_cleaned_like_the_bundled_article(field: str, value: str) -> None:
    raw = parse_text("seed", SEED_2016.read_text(encoding="utf-8"))
    bundled = read_document(DEFAULT_CORPUS / "2016-06-26-cpc-diplomatic-arm.md")
    assert getattr(raw, field) == value
    assert raw.text == bundled.text
    assert raw.extra["photo_caption"].startswith("The International Department of Communist Party")
    assert "分享" not in raw.text and "[By" not in raw.text


def test_raw_text_without_headline_uses_doc_id_as_title() -> None:
    raw = parse_text("seed-2007", SEED_2007.read_text(encoding="utf-8"))
    assert raw.title == "seed-2007"
    assert raw.text.startswith("The Foreign Ministry might be")


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


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 100)
    with pytest.raises(DocumentError, match="over the 100-byte limit"):
        read_document(big, max_bytes=100)


def test_an_explicit_file_of_an_unsupported_type_is_reported(tmp_path: Path) -> None:
    pdf = write(tmp_path / "report.pdf", "%PDF-1.4")
    files, problems = find_sources([pdf])
    assert files == [pdf] and not problems
    [error] = list(read_source(pdf))
    assert isinstance(error, DocumentError) and "unsupported file type .pdf" in error.reason
