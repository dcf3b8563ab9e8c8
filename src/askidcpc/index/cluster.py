"""Building an index on a Dask cluster: the ``cluster`` extra (``pip install 'askidcpc[cluster]'``).

:func:`connect` opens the cluster a :class:`ClusterAddress` names: ``local:N`` starts N worker processes on
127.0.0.1 (one thread each) for the time of the build; ``tcp://HOST:PORT`` connects to a running scheduler, whose
workers must import the same askidcpc as this process. Its :class:`DaskWorkers` run
:func:`~askidcpc.index.partition.partition` for :func:`~askidcpc.index.partition.partials`, and this process merges
the partials in document order, so the index is byte for byte the one a single process builds.

Faults: a worker lost mid-build has its partitions run again on another (Dask's ``allowed-failures``, 3 by default);
a partition whose workers keep dying, a cluster left with no worker, or a lost scheduler ends the build with one
AskError, before anything is written, so an old index stays as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Any, TypeVar

import askidcpc
from askidcpc.errors import AskError
from askidcpc.index.partition import Partial, Pending, partition
from askidcpc.types import Document

__all__ = ["CONNECT_TIMEOUT", "NO_WORKERS_TIMEOUT", "ClusterAddress", "DaskWorkers", "connect"]

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTALL = "pip install 'askidcpc[cluster]'"
# How long to try to reach a scheduler (and for it to have a worker) before giving up.
CONNECT_TIMEOUT = 10.0
# How long a build waits on a cluster that has no worker left before giving up.
NO_WORKERS_TIMEOUT = 60.0
_POLL = 1.0  # seconds between checks on the cluster while waiting for a partition
_LOCAL = re.compile(r"local:(\d+)")
_REMOTE = re.compile(r"tcp://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})")
MAX_LOCAL_WORKERS = 1024


@dataclass(frozen=True)
class ClusterAddress:
    """Where to build: ``local`` worker processes started on this machine, or the scheduler at ``scheduler``."""

    local: int = 0
    scheduler: str = ""

    @classmethod
    def parse(cls, text: str) -> ClusterAddress:
        """``local:N`` or ``tcp://HOST:PORT``. Raises ValueError saying what is wrong."""
        if match := _LOCAL.fullmatch(text):
            workers = int(match.group(1))
            if not 1 <= workers <= MAX_LOCAL_WORKERS:
                raise ValueError(f"local:N needs 1 to {MAX_LOCAL_WORKERS} workers, not {workers}")
            return cls(local=workers)
        if (match := _REMOTE.fullmatch(text)) and 0 < int(match.group(2)) < 65536:
            return cls(scheduler=text)
        raise ValueError(f"{text!r} is neither local:N nor tcp://HOST:PORT")

    def __str__(self) -> str:
        return f"local:{self.local}" if self.local else self.scheduler


# Split, tokenized and counted on every worker at connect: any difference from this process's partition() (another
# askidcpc, another syntok or stemmer) shows in its arrays, and would make another index.
_PROBE = Document(
    "probe",
    "Probe",
    "The CPC’s International Department, founded in 1951, has ties with 600+ parties in 160 countries. Dr. Smith "
    "said it's “cooperating” — 3.5% growth!\n\nÜnïcödé ﬁnance: running runners ran 1,000 delegations (e.g. U.S.).",
)


def _fingerprint() -> tuple[str, str]:
    """This process's askidcpc version, and a hash of :func:`partition` of a probe document."""
    part = partition([_PROBE])
    digest = hashlib.sha256(json.dumps(part.terms, ensure_ascii=False).encode("utf-8"))
    for array in (
        part.passage_len,
        part.passage_tf.indptr,
        part.passage_tf.rows,
        part.passage_tf.counts,
        part.paragraph_len,
        part.paragraph_tf.indptr,
        part.paragraph_tf.rows,
        part.paragraph_tf.counts,
        part.passage_start,
        part.passage_end,
        part.passage_paragraph,
    ):
        digest.update(array.tobytes())
    digest.update(part.doc_meta + "".join(part.doc_hashes).encode("ascii"))
    return askidcpc.__version__, digest.hexdigest()[:16]


class DaskWorkers:
    """A Dask client's workers as :class:`~askidcpc.index.partition.Workers`: a partition is a task (never cached
    by key: ``pure=False``), and waiting for one notices a cluster with no worker left."""

    def __init__(self, client: Any, where: str, interrupted: threading.Event | None = None) -> None:
        self._client = client
        self._where = where
        self._interrupted = interrupted or threading.Event()
        self.slots = max(1, sum(client.nthreads().values()))
        self._no_workers_since: float | None = None

    @property
    def client(self) -> Any:
        """The :class:`distributed.Client`."""
        return self._client

    @property
    def where(self) -> str:
        """The cluster, as named to the user."""
        return self._where

    def submit(self, run: Sequence[Document]) -> Pending:
        return _Task(self, self._client.submit(partition, run, pure=False))

    def wait(self, future: Any) -> Partial:
        """The result of ``future``, a partition's task; AskError when it cannot come."""
        from distributed import KilledWorker

        while True:
            if self._interrupted.is_set():  # a Ctrl-C that a callback swallowed (see _taking_interrupts)
                raise KeyboardInterrupt
            try:
                part: Partial = future.result(timeout=_POLL)
                return part
            except TimeoutError:
                pass
            except KilledWorker as exc:
                raise AskError(
                    f"the Dask cluster at {self._where} lost every worker it ran a partition on (out of memory, or "
                    f"killed; tried {self._allowed_failures() + 1} times); the index was not changed"
                ) from exc
            except (CancelledError, OSError) as exc:  # the scheduler gone: the client cancels its futures
                raise self._lost() from exc
            try:
                self._check_workers()
            except OSError as exc:
                raise self._lost() from exc

    def _lost(self) -> AskError:
        return AskError(f"lost the connection to the Dask scheduler at {self._where}; the index was not changed")

    def _check_workers(self) -> None:
        if self._client.nthreads():
            self._no_workers_since = None
            return
        now = time.monotonic()
        if self._no_workers_since is None:
            self._no_workers_since = now
            log.warning("the Dask cluster at %s has no workers; waiting for one", self._where)
        elif now - self._no_workers_since > NO_WORKERS_TIMEOUT:
            raise AskError(
                f"the Dask cluster at {self._where} has had no workers for {NO_WORKERS_TIMEOUT:g} s; "
                "the index was not changed"
            )

    @staticmethod
    def _allowed_failures() -> int:
        import dask

        return int(dask.config.get("distributed.scheduler.allowed-failures"))


@dataclass(frozen=True)
class _Task:
    workers: DaskWorkers
    future: Any

    def result(self) -> Partial:
        return self.workers.wait(self.future)


@contextlib.contextmanager
def connect(address: ClusterAddress, timeout: float | None = None) -> Iterator[DaskWorkers]:
    """The workers of the cluster at ``address``, for the time of the ``with`` block; a local cluster is started
    for it and shut down after. Raises AskError (at once, one line) when Dask is not installed, the scheduler cannot
    be reached or has no worker within ``timeout`` seconds (default :data:`CONNECT_TIMEOUT`), or the workers do not
    split, tokenize and count a probe document as this process does (another askidcpc, or none)."""
    if timeout is None:
        timeout = CONNECT_TIMEOUT
    try:
        import distributed
    except ImportError as exc:
        raise AskError(f"--cluster needs Dask: {INSTALL}") from exc
    with contextlib.ExitStack() as stack:
        if address.local:
            cluster = _uninterrupted(
                lambda: distributed.LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=address.local,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    scheduler_port=0,
                    dashboard_address=None,
                    # The workers' own log lines (a cancelled partition's warning when the build stops) are Dask's
                    # business; a failure that matters reaches this process as an error.
                    silence_logs=logging.ERROR,
                )
            )
            stack.callback(_uninterrupted, cluster.close)
            scheduler = cluster.scheduler_address
        else:
            scheduler = address.scheduler
        try:
            client = distributed.Client(scheduler, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise AskError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s; nothing was written"
            ) from exc
        stack.callback(_uninterrupted, client.close)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as exc:
            raise AskError(
                f"the Dask scheduler at {address} has no workers (none joined within {timeout:g} s); "
                "nothing was written"
            ) from exc
        _check_workers(client, str(address))
        interrupted = stack.enter_context(_taking_interrupts())
        yield DaskWorkers(client, str(address), interrupted)


def _uninterrupted(action: Callable[[], T]) -> T:
    """``action()`` with Ctrl-C ignored (when this is the main thread): starting a local cluster, whose worker
    processes keep ignoring it (a terminal sends Ctrl-C to the whole process group: only this process takes it, and
    shuts them down in order), and shutting a cluster down (a second Ctrl-C does not cut that short)."""
    if threading.current_thread() is not threading.main_thread():
        return action()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return action()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _taking_interrupts() -> Iterator[threading.Event]:
    """An event set by Ctrl-C. Python raises KeyboardInterrupt in whatever code the main thread runs, and Dask runs
    code of its own there (its scheduler's garbage-collection monitor, a ``gc`` callback), where the exception is
    printed ("Exception ignored in ...") and dropped: such a one is kept quiet, and the event tells
    :meth:`DaskWorkers.wait` to raise it again. Cut off between a collection's start and its end, the monitor then
    fails an assertion at each later collection: after an interrupt those are kept quiet too, and the monitor is
    stopped on the way out (the cluster's shutdown collects garbage)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    default_hook = sys.unraisablehook

    def on_unraisable(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            interrupted.set()
        elif not (interrupted.is_set() and _in_gc_monitor(unraisable.object)):
            default_hook(unraisable)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    sys.unraisablehook = on_unraisable
    try:
        yield interrupted
    finally:
        if interrupted.is_set():
            from distributed.gc import disable_gc_diagnosis

            disable_gc_diagnosis(force=True)  # type: ignore[no-untyped-call]
        sys.unraisablehook = default_hook
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _in_gc_monitor(where: Any) -> bool:
    """Whether ``where`` (an unraisable exception's object) is Dask's garbage-collection monitor."""
    return type(getattr(where, "__self__", None)).__module__ == "distributed.gc"


def _check_workers(client: Any, where: str) -> None:
    """Every worker must split, tokenize and count as this process does (the same askidcpc): else the index would
    not be the one a single process builds."""
    try:
        found: dict[str, tuple[str, str]] = client.run(_fingerprint)
    except Exception as exc:  # a worker that cannot import askidcpc fails to load the probe: Dask raises a plain
        # Exception carrying the worker's error text
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AskError(
            f"the workers of the Dask cluster at {where} cannot run this askidcpc ({reason}): install askidcpc "
            f"{askidcpc.__version__} on them; nothing was written"
        ) from exc
    expected = _fingerprint()
    other = sorted({version for version, fingerprint in found.values() if (version, fingerprint) != expected})
    if other:
        raise AskError(
            f"the workers of the Dask cluster at {where} run another askidcpc ({', '.join(other)}) that splits or "
            f"tokenizes differently: install this one ({askidcpc.__version__}) on them; nothing was written"
        )
