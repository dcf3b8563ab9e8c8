"""Loading a corpus (text.corpus): the bundled corpus, bad, unreadable and duplicate files skipped and reported,
symlinks not followed, a mixed folder ingested, nothing readable an error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS
from askidcpc.errors import CorpusError
from askidcpc.text.corpus import ingest, keeps_name, load_corpus
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
    assert [d.doc_id for d in result.documents] == ["a", "a1", "b", "c"]
    assert [(d.doc_id, d.kept) for d in result.duplicates] == [("copy-of-b", "b"), ("dup", "a1")]
    reasons = {error.path.name: error.reason for error in result.skipped}
    assert set(reasons) == {"missing", "link.md", "a.txt", "binary.txt", "notes.pdf"}
    assert "not found" in reasons["missing"] and "outside" in reasons["link.md"]
    assert "unsupported file type .pdf" in reasons["notes.pdf"]
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


@pytest.mark.parametrize(
    ("names", "kept"),
    [
        (["copy-of-warsaw", "warsaw"], "warsaw"),
        (["Copy of warsaw", "warsaw"], "warsaw"),
        (["warsaw - Copy", "warsaw"], "warsaw"),
        (["warsaw (1)", "warsaw"], "warsaw"),
        (["warsaw_copy2", "warsaw"], "warsaw"),
        (["warsaw-2", "warsaw"], "warsaw"),  # the shorter name
        (["copy", "warsaw-2016"], "warsaw-2016"),  # a name that marks a copy loses even when shorter
        (["photocopy-rules", "copy"], "photocopy-rules"),  # "copy" inside a word does not mark a copy
        (["alfa", "beta"], "alfa"),  # as long: the first read
        (["copy-a", "copy-of-a"], "copy-a"),  # both copies: the shorter
    ],
)
def test_which_duplicate_keeps_its_name(tmp_path: Path, names: list[str], kept: str) -> None:
    assert names[keeps_name(names)[0]] == kept
    for name in names:  # read in this order: files sorted by name
        write(tmp_path / f"{name}.txt", "The same article under two names.\n")
    result = ingest([tmp_path])
    assert [d.doc_id for d in result.documents] == [kept]
    assert [(d.doc_id, d.kept) for d in result.duplicates] == [(name, kept) for name in sorted(names) if name != kept]


def test_a_duplicate_whose_preferred_name_is_taken_keeps_the_next(tmp_path: Path) -> None:
    """When the preferred name of a text is the doc_id of another text read earlier, the next name is kept, and
    neither text is lost."""
    write(tmp_path / "a" / "warsaw.md", "---\ntitle: First\n---\nThe first article.\n")
    write(tmp_path / "b" / "warsaw.txt", "The second article.\n")
    write(tmp_path / "b" / "warsaw-copy.txt", "The second article.\n")
    result = ingest([tmp_path / "a", tmp_path / "b"])
    assert [d.doc_id for d in result.documents] == ["warsaw", "warsaw-copy"]
    assert [d.text for d in result.documents] == ["The first article.", "The second article."]
    assert [(d.doc_id, d.kept) for d in result.duplicates] == [("warsaw", "warsaw-copy")]
    assert not result.skipped


@pytest.mark.parametrize("name", ["notes.docx", "photo.jpg", "README"])
def test_a_file_of_another_type_is_listed_as_skipped(tmp_path: Path, name: str) -> None:
    write(tmp_path / "article.txt", "An article.\n")
    write(tmp_path / name, "not an article")
    write(tmp_path / ".git" / "config", "hidden: left out without a word")
    result = ingest([tmp_path])
    assert [d.doc_id for d in result.documents] == ["article"]
    assert [(error.path.name, "unsupported file type" in error.reason) for error in result.skipped] == [(name, True)]
