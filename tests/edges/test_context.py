"""The context finder (edges.context): every passage found by its exact offsets, in memory and from a saved index."""

from __future__ import annotations

from pathlib import Path

import pytest

from askidcpc.config import Settings
from askidcpc.edges.context import ContextFinder
from askidcpc.index import store
from askidcpc.pipeline import Pipeline
from tests.conftest import corpus


@pytest.mark.parametrize("saved", [False, True])
def test_context_finder_finds_every_passage_by_its_offsets(tmp_path: Path, saved: bool) -> None:
    documents = corpus(9, 8)
    if saved:
        store.build_saved_index(tmp_path / "index", documents, Settings().bm25)
        pipeline = Pipeline.load(Settings(corpus=tmp_path / "index"))
    else:
        pipeline = Pipeline.from_documents(documents)
    finder = ContextFinder.from_pipeline(pipeline)
    for passage in pipeline.passages:
        assert finder.find(passage.doc_id, passage.start, passage.end) == passage
        assert finder.find(passage.doc_id, passage.start, passage.end + 1) is None
        assert finder.find(passage.doc_id, passage.start + 1, passage.end) is None
    assert finder.find("no-such-doc", 0, 5) is None
    last = pipeline.passages[len(pipeline.passages) - 1]
    found = finder.context(last.doc_id, last.start, last.end, neighbours=1)
    assert found is not None and found.after == "" and found.sentence == last.text
