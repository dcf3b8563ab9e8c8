"""The partitioned build: any partitioning, in this process or on worker processes, makes exactly the index of
the single-pass in-memory build (``Pipeline.from_documents`` saved), file for file and byte for byte."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import VARIANTS, BM25Params, Settings
from askidcpc.errors import AskError
from askidcpc.index import _tables, partition, store
from askidcpc.pipeline import Pipeline
from askidcpc.text.corpus import ingest
from askidcpc.types import Document

WORDS = [
    "harbour",
    "council",
    "budget",
    "river",
    "bridge",
    "mayor",
    "election",
    "minister",
    "farmer",
    "market",
    "storm",
    "flood",
    "museum",
    "festival",
    "hospital",
    "vaccine",
    "factory",
    "strike",
    "treaty",
    "border",
    "satellite",
    "rocket",
    "ocean",
    "forest",
    "harvest",
    "coffee",
    "tariff",
]
UNICODE = (
    "Zürich’s “cooperation” — 3.5% growth",
    "ＦＵＬＬＷＩＤＴＨ ﬁnance Ünïcödé café naïve",
    "北京 delegation met 莫斯科 officials",
    "it's the council's 1,000th budget; don't",
    "e\u0301te\u0301 cafe\u0301 Cafe\u0301",
)


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 9))]
    if rng.random() < 0.2:
        words.insert(rng.randint(0, len(words)), rng.choice(UNICODE))
    if rng.random() < 0.2:
        words.append(f"{rng.randint(1, 3000):,}")
    return " ".join(words).capitalize() + rng.choice([".", ".", "!", "?"])


def article(rng: random.Random) -> str:
    paragraphs = [" ".join(sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 4))]
    return "\n\n".join(paragraphs) if rng.random() < 0.7 else "\n".join(paragraphs)


def write_corpus(root: Path, seed: int = 16, n: int = 300) -> list[Document]:
    """A few hundred small articles in every text format (Markdown, text, JSON Lines; duplicates among them),
    read back as ``askidcpc index`` reads them."""
    rng = random.Random(seed)
    texts = [article(rng) for _ in range(n)]
    texts[10] = texts[3]  # a duplicate text under another name: indexed once
    records = []
    for i, text in enumerate(texts):
        kind = i % 3
        if kind == 0:
            (root / f"md-{i:03d}.md").write_text(
                f"---\ntitle: Article {i}\ndate: 2024-01-{i % 28 + 1:02d}\n---\n{text}\n"
            )
        elif kind == 1:
            (root / f"txt-{i:03d}.txt").write_text(text + "\n")
        else:
            records.append(json.dumps({"id": f"j{i}", "title": f"T{i}", "text": text, "topic": rng.choice(WORDS)}))
    (root / "feed.jsonl").write_text("\n".join(records) + "\n")
    result = ingest([root])
    assert result.duplicates and len(result.documents) > 250
    return list(result.documents)


def saved_files(path: Path) -> dict[str, bytes]:
    """Every file of a saved index; the manifest without the time it was written (and its checksum over that)."""
    files = {file.name: file.read_bytes() for file in path.iterdir()}
    manifest = json.loads(files.pop(store.MANIFEST))
    del manifest["created"], manifest["manifest_sha256"]
    files[store.MANIFEST] = json.dumps(manifest, sort_keys=True).encode()
    return files


@pytest.mark.parametrize(
    ("jobs", "chars"),
    [(1, None), (1, 1), (1, 4000), (2, 3000), (2, 20_000), (3, 5000), (2, 10**9)],
)
def test_any_partitioning_builds_the_same_index(
    corpus: list[Document],
    reference: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    jobs: int,
    chars: int | None,
) -> None:
    monkeypatch.setattr(partition, "PARALLEL_CHARS", 0)  # workers even for this small corpus
    if chars is not None:
        monkeypatch.setattr(partition, "PARTITION_CHARS", chars)
    done: list[int] = []
    store.build_saved_index(tmp_path / "index", corpus, progress=done.append, jobs=jobs)
    built = saved_files(tmp_path / "index")
    assert sorted(built) == sorted(reference)
    for name, content in reference.items():
        assert built[name] == content, name
    assert sum(done) == len(corpus)


@pytest.mark.slow  # starts fresh interpreters
def test_workers_started_by_spawn_build_the_same_index(
    corpus: list[Document], reference: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partition, "PARALLEL_CHARS", 0)
    merger = partition.Merger()
    for part in partition.partials(corpus, 2, chars=8000, context="spawn"):
        merger.add(part)
    merged = merger.merged()
    serial = partition.Merger()
    serial.add(partition.partition(corpus))
    expected = serial.merged()
    assert merged.terms == expected.terms
    for name in ("passage_tf", "paragraph_tf"):
        assert (getattr(merged, name) != getattr(expected, name)).nnz == 0
    for name in ("passage_len", "paragraph_len", "passage_doc", "passage_start", "passage_end"):
        assert np.array_equal(getattr(merged, name), getattr(expected, name)), name
    assert np.array_equal(merged.texts.offsets, expected.texts.offsets)
    for got, made in zip(merged.texts.blocks(), expected.texts.blocks(), strict=True):
        assert np.array_equal(got, made)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_posting_weights_in_blocks_equal_all_weights(corpus: list[Document], variant: str, block: int) -> None:
    index = Pipeline.from_documents(corpus[:40], Settings(bm25=BM25Params(variant=variant))).index
    weights = _tables.posting_weights(index.params, index.doc_len, index.term_freqs, block)
    assert weights.tobytes() == index.all_weights().tobytes()


@pytest.mark.parametrize(("first", "chars"), [(1, None), (100, 2000), (250, 500)])
def test_adding_in_partitions_equals_building_at_once(
    corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: int, chars: int | None
) -> None:
    if chars is not None:
        monkeypatch.setattr(partition, "PARTITION_CHARS", chars)
    store.build_saved_index(tmp_path / "added", corpus[:first])
    store.add_documents(tmp_path / "added", corpus[first:])
    store.build_saved_index(tmp_path / "built", corpus)
    added, built = saved_files(tmp_path / "added"), saved_files(tmp_path / "built")
    assert {name: content == built[name] for name, content in added.items()} == dict.fromkeys(built, True)


@pytest.mark.parametrize(
    ("chars", "sizes"),
    [(1, [1, 1, 1, 1]), (10, [2, 2]), (11, [3, 1]), (1000, [4])],
)
def test_chunks_cut_at_documents_after_enough_text(chars: int, sizes: list[int]) -> None:
    documents = [Document(f"d{i}", "T", "x" * 5) for i in range(4)]
    runs = partition.chunks(documents, chars)
    assert [len(run) for run in runs] == sizes
    assert [document for run in runs for document in run] == documents


def die(documents: Sequence[Document]) -> partition.Partial:
    os._exit(3)  # a worker killed (out of memory, SIGKILL): no exception, no result


def test_a_worker_that_dies_ends_the_build_with_one_message_and_the_old_index_intact(
    corpus: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.build_saved_index(tmp_path / "index", corpus[:5])
    before = saved_files(tmp_path / "index")
    monkeypatch.setattr(partition, "PARALLEL_CHARS", 0)
    monkeypatch.setattr(partition, "PARTITION_CHARS", 1000)  # several partitions: on workers
    monkeypatch.setattr(partition, "partition", die)
    with pytest.raises(AskError, match=r"worker process .* stopped unexpectedly"):
        store.build_saved_index(tmp_path / "index", corpus, jobs=2)
    assert saved_files(tmp_path / "index") == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index"]  # no temporary folder left
