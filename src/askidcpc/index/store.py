"""The saved index: one folder of memory-mapped arrays and a manifest; atomic writes; verification at load.

Layout (format version 3)::

    INDEX/manifest.json        format and version, tokenizer fingerprint, BM25 settings, counts, how texts are
                               compressed, and per array file: dtype, shape, size and SHA-256; the manifest carries a
                               checksum of itself (a few kB, whatever the corpus: per-document data is in arrays)
    INDEX/<name>.npy           numpy arrays, loaded with ``mmap_mode="r"`` (see ``ARRAYS``)
    INDEX/passage_vectors.npy  optional (see ``OPTIONAL_ARRAYS``): float16 [passages, dim], each passage's unit
                               sentence vector; listed, checksummed and verified like the others, with a manifest
                               entry ``"vectors": {"model": ..., "version": ..., "dim": ...}`` naming the encoder.
                               An index without them has exactly the files and manifest keys it had before.

The term frequencies (a passages × terms CSC matrix) are what an index *is*; each passage's paragraph and the
paragraphs' term frequencies (their sentences' summed) are stored too. No BM25 weight is stored: a term's weights
are computed from its postings' term frequencies, their passages' length norms and its idf the first time a query
uses the term (and kept in memory), with the same float64 operations in the same order as the weights a version-2
index stored, so every score is exactly what it was (:func:`askidcpc.index.bm25.weights_of`). What a search needs
beyond the postings, each term's largest weight and each block of 64 postings' largest weight (the bounds that let
it skip postings), is computed at build for the manifest's BM25 settings and stored (float32, rounded up: still
bounds); opening an index computes nothing over its postings. Other BM25 settings than the manifest's work too:
their bounds are computed at the first search (one pass over the postings). Every count and offset is stored in the
narrowest integer dtype that holds it (term frequencies in one byte when no count exceeds 255).

Documents' texts are stored too, so every citation stays checkable against its source: zlib-compressed in blocks of
whole documents (about 4 kB of text each), one block decompressed when a document is read; each document's SHA-256
(``doc_sha256``) is stored beside them.

Passage vectors are made by an encoder the caller passes in (:class:`PassageEncoder`; the index never imports the
reader): :func:`build_saved_index` and :func:`add_documents` have it encode the new passages only, and
:func:`remove_documents` drops the removed passages' rows. Loading with ``expect_vectors`` refuses vectors another
model (or model version) made, as it refuses an index of another tokenizer: their cosines with a question encoded by
this askidcpc's model would mean nothing.

Writes are atomic: everything is written into a temporary folder beside the target, each file and the folder are
fsynced, then the folder takes the target's place in one ``rename`` (or an atomic exchange with the old one). A
crash or Ctrl-C at any moment leaves the old index whole. One writer per index: every write takes the index's lock
(``.NAME.lock`` beside it) before it reads or tokenizes anything and holds it through the swap; a second writer of
the same index is refused at once with :class:`~askidcpc.errors.IndexBusyError`. Loading checks the format version,
the manifest checksum, every file's size, dtype and shape, and (by default) every file's SHA-256; anything else is
refused with :class:`~askidcpc.errors.IndexFormatError`.

:func:`add_documents` and :func:`remove_documents` update an index without re-tokenizing what it holds: the result
has exactly the counts, and so exactly the IDF and scores, of a fresh build over the same documents in the same
order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from askidcpc.config import BM25Params
from askidcpc.errors import AskError, IndexBusyError, IndexFormatError
from askidcpc.index import _atomic, _kernels
from askidcpc.index._atomic import backups, fsync_dir
from askidcpc.index._kernels import BLOCK, TermBounds, use_compiled
from askidcpc.index._tables import (
    HalfArray,
    PassageEncoder,
    Progress,
    Tables,
    VectorModel,
    empty_tables,
    tables_from_pipeline_parts,
    with_documents,
    without_documents,
)
from askidcpc.index.bm25 import BM25Index
from askidcpc.index.paragraphs import warm_up as warm_up_row_scores
from askidcpc.index.partition import Workers
from askidcpc.index.stored import TEXT_BLOCK_BYTES, PackedText, StoredDocuments, StoredPassages
from askidcpc.text.formats import content_hash
from askidcpc.text.tokenize import STOP_WORDS, tokenize
from askidcpc.types import Document, Passage

__all__ = [
    "ARRAYS",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "OPTIONAL_ARRAYS",
    "IndexBusyError",
    "IndexUpdate",
    "PassageEncoder",
    "Progress",
    "StoredDocuments",
    "StoredIndex",
    "StoredPassages",
    "VectorModel",
    "add_documents",
    "build_saved_index",
    "check_replaceable",
    "is_saved_index",
    "load_index",
    "prepare_search",
    "remove_documents",
    "save_index",
    "tokenizer_fingerprint",
]

log = logging.getLogger(__name__)

FORMAT = "askidcpc-index"
FORMAT_VERSION = 3  # 2: paragraphs (passage_paragraph, paragraph_*); 3: no stored weights, narrow dtypes, bounds,
# compressed texts, documents' ids and hashes in array files
MANIFEST = "manifest.json"

_COUNT = ("u1", "u2", "i4", "i8")  # whole numbers: the narrowest dtype that holds them (little-endian)
_INDEX = ("i4", "i8")

# name -> what it holds. Every array is one ``<name>.npy`` file.
ARRAYS: Mapping[str, str] = {
    "vocab": "uint8: the terms in column order, UTF-8, joined by newlines",
    "doc_len": "uint8|uint16|int32 [passages]: tokens in each passage",
    "tf_indptr": "int32|int64 [terms + 1]: CSC column pointers of the term-frequency matrix",
    "tf_indices": "int32|int64 [postings]: passage of each posting",
    "tf_data": "uint8|uint16|int32 [postings]: term frequency of each posting",
    "term_upper": "float32 [terms]: each term's largest BM25 weight under the manifest's settings (rounded up)",
    "block_max": "float32 [ceil(postings / 64)]: each block of 64 postings' largest weight (rounded up)",
    "passage_doc": "int32 [passages]: document index of each passage",
    "passage_start": "uint8|uint16|int32 [passages]: start offset in the document text (characters)",
    "passage_end": "uint8|uint16|int32 [passages]: end offset, exclusive",
    "doc_ids": "uint8: the documents' doc_ids, a JSON array, UTF-8",
    "doc_sha256": "uint8 [documents, 32]: SHA-256 of each document's text (the content hash)",
    "doc_text": "uint8: every document's text, UTF-8, zlib-compressed in blocks of whole documents, concatenated",
    "doc_text_offsets": "int64 [documents + 1]: byte offsets of each document's text, uncompressed",
    "doc_text_blocks": "int64 [blocks + 1]: offsets of each compressed block in doc_text",
    "doc_text_block_docs": "int32 [blocks + 1]: first document of each block (the last: the number of documents)",
    "doc_meta": "uint8: every document's metadata, one JSON object each, concatenated",
    "doc_meta_offsets": "int64 [documents + 1]: byte offsets into doc_meta",
    "passage_paragraph": "int32 [passages]: paragraph of each passage (non-decreasing from 0)",
    "paragraph_len": "uint8|uint16|int32 [paragraphs]: tokens in each paragraph",
    "paragraph_tf_indptr": "int32|int64 [terms + 1]: CSC column pointers of the paragraphs' term frequencies",
    "paragraph_tf_indices": "int32|int64 [paragraph postings]: paragraph of each posting",
    "paragraph_tf_data": "uint8|uint16|int32 [paragraph postings]: term frequency of each posting",
    "paragraph_term_upper": "float32 [terms]: each term's largest paragraph weight (rounded up)",
    "paragraph_block_max": "float32 [ceil(paragraph postings / 64)]: each block's largest weight (rounded up)",
}

# name -> the dtypes (numpy's ``dtype.str`` without the byte order) an array may have; anything else is refused.
_DTYPES: Mapping[str, tuple[str, ...]] = {
    "vocab": ("u1",),
    "doc_len": _COUNT,
    "tf_indptr": _INDEX,
    "tf_indices": _INDEX,
    "tf_data": _COUNT,
    "term_upper": ("f4",),
    "block_max": ("f4",),
    "passage_doc": ("i4",),
    "passage_start": _COUNT,
    "passage_end": _COUNT,
    "doc_ids": ("u1",),
    "doc_sha256": ("u1",),
    "doc_text": ("u1",),
    "doc_text_offsets": ("i8",),
    "doc_text_blocks": ("i8",),
    "doc_text_block_docs": ("i4",),
    "doc_meta": ("u1",),
    "doc_meta_offsets": ("i8",),
    "passage_paragraph": ("i4",),
    "paragraph_len": _COUNT,
    "paragraph_tf_indptr": _INDEX,
    "paragraph_tf_indices": _INDEX,
    "paragraph_tf_data": _COUNT,
    "paragraph_term_upper": ("f4",),
    "paragraph_block_max": ("f4",),
    "passage_vectors": ("f2",),
}

# The files of earlier format versions: a folder holding them is an index a new write may replace.
_FORMER_ARRAYS = ("weights", "paragraph_weights")

# name -> what it holds, for the arrays an index may hold or not (each with the manifest entry that goes with it).
OPTIONAL_ARRAYS: Mapping[str, str] = {
    "passage_vectors": "float16 [passages, dim]: each passage's unit sentence vector by the manifest's vectors model",
}

# A fixed text run through the tokenizer: its output, with the stop words, fingerprints the tokenizer, so an index
# built by a tokenizer that would split or stem questions differently is refused instead of silently missing terms.
_HASH_THREADS = 2

_PROBE = (
    "The CPC’s International Department, founded in 1951, has ties with 600+ parties in 160 countries; "
    "it's “cooperating” — 3.5% growth, 1,000 delegations. Ünïcödé ﬁnance running runners ran"
)


def tokenizer_fingerprint() -> str:
    """A short hash of how this askidcpc tokenizes; stored in the manifest and checked at load."""
    probe = json.dumps({"probe": tokenize(_PROBE), "stop_words": sorted(STOP_WORDS)}, ensure_ascii=False)
    return hashlib.sha256(probe.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class StoredIndex:
    """A loaded saved index: what :class:`~askidcpc.pipeline.Pipeline` needs, plus the manifest."""

    path: Path
    manifest: Mapping[str, Any]
    documents: StoredDocuments
    passages: StoredPassages
    index: BM25Index
    paragraphs: BM25Index  # the paragraphs' index (see askidcpc.reader.rank)
    # Each passage's sentence vector (float16 [passages, dim], memory-mapped) and the model that made them; or None.
    passage_vectors: HalfArray | None = None
    vector_model: VectorModel | None = None


@dataclass(frozen=True)
class IndexUpdate:
    """What :func:`add_documents` or :func:`remove_documents` did."""

    documents: int
    passages: int
    changed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (doc_id, reason)
    encoded: int = 0  # passages the encoder made vectors for
    vectors: VectorModel | None = None  # the model of the index's passage vectors, if it holds them


# ---------------------------------------------------------------------------------------------------------------
# Writing: temporary folder, fsync, atomic swap


def _sha256_file(path: Path) -> str:
    """The file's SHA-256, hashed from a memory map: no copy through read() buffers (measured 1.5x faster here; SHA-256
    has CPU instructions on current x86 and ARM, and hashlib releases the GIL while it hashes)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return hashlib.sha256().hexdigest()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return hashlib.sha256(mapped).hexdigest()


def _write_array(path: Path, array: npt.NDArray[Any]) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    with open(path, "wb") as handle:
        # What np.save writes, but the data through the file's own write(): np.save's tofile() turns a full disk
        # into "N requested and M written", losing the reason (ENOSPC, EIO, EFBIG) a user needs.
        np.lib.format.write_array_header_1_0(handle, np.lib.format.header_data_from_array_1_0(array))
        handle.write(array.reshape(-1).data.cast("B"))
        handle.flush()
        os.fsync(handle.fileno())
    return {
        "file": path.name,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "bytes": path.stat().st_size,
        "sha256": _sha256_file(path),
    }


def _manifest_digest(manifest: Mapping[str, Any]) -> str:
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_replaceable(target: Path) -> None:
    """AskError unless ``target`` is free, an empty folder or a saved index (one that a write may replace)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise AskError(f"{target} exists and is not a folder; choose another index path")
    known = {MANIFEST} | {f"{name}.npy" for name in (*ARRAYS, *OPTIONAL_ARRAYS, *_FORMER_ARRAYS)}
    foreign = [entry.name for entry in target.iterdir() if entry.name not in known]
    if foreign:
        raise AskError(
            f"{target} exists and is not a saved index (it holds {', '.join(sorted(foreign)[:3])}); "
            "refusing to replace it: choose another index path"
        )


def _write_tables(target: Path, tables: Tables, prepare: bool = False) -> dict[str, Any]:
    """Write ``tables`` as a saved index at ``target`` atomically (the caller holds the lock). Returns the manifest.
    ``prepare``: :func:`prepare_search` for it too, on a thread while the files are written (numba's start-up is
    Python; writing, fsyncing and hashing the files mostly wait for the disk or run without the GIL)."""
    if not tables.doc_ids:
        raise AskError("an index needs at least one document")
    for term in tables.terms:
        if "\n" in term:
            raise ValueError(f"index term {term!r} contains a newline; the vocabulary file cannot hold it")
    check_replaceable(target)
    arrays = tables.arrays()
    preparing = _warm_up_search(_saved_postings(arrays)) if prepare else None
    try:
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise _write_failed(target, exc, "creating its temporary folder") from exc
    step = "writing its files"
    try:
        entries = {}
        for name, array in arrays.items():
            step = f"writing {name}.npy"
            entries[name] = _write_array(building / f"{name}.npy", array)
        step = f"writing {MANIFEST}"
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "tokenizer": {"fingerprint": tokenizer_fingerprint(), "stemmer": "english (PyStemmer Snowball)"},
            "bm25": asdict(tables.params),
            "counts": {
                "documents": len(tables.doc_ids),
                "passages": int(tables.doc_len.shape[0]),
                "terms": len(tables.terms),
                "postings": int(tables.term_freqs.nnz),
                "paragraphs": int(arrays["paragraph_len"].shape[0]),
                "paragraph_postings": int(arrays["paragraph_tf_data"].shape[0]),
                "text_blocks": int(arrays["doc_text_blocks"].shape[0]) - 1,
            },
            "text": {"compression": "zlib", "block_bytes": TEXT_BLOCK_BYTES},
            "arrays": entries,
        }
        if tables.vector_model is not None:
            manifest["vectors"] = tables.vector_model.record()
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        with open(building / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        step = "flushing it to disk"
        os.chmod(building, 0o755)  # mkdtemp makes it private; an index is meant to be shared by readers
        fsync_dir(building)
        step = "putting it in place"
        _atomic.swap_into_place(building, target)
    except OSError as exc:  # a full disk, an I/O error: nothing was swapped in (see swap_into_place)
        shutil.rmtree(building, ignore_errors=True)
        raise _write_failed(target, exc, step) from exc
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    log.info("wrote %s: %d documents, %d passages", target, len(tables.doc_ids), tables.doc_len.shape[0])
    if preparing is not None:
        preparing.result()
    return manifest


def _write_failed(target: Path, exc: OSError, step: str) -> AskError:
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    state = "the index there is unchanged" if target.exists() else "nothing was written"
    return AskError(f"could not write the index {target}: {reason} ({step}); {state}")


def _target(path: Path, create_parent: bool = True) -> Path:
    target = Path(os.path.abspath(path))
    if create_parent:
        target.parent.mkdir(parents=True, exist_ok=True)
    elif not target.parent.is_dir():
        raise IndexFormatError(f"no saved index at {path}; build one with 'askidcpc index SOURCE... --out {path}'")
    return target


def save_index(
    path: Path,
    documents: Sequence[Document],
    passages: Sequence[Passage],
    index: BM25Index,
    passage_vectors: npt.NDArray[Any] | None = None,
    vector_model: VectorModel | None = None,
) -> Mapping[str, Any]:
    """Save an indexed corpus (as a :class:`~askidcpc.pipeline.Pipeline` holds it) at ``path``, atomically.

    ``passages`` must be those of ``documents`` in pid order, ``index`` their BM25 index; ``passage_vectors`` (rows
    aligned with ``passages``, stored as float16) and ``vector_model`` go together or not at all. An existing index
    at ``path`` is replaced; any other existing file or folder there is refused (AskError). Returns the manifest.
    """
    target = _target(path)
    with _atomic.locked(target):  # before any work: a second writer of the same index is refused at once
        tables = tables_from_pipeline_parts(documents, passages, index, passage_vectors, vector_model)
        return _write_tables(target, tables)


def build_saved_index(
    path: Path,
    documents: Sequence[Document],
    params: BM25Params | None = None,
    progress: Progress | None = None,
    encoder: PassageEncoder | None = None,
    jobs: int = 1,
    workers: Workers | None = None,
    prepare: bool = False,
) -> Mapping[str, Any]:
    """Split, tokenize and index ``documents`` and save the index at ``path``, atomically; the same index as
    ``Pipeline.from_documents(documents, params)`` builds. ``progress`` is called with numbers of documents done.
    With an ``encoder``, the index holds every passage's vector by it. ``jobs``: worker processes to split and
    tokenize a large corpus on; ``workers``: a cluster's to do it on instead
    (:func:`askidcpc.index.cluster.connect`). The index is the same whatever they are. ``prepare``:
    :func:`prepare_search` for the index too, while its files are written."""
    if not documents:
        raise AskError("cannot build an index over no documents")
    target = _target(path)
    with _atomic.locked(target):  # before any work: a second writer of the same index is refused at once
        tables = with_documents(empty_tables(params or BM25Params()), documents, progress, encoder, jobs, workers)
        return _write_tables(target, tables, prepare)


# ---------------------------------------------------------------------------------------------------------------
# Reading and verification


def is_saved_index(path: Path) -> bool:
    """Whether ``path`` is (or, interrupted mid-write, was) a saved index rather than a folder of articles."""
    if path.is_dir():
        names = (MANIFEST, *(f"{array}.npy" for array in (*ARRAYS, *OPTIONAL_ARRAYS)))
        return any((path / name).is_file() for name in names)
    return not path.exists() and bool(backups(Path(os.path.abspath(path))))


def _refuse(path: Path, problem: str) -> IndexFormatError:
    return IndexFormatError(f"saved index {path} {problem}; rebuild it with 'askidcpc index SOURCE... --out {path}'")


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        left = backups(Path(os.path.abspath(path)))
        if not path.exists() and left:
            raise IndexFormatError(
                f"saved index {path} is missing: an interrupted write left the previous index at {left[-1]}; "
                f"rename that folder back to {path}"
            )
        if not path.exists():
            raise IndexFormatError(f"no saved index at {path}; build one with 'askidcpc index SOURCE... --out {path}'")
        raise _refuse(path, f"has no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"has an unreadable {MANIFEST} ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(path, f"has a {MANIFEST} that is not an askidcpc index manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise _refuse(path, f"is format version {version!r}; this askidcpc reads version {FORMAT_VERSION}")
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise _refuse(path, f"has a {MANIFEST} that was altered or damaged (its checksum does not match)")
    return manifest


def _other_model(path: Path, stored: VectorModel, expected: VectorModel) -> IndexFormatError:
    return IndexFormatError(
        f"saved index {path} holds sentence vectors by {stored}, but this askidcpc encodes with {expected}: their "
        f"cosines would mean nothing, so they are not used; rebuild it with "
        f"'askidcpc index SOURCE... --out {path} --semantic' (or use the askidcpc release that made them)"
    )


def _open_array(path: Path, name: str, entry: Mapping[str, Any]) -> npt.NDArray[Any]:
    file = path / f"{name}.npy"
    if not file.is_file():
        raise _refuse(path, f"is missing {file.name}")
    size = file.stat().st_size
    if size != entry["bytes"]:
        raise _refuse(path, f"has {file.name} of {size:,} bytes, expected {entry['bytes']:,} (truncated or damaged)")
    try:
        if int(np.prod(entry["shape"])) == 0:
            array: npt.NDArray[Any] = np.load(file, allow_pickle=False)
        else:
            array = np.load(file, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _refuse(path, f"has an unreadable {file.name} ({exc})") from exc
    if array.dtype.str != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise _refuse(
            path,
            f"has {file.name} of {array.dtype.str}{list(array.shape)}, expected {entry['dtype']}{list(entry['shape'])}",
        )
    return array


def _start_checksums(
    path: Path, entries: Mapping[str, Mapping[str, Any]], pool: ThreadPoolExecutor
) -> Callable[[], None]:
    """Hash every array file on ``pool`` (hashlib releases the GIL, so files hash in parallel with each other and
    with the rest of loading); returns the check to call before the index is used, which raises IndexFormatError."""
    names = sorted(entries, key=lambda name: -int(entries[name]["bytes"]))  # largest first: balanced threads
    digests = {name: pool.submit(_sha256_file, path / f"{name}.npy") for name in names}

    def check() -> None:
        for name in names:
            if digests[name].result() != entries[name]["sha256"]:
                raise _refuse(path, f"has {name}.npy whose checksum does not match the manifest (damaged or altered)")

    return check


class _HexDigests(Sequence[str]):
    """The documents' content hashes as hex strings, made from the ``doc_sha256`` rows when asked for."""

    def __init__(self, digests: npt.NDArray[np.uint8]) -> None:
        self._digests = digests

    def __len__(self) -> int:
        return int(self._digests.shape[0])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return bytes(self._digests[i]).hex()


def _read_tables(
    path: Path, pool: ThreadPoolExecutor | None, unpack_text: bool = False
) -> tuple[dict[str, Any], Tables, Callable[[], None]]:
    """The manifest and tables of the index at ``path``, checked for everything but content; with a ``pool``, the
    content checksums are computed on it and the returned check waits for them (else it checks nothing). Nothing is
    read from an array's content here but its first and last values (the rest is read after the check).
    ``unpack_text``: the tables hold the documents' texts decompressed (to be updated), not packed (to serve)."""
    manifest = _read_manifest(path)
    try:
        entries: Mapping[str, Mapping[str, Any]] = manifest["arrays"]
        if not set(ARRAYS) <= set(entries) or not set(entries) - set(ARRAYS) <= set(OPTIONAL_ARRAYS):
            raise _refuse(path, "lists other array files than this format version has")
        if ("passage_vectors" in entries) != ("vectors" in manifest):
            raise _refuse(path, "lists passage vectors without the model that made them, or a model without them")
        vector_model = VectorModel.from_record(manifest["vectors"]) if "vectors" in manifest else None
        for name, entry in entries.items():
            if str(entry["dtype"])[1:] not in _DTYPES[name] or str(entry["dtype"])[0] not in "<|":
                raise _refuse(
                    path, f"lists {name}.npy as {np.dtype(entry['dtype'])}, which this format version never writes"
                )
        arrays = {
            name: _open_array(path, name, entries[name]) for name in (*ARRAYS, *OPTIONAL_ARRAYS) if name in entries
        }
        check_content = _start_checksums(path, entries, pool) if pool is not None else lambda: None
        fingerprint = manifest["tokenizer"]["fingerprint"]
        if fingerprint != tokenizer_fingerprint():
            raise _refuse(path, "was built by a different tokenizer than this askidcpc's (questions would not match)")
        params = BM25Params(**manifest["bm25"])
        counts = manifest["counts"]
        n_docs, n_passages, n_terms, n_postings, n_paragraphs, n_paragraph_postings, n_blocks = (
            int(counts[key])
            for key in ("documents", "passages", "terms", "postings", "paragraphs", "paragraph_postings", "text_blocks")
        )
    except IndexFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _refuse(path, f"has a malformed {MANIFEST} ({exc.__class__.__name__}: {exc})") from exc
    expected = {
        "doc_len": (n_passages,),
        "tf_indptr": (n_terms + 1,),
        "tf_indices": (n_postings,),
        "tf_data": (n_postings,),
        "term_upper": (n_terms,),
        "block_max": (-(-n_postings // BLOCK),),
        "passage_doc": (n_passages,),
        "passage_start": (n_passages,),
        "passage_end": (n_passages,),
        "doc_sha256": (n_docs, 32),
        "doc_text_offsets": (n_docs + 1,),
        "doc_text_blocks": (n_blocks + 1,),
        "doc_text_block_docs": (n_blocks + 1,),
        "doc_meta_offsets": (n_docs + 1,),
        "passage_paragraph": (n_passages,),
        "paragraph_len": (n_paragraphs,),
        "paragraph_tf_indptr": (n_terms + 1,),
        "paragraph_tf_indices": (n_paragraph_postings,),
        "paragraph_tf_data": (n_paragraph_postings,),
        "paragraph_term_upper": (n_terms,),
        "paragraph_block_max": (-(-n_paragraph_postings // BLOCK),),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise _refuse(path, f"has {name}.npy of shape {arrays[name].shape}, but the counts say {shape}")
    vectors = arrays.get("passage_vectors")
    if (
        vectors is not None
        and vector_model is not None
        and (vectors.dtype != np.float16 or vectors.shape != (n_passages, vector_model.dim))
    ):
        raise _refuse(
            path,
            f"has passage_vectors.npy of {vectors.dtype}{list(vectors.shape)}, but the counts and its model say "
            f"float16{[n_passages, vector_model.dim]}",
        )

    def agree() -> tuple[list[str], list[str]]:
        """The terms and doc_ids, once the arrays' ends agree with each other and with the counts."""
        indptr = arrays["tf_indptr"]
        paragraph_indptr = arrays["paragraph_tf_indptr"]
        paragraph_of = arrays["passage_paragraph"]
        blocks, block_docs = arrays["doc_text_blocks"], arrays["doc_text_block_docs"]
        try:
            vocab_text = arrays["vocab"].tobytes().decode("utf-8")
            doc_ids = json.loads(arrays["doc_ids"].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _refuse(path, f"has an unreadable vocabulary or doc_ids ({exc.__class__.__name__})") from exc
        terms = vocab_text.split("\n") if vocab_text else []
        if (
            len(terms) != n_terms
            or not isinstance(doc_ids, list)
            or len(doc_ids) != n_docs
            or not set(map(type, doc_ids)) <= {str}  # one pass in C: 40k ids in a millisecond
            or int(paragraph_indptr[0]) != 0
            or int(paragraph_indptr[-1]) != n_paragraph_postings
            or (n_passages and (int(paragraph_of[0]) != 0 or int(paragraph_of[-1]) != n_paragraphs - 1))
            or int(indptr[0]) != 0
            or int(indptr[-1]) != n_postings
            or int(blocks[0]) != 0
            or int(blocks[-1]) != arrays["doc_text"].shape[0]
            or int(block_docs[0]) != 0
            or int(block_docs[-1]) != n_docs
            or int(arrays["doc_meta_offsets"][-1]) != arrays["doc_meta"].shape[0]
        ):
            raise _refuse(path, "has arrays that do not agree with each other or with the manifest's counts")
        return terms, doc_ids

    packed = PackedText(
        arrays["doc_text"], arrays["doc_text_offsets"], arrays["doc_text_blocks"], arrays["doc_text_block_docs"]
    )
    try:  # while the files hash: the content read here is not served unless every checksum matches
        terms, doc_ids = agree()
        term_freqs = sp.csc_matrix(
            (arrays["tf_data"], arrays["tf_indices"], arrays["tf_indptr"]), shape=(n_passages, n_terms), copy=False
        )
        term_freqs.has_sorted_indices = True
        paragraph_tf = sp.csc_matrix(
            (arrays["paragraph_tf_data"], arrays["paragraph_tf_indices"], arrays["paragraph_tf_indptr"]),
            shape=(n_paragraphs, n_terms),
            copy=False,
        )
        paragraph_tf.has_sorted_indices = True
        text = packed.unpacked() if unpack_text else np.zeros(0, dtype=np.uint8)
        if unpack_text and len(text) != int(arrays["doc_text_offsets"][-1]):
            raise _refuse(path, "has document texts that do not agree with their offsets")
    except IndexFormatError:
        check_content()  # a damaged file: say so rather than what it broke
        raise
    except ValueError as exc:  # scipy's checks of the postings
        check_content()
        raise _refuse(path, f"has postings that do not agree with each other ({exc})") from exc
    except zlib.error as exc:
        check_content()
        raise _refuse(path, f"has document texts that cannot be decompressed ({exc})") from exc
    tables = Tables(
        params=params,
        terms=terms,
        doc_len=arrays["doc_len"],
        term_freqs=term_freqs,
        passage_doc=arrays["passage_doc"],
        passage_start=arrays["passage_start"],
        passage_end=arrays["passage_end"],
        doc_ids=doc_ids,
        doc_hashes=_HexDigests(arrays["doc_sha256"]),
        doc_text=text,
        doc_text_offsets=arrays["doc_text_offsets"],
        doc_meta=arrays["doc_meta"],
        doc_meta_offsets=arrays["doc_meta_offsets"],
        passage_paragraph=arrays["passage_paragraph"],
        paragraph_tf=paragraph_tf,
        paragraph_len=arrays["paragraph_len"],
        bounds=TermBounds.of(arrays["term_upper"], arrays["block_max"]),
        paragraph_bounds=TermBounds.of(arrays["paragraph_term_upper"], arrays["paragraph_block_max"]),
        packed_text=None if unpack_text else packed,
        passage_vectors=vectors,
        vector_model=vector_model,
    )
    return manifest, tables, check_content


def _verified_tables(path: Path) -> tuple[dict[str, Any], Tables]:
    with ThreadPoolExecutor(max_workers=_HASH_THREADS) as pool:
        manifest, tables, check_content = _read_tables(path, pool, unpack_text=True)
        check_content()
    return manifest, tables


Postings = tuple[npt.NDArray[Any], npt.NDArray[Any]]  # a posting matrix's indptr and indices


def _compiled_postings(tables: Tables) -> list[Postings]:
    """The postings (sentences', paragraphs') that are searched with the compiled kernels."""
    return [
        (np.asarray(tf.indptr), np.asarray(tf.indices))
        for tf in (tables.term_freqs, tables.paragraph_tf)
        if tf is not None and use_compiled(tf.nnz)
    ]


def _read_only(dtype: Any) -> npt.NDArray[Any]:
    """An empty read-only array of ``dtype``: what a compiled kernel is loaded for, as for a memory-mapped one."""
    empty = np.zeros(0, dtype=dtype)
    empty.flags.writeable = False
    return empty


def _saved_postings(arrays: Mapping[str, npt.NDArray[Any]]) -> list[Postings]:
    """What :func:`_compiled_postings` of the index these ``arrays`` (:meth:`Tables.arrays`) make will be."""
    return [
        (_read_only(arrays[f"{prefix}_indptr"].dtype), _read_only(arrays[f"{prefix}_indices"].dtype))
        for prefix in ("tf", "paragraph_tf")
        if use_compiled(len(arrays[f"{prefix}_indices"]))
    ]


def _warm_up(postings: Sequence[Postings]) -> None:
    for indptr, indices in postings:
        _kernels.warm_up(indptr, indices)
        warm_up_row_scores(indptr, indices)


def _warm_up_search(postings: Sequence[Postings]) -> Future[None] | None:
    """Load (or compile) the compiled search kernels for these posting types on a thread (numba's start-up is
    Python, the rest of a build mostly is not), or nothing when there are none. Only the arrays' types are used,
    not their contents. The returned future raises what loading raised."""
    if not postings:
        return None
    done: Future[None] = Future()

    def warm() -> None:
        try:
            _warm_up(postings)
        except Exception as exc:
            done.set_exception(exc)
            return
        done.set_result(None)

    threading.Thread(target=warm, name="askidcpc-kernels", daemon=True).start()
    return done


def prepare_search(path: Path) -> None:
    """Compile (or load from numba's disk cache) every compiled kernel a question asked of the saved index at
    ``path`` runs, now; nothing when the index is small enough to be searched with numpy. Raises IndexFormatError
    when ``path`` is not a readable saved index (its checksums are not computed: only the arrays' types are used)."""
    _, tables, _ = _read_tables(path, None)
    _warm_up(_compiled_postings(tables))


def load_index(
    path: Path, params: BM25Params | None = None, verify: bool = True, expect_vectors: VectorModel | None = None
) -> StoredIndex:
    """Open the saved index at ``path``, memory-mapped, after checking it.

    Always checked: format and version, the manifest's own checksum, the tokenizer fingerprint, and every array
    file's size, dtype and shape. With ``verify`` (the default) every array file's SHA-256 too, which reads every
    byte once (about 1.4 GB/s a core, on two threads). ``params``: the BM25 settings to score with (default: the
    index's own); other settings than the index's compute their search bounds at the first search (one pass over
    the postings). ``expect_vectors``: the model that
    encodes questions here; an index whose passage vectors another model (or version) made is refused. Raises
    IndexFormatError when the index is missing, damaged, altered or of another format version.
    """
    with ThreadPoolExecutor(max_workers=_HASH_THREADS if verify else 1) as pool:
        manifest, tables, check_content = _read_tables(path, pool if verify else None)
        made_by = tables.vector_model
        if expect_vectors is not None and made_by is not None and made_by != expect_vectors:
            raise _other_model(Path(path), made_by, expect_vectors)
        documents = tables.documents()
        vocab = tables.vocab()  # the costly Python part of loading: done while the files hash
        check_content()  # nothing is served before every checksum matched
    passages = StoredPassages(
        documents, tables.passage_doc, tables.passage_start, tables.passage_end, tables.passage_paragraph
    )
    index = tables.bm25_index(params or tables.params, vocab)
    paragraphs = tables.paragraph_index(params or tables.params, vocab)
    return StoredIndex(
        Path(path), manifest, documents, passages, index, paragraphs, tables.passage_vectors, tables.vector_model
    )


def add_documents(
    path: Path,
    documents: Sequence[Document],
    progress: Progress | None = None,
    encoder: PassageEncoder | None = None,
    add_vectors: bool = False,
) -> IndexUpdate:
    """Add ``documents`` to the saved index at ``path`` without re-tokenizing what it holds, atomically.

    The result equals a fresh build over the old documents followed by the new ones. A document whose text is
    already indexed, or whose doc_id is taken, is skipped and listed in ``IndexUpdate.skipped``.

    Passage vectors: an index that holds them needs ``encoder`` (AskError without one; IndexFormatError when it is
    another model than the one that made them), which encodes the new passages only. With ``add_vectors``, an index
    without them gets every passage's vector by ``encoder``; otherwise ``encoder`` is not used on such an index.
    """
    if add_vectors and encoder is None:
        raise ValueError("add_vectors needs an encoder")
    target = _target(path, create_parent=False)
    with _atomic.locked(target):
        _, tables = _verified_tables(target)
        if tables.vector_model is not None:
            if encoder is None:
                raise AskError(
                    f"{path} holds sentence vectors by {tables.vector_model}; adding to it needs that encoder"
                )
            if encoder.model != tables.vector_model:
                raise _other_model(target, tables.vector_model, encoder.model)
        use = encoder if tables.vector_model is not None or add_vectors else None
        known_hashes = dict(zip(tables.doc_hashes, tables.doc_ids, strict=True))
        known_ids = set(tables.doc_ids)
        fresh: list[Document] = []
        skipped: list[tuple[str, str]] = []
        for document in documents:
            digest = content_hash(document.text)
            if digest in known_hashes:
                skipped.append((document.doc_id, f"same text as {known_hashes[digest]!r}, already indexed"))
            elif document.doc_id in known_ids:
                skipped.append((document.doc_id, "doc_id already in the index (remove it first to replace it)"))
            else:
                fresh.append(document)
                known_hashes[digest] = document.doc_id
                known_ids.add(document.doc_id)
        encoded = 0
        if fresh or (use is not None and tables.passage_vectors is None):
            updated = with_documents(tables, fresh, progress, use)
            _write_tables(target, updated)
            if use is not None:  # the new passages; or, vectors added now, all of them
                old = int(tables.doc_len.shape[0]) if tables.passage_vectors is not None else 0
                encoded = int(updated.doc_len.shape[0]) - old
        else:
            updated = tables
    return IndexUpdate(
        documents=len(updated.doc_ids),
        passages=int(updated.doc_len.shape[0]),
        changed=tuple(document.doc_id for document in fresh),
        skipped=tuple(skipped),
        encoded=encoded,
        vectors=updated.vector_model,
    )


def remove_documents(path: Path, doc_ids: Sequence[str]) -> IndexUpdate:
    """Remove documents by ``doc_id`` from the saved index at ``path``, atomically.

    The result equals a fresh build over the remaining documents. Unknown doc_ids are listed in
    ``IndexUpdate.skipped``; AskError when none is known or when nothing would remain.
    """
    target = _target(path, create_parent=False)
    with _atomic.locked(target):
        _, tables = _verified_tables(target)
        position = {doc_id: i for i, doc_id in enumerate(tables.doc_ids)}
        removed = {position[doc_id] for doc_id in doc_ids if doc_id in position}
        skipped = tuple((doc_id, "not in the index") for doc_id in dict.fromkeys(doc_ids) if doc_id not in position)
        if not removed:
            raise AskError(f"none of {', '.join(map(repr, doc_ids))} is in {path}; nothing removed")
        if len(removed) == len(tables.doc_ids):
            raise AskError(f"removing {len(removed)} document(s) would leave {path} empty; delete the folder instead")
        updated = without_documents(tables, removed)
        _write_tables(target, updated)
    return IndexUpdate(
        documents=len(updated.doc_ids),
        passages=int(updated.doc_len.shape[0]),
        changed=tuple(tables.doc_ids[i] for i in sorted(removed)),
        skipped=skipped,
        vectors=updated.vector_model,
    )
