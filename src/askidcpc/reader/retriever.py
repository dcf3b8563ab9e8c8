"""The retriever interface: what the reader (:mod:`askidcpc.reader.answer`) needs from wherever the passages live.

:class:`~askidcpc.pipeline.Pipeline` is the in-process implementation (BM25 over an in-memory or memory-mapped
saved index). A search cluster backend (OpenSearch or Elasticsearch, whose default similarity is BM25) would be one
new module with a class that has these members; see ``docs/scaling.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from askidcpc.reader.query import Query
from askidcpc.reader.rank import Ranked
from askidcpc.types import Document, Hit, Passage

__all__ = ["Retriever", "TermLookup"]


@runtime_checkable
class Retriever(Protocol):
    """Ranked passages for a query, and the lookups the reader makes about them.

    - :meth:`retrieve`: the ``k`` best passages for a weighted query (term -> weight, terms as
      :func:`askidcpc.text.tokenize.tokenize` makes them), best first, as Hits whose passages carry exact offsets into
      their document's text.
    - :meth:`ranked`: the same ranking as pids with their raw sentence and paragraph BM25 scores, and the best of
      each for the query (the reader's features are made of them).
    - :meth:`passage`: one passage by pid; :meth:`paragraph`: the passages of a pid's paragraph, in text order.
    - ``documents_by_id``: each document by ``doc_id`` (metadata for citations, text for checking them). A remote
      backend answers lookups one at a time; nothing iterates over all documents when answering.
    - ``idf_by_term``: each term's idf, for the reader's support score (how much of the question a sentence
      covers); a remote backend computes it from the term's document frequency and the passage count.
    - ``passage_vectors``: each passage's unit sentence vector by :mod:`askidcpc.reader.semantic`'s model, float16
      rows indexed by pid, or None when the passages have none (the reader then uses no cosine feature). Read-only.
    """

    @property
    def documents_by_id(self) -> Mapping[str, Document]: ...

    @property
    def idf_by_term(self) -> Mapping[str, float]: ...

    @property
    def passage_vectors(self) -> npt.NDArray[np.float16] | None: ...

    def retrieve(self, query: Query, k: int) -> list[Hit]: ...

    def ranked(self, query: Query, k: int) -> Ranked: ...

    def passage(self, pid: int) -> Passage: ...

    def paragraph(self, pid: int) -> Sequence[Passage]: ...


@runtime_checkable
class TermLookup(Protocol):
    """What a retriever with its index at hand can also tell without reading any text (optional: the reader reads
    the text of each candidate's paragraph from a retriever without it). Terms are index terms; a passage holds a
    term when :func:`askidcpc.text.tokenize.tokenize` of its text gives it.

    - :meth:`paragraph_bounds`: each pid's paragraph as a pid range ``[first, end)``.
    - :meth:`holds`: whether each of ``pids`` holds each of ``terms`` (one row a pid, one column a term).
    - :meth:`paragraph_holds`: the same for the whole paragraph of each of ``pids``.
    """

    def paragraph_bounds(self, pids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

    def holds(self, pids: npt.NDArray[np.int64], terms: Sequence[str]) -> npt.NDArray[np.bool_]: ...

    def paragraph_holds(self, pids: npt.NDArray[np.int64], terms: Sequence[str]) -> npt.NDArray[np.bool_]: ...
