"""Fixtures shared by the build's tests (test_partition, test_cluster): a corpus of articles in every format and
its in-memory build saved, the oracle every other way of building must equal byte for byte."""

from __future__ import annotations

import pytest

from askidcpc.index import store
from askidcpc.pipeline import Pipeline
from askidcpc.types import Document
from tests.index.test_partition import saved_files, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    return write_corpus(tmp_path_factory.mktemp("articles"))


@pytest.fixture(scope="module")
def reference(corpus: list[Document], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The in-memory build (make_passages, tokenize, build_index) saved: the oracle."""
    path = tmp_path_factory.mktemp("reference") / "index"
    pipeline = Pipeline.from_documents(corpus)
    store.save_index(path, corpus, list(pipeline.passages), pipeline.index)
    return saved_files(path)
