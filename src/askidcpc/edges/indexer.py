"""The ``askidcpc index`` edge: read sources, build or update a saved index, show progress and a summary.

A thin layer over :mod:`askidcpc.text.corpus` and :mod:`askidcpc.index.store`; :mod:`askidcpc.edges.cli` parses the
command line and imports this module only for ``index`` (rich's import is not free). Sentence vectors (``--semantic``,
or adding to an index that holds them) are made here, through :func:`askidcpc.pipeline.encode_passages`, and handed
to the store, which only stores them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from askidcpc.config import BM25Params
from askidcpc.index.cluster import ClusterAddress, DaskWorkers, connect
from askidcpc.index.partition import default_jobs
from askidcpc.index.store import (
    VectorModel,
    add_documents,
    build_saved_index,
    check_replaceable,
    prepare_search,
    remove_documents,
)
from askidcpc.pipeline import VECTOR_MODEL, encode_passages, semantic_encoder
from askidcpc.text.corpus import IngestResult, ingest

__all__ = ["run_add", "run_build", "run_remove"]

_DASK_LOGGERS = ("distributed", "tornado", "bokeh")  # those distributed sets up on import


@contextmanager
def _progress(stderr: TextIO) -> Iterator[Progress]:
    console = Console(file=stderr)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        yield progress


def _read(sources: Sequence[Path], progress: Progress) -> IngestResult:
    task = progress.add_task("reading", total=None)

    def on_file(_: Path, total: int) -> None:
        progress.update(task, total=total, advance=1)

    return ingest(sources, on_file)


def _counter(progress: Progress, description: str, total: int) -> Callable[[int], None]:
    task = progress.add_task(description, total=total)
    return lambda done: progress.advance(task, done)


class _Encoding:
    """The sentence encoder as the store takes it (a :class:`~askidcpc.index.store.PassageEncoder`), with an
    "encoding" progress bar; the model is loaded only when the store has passages to encode."""

    model: VectorModel = VECTOR_MODEL

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def encode_passages(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        return encode_passages(texts, _counter(self._progress, "encoding", len(texts)))


def _with_vectors(model: VectorModel | None) -> str:
    return "" if model is None else f", sentence vectors by {model.name}"


def _count(number: int, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _report_input(result: IngestResult, out: TextIO) -> None:
    """Every file or line read but not indexed, with why: the same text as a document indexed under another name,
    or not usable (a type askidcpc does not read, unreadable, not UTF-8, empty, ...)."""
    if result.duplicates:
        out.write(f"{_count(len(result.duplicates), 'duplicate')} indexed once, under another name:\n")
        for duplicate in result.duplicates:
            out.write(f"  {duplicate.origin} ({duplicate.doc_id}): same text as {duplicate.kept}\n")
    if result.skipped:
        out.write(f"{len(result.skipped):,} not used:\n")
        for error in result.skipped:
            out.write(f"  {error}\n")


def _size(path: Path) -> str:
    total = sum(file.stat().st_size for file in path.iterdir() if file.is_file())
    return f"{total / 1e6:,.1f} MB" if total >= 1e5 else f"{total / 1e3:,.1f} kB"


def _dask_logs_as_any_library() -> None:
    """Dask's log lines go where every other library's go (shown with --verbose): on import it gives its loggers a
    handler of their own, which would show its INFO lines and the tracebacks of errors this command reports in one
    line (a lost scheduler)."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.split(".")[0] in _DASK_LOGGERS and not logger.propagate:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
    logging.getLogger("distributed").setLevel(logging.NOTSET)


def run_build(
    sources: Sequence[Path],
    index: Path,
    params: BM25Params,
    out: TextIO,
    err: TextIO,
    semantic: bool = False,
    jobs: int | None = None,
    cluster: ClusterAddress | None = None,
) -> int:
    """``askidcpc index SOURCE... --out INDEX [--semantic] [--jobs N | --cluster ADDRESS]``: ``jobs`` worker
    processes split and tokenize (default: one per CPU), or the workers of the Dask ``cluster``. Raises AskError
    (before reading anything) when ``index`` exists and is neither an empty folder nor a saved index, or the cluster
    cannot be used, SemanticUnavailableError (likewise) when ``semantic`` and the encoder is not installed,
    CorpusError when nothing could be read, AskError when a worker process dies (or the cluster loses its workers)."""
    started = time.perf_counter()
    check_replaceable(index)  # before reading anything: refusing after reading an archive wastes the wait
    if semantic:
        semantic_encoder()
    with contextlib.ExitStack() as stack:
        workers: DaskWorkers | None = None
        if cluster is not None:  # connected (or started) before reading, so that a bad address is told at once
            workers = stack.enter_context(connect(cluster))
            _dask_logs_as_any_library()
        progress = stack.enter_context(_progress(err))
        result = _read(sources, progress)
        on = "" if workers is None else f" on {workers.slots} Dask workers"
        manifest = build_saved_index(
            index,
            result.documents,
            params,
            _counter(progress, f"indexing{on}", len(result.documents)),
            _Encoding(progress) if semantic else None,
            jobs=default_jobs() if jobs is None else jobs,
            workers=workers,
            prepare=True,  # the search kernels, loaded (or compiled) while the files are written
        )
    counts = manifest["counts"]
    model = VectorModel.from_record(manifest["vectors"]) if "vectors" in manifest else None
    out.write(
        f"Indexed {_count(counts['documents'], 'document')} ({_count(counts['passages'], 'passage')}, "
        f"{_count(counts['terms'], 'term')}{_with_vectors(model)}) from {_count(result.files, 'file')} into {index} "
        f"({_size(index)}) in {time.perf_counter() - started:.1f} s.\n"
    )
    _report_input(result, out)
    return 0


def run_add(sources: Sequence[Path], index: Path, out: TextIO, err: TextIO, semantic: bool = False) -> int:
    """``askidcpc index --add SOURCE... --to INDEX [--semantic]``. The new passages are encoded when the index holds
    sentence vectors; with ``semantic``, an index without them gets them for every passage. Raises CorpusError when
    nothing could be read, SemanticUnavailableError when vectors are to be made and the encoder is not installed."""
    started = time.perf_counter()
    if semantic:
        semantic_encoder()
    with _progress(err) as progress:
        result = _read(sources, progress)
        update = add_documents(
            index,
            result.documents,
            _counter(progress, "indexing", len(result.documents)),
            _Encoding(progress),
            add_vectors=semantic,
        )
    encoded = f", {update.encoded:,} passages encoded" if update.encoded else ""
    out.write(
        f"Added {len(update.changed):,} documents to {index} in {time.perf_counter() - started:.1f} s{encoded}; "
        f"it now holds {update.documents:,} documents ({update.passages:,} passages{_with_vectors(update.vectors)}).\n"
    )
    if update.skipped:
        out.write(f"{len(update.skipped):,} not added:\n")
        for doc_id, reason in update.skipped:
            out.write(f"  {doc_id}: {reason}\n")
    _report_input(result, out)
    # the search kernels compiled now (a terminal is told by the kernels' own notice), so that a process asking
    # questions of the index loads them from numba's disk cache (about half a second, on a thread) instead of
    # compiling them (15-30 s, its searches on the numpy path meanwhile)
    prepare_search(index)
    return 0


def run_remove(doc_ids: Sequence[str], index: Path, out: TextIO) -> int:
    """``askidcpc index --remove DOC_ID... --from INDEX``. Raises AskError when no doc_id is in the index."""
    update = remove_documents(index, doc_ids)
    out.write(
        f"Removed {len(update.changed):,} documents from {index}; "
        f"it now holds {update.documents:,} documents ({update.passages:,} passages{_with_vectors(update.vectors)}).\n"
    )
    for doc_id, reason in update.skipped:
        out.write(f"  {doc_id}: {reason}\n")
    return 0
