"""Loading a corpus (text.corpus): the bundled corpus, bad, unreadable and duplicate files skipped and reported,
symlinks not followed, a mixed folder ingested, nothing readable an error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS
from askidcpc.errors import CorpusError
from askidcpc.text.corpus import ingest, load_corpus
from tests.text.conftest import GOOD, page, write


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


def test_duplicate_doc_id_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "same.md").write_text("First.")
    (tmp_path / "same.txt").write_text("Second.")
    result = load_corpus(tmp_path)
    assert len(result.documents) == 1 and "is already taken" in str(result.skipped[0])


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


@pytest.mark.parametrize(
    "files",
    [{}, {"empty.txt": "   "}, {"bad.jsonl": "{oops\n"}, {"blank.html": "<html></html>"}],
)
def test_nothing_readable_is_an_error(tmp_path: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        write(tmp_path / name, content)
    with pytest.raises(CorpusError, match="no readable documents"):
        ingest([tmp_path])
