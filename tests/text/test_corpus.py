from __future__ import annotations

import os
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS
from askidcpc.errors import CorpusError, DocumentError
from askidcpc.text.corpus import load_corpus
from askidcpc.text.formats import parse_text, read_document
from askidcpc.text.sentences import split_spans
from tests.conftest import DATA

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


def test_bundled_corpus_metadata() -> None:
    documents = {d.doc_id: d for d in load_corpus(DEFAULT_CORPUS).documents}
    assert documents["2007-cpc-party-diplomacy"].date == "2007"
    assert documents["2016-06-26-cpc-diplomatic-arm"].date == "2016-06-26"
    assert all(d.source == "China Daily" for d in documents.values())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", "caf\xe9 society.".encode("latin-1"), "not UTF-8"),
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("empty.md", b"---\ntitle: Empty\n---\n\n", "no article text"),
        ("blank.txt", b"   \n\n", "no article text"),
        ("badyaml.md", b"---\ntitle: [unclosed\n---\nBody text.\n", "front matter"),
        ("listyaml.md", b"---\n- a\n- b\n---\nBody text.\n", "mapping"),
        ("unclosed.md", b"---\ntitle: x\nBody text.\n", "never closed"),
    ],
)
def test_bad_file_is_reported_and_skipped(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / "good.md").write_text("---\ntitle: Good\ndate: 2020-01-02\n---\nA good sentence.\n")
    (tmp_path / name).write_bytes(content)
    result = load_corpus(tmp_path)
    assert [d.doc_id for d in result.documents] == ["good"]
    assert result.documents[0].date == "2020-01-02"
    assert len(result.skipped) == 1
    assert result.skipped[0].path.name == name and message in str(result.skipped[0])
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path / name)


@pytest.mark.parametrize("setup", ["missing", "empty", "only-other-suffixes"])
def test_unusable_corpus_raises_corpus_error(tmp_path: Path, setup: str) -> None:
    root = tmp_path / "corpus"
    if setup != "missing":
        root.mkdir()
    if setup == "only-other-suffixes":
        (root / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(CorpusError, match="not found" if setup == "missing" else "no readable documents"):
        load_corpus(root)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("Fine text.")
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret.")
    locked.chmod(0)
    result = load_corpus(tmp_path)
    assert [d.doc_id for d in result.documents] == ["ok"]
    assert "cannot be read" in str(result.skipped[0])


def test_symlink_outside_corpus_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Private text outside the corpus.")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "inside.txt").write_text("Public text.")
    (root / "link.txt").symlink_to(outside)
    assert [d.doc_id for d in load_corpus(root).documents] == ["inside"]


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 100)
    with pytest.raises(DocumentError, match="over the 100-byte limit"):
        read_document(big, max_bytes=100)


def test_duplicate_doc_id_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "same.md").write_text("First.")
    (tmp_path / "same.txt").write_text("Second.")
    result = load_corpus(tmp_path)
    assert len(result.documents) == 1 and "is already taken" in str(result.skipped[0])
