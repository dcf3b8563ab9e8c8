"""The FastAPI app: create_app (routes over the pipeline, loaded once in the lifespan) and app_from_env."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from askidcpc.config import DEFAULT_TOP_K, MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from askidcpc.edges.context import MAX_NEIGHBOURS, ContextFinder
from askidcpc.edges.examples import ExampleCache
from askidcpc.edges.server.admission import ServerLimits, _Admission, _Ticket
from askidcpc.edges.server.cache import AnswerCache, answer_key
from askidcpc.edges.server.handlers import _on_ask_error, _on_http_error, _on_unexpected, _on_validation_error
from askidcpc.edges.server.middleware import BodySizeLimit, CatchUnexpected, HeadAndOptions
from askidcpc.edges.server.models import (
    FILTER_ITEMS,
    ISO_DATE,
    NOT_ONLY_WHITE_SPACE,
    AnswerModel,
    AskRequest,
    ContextModel,
    DocumentModel,
    DocumentTextModel,
    ErrorModel,
    HealthModel,
    InvalidModel,
    SearchModel,
    trim,
)
from askidcpc.errors import AskError
from askidcpc.pipeline import Pipeline
from askidcpc.types import Filter

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# Only our own origin: the page must work with no network, and nothing it shows can run script.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class _Loaded:
    """One loaded index: the pipeline, its context finder and its answer cache, swapped together in one assignment
    by a reload. A request takes it once, so it answers (and caches) from one index even while another is swapped
    in; the new index starts with an empty cache."""

    pipeline: Pipeline
    finder: ContextFinder
    answers: AnswerCache


@dataclass
class _Served:
    """What the lifespan loads once and every request reads."""

    current: _Loaded | None = None
    reloading: bool = False
    limiter: anyio.CapacityLimiter | None = None  # held by an ask from start to its thread's return
    pool: anyio.CapacityLimiter | None = None  # anyio's worker threads for asks (not its shared default pool)
    admission: _Admission | None = None


class ExamplesModel(BaseModel):
    """Example questions for the page's start screen (see askidcpc.edges.examples)."""

    examples: list[str] = Field(
        description="questions drawn from the served corpus that it answers; may be empty (a small corpus)"
    )


JSON = "application/json"


def _render(content: dict[str, Any]) -> bytes:
    """``content`` in JSON exactly as JSONResponse renders it (compact, UTF-8): once, for the response and the
    answer cache."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def _warm_up(pipeline: Pipeline) -> None:
    try:
        pipeline.ask("When was it founded?")
    except AskError as exc:  # a corpus that cannot answer still serves; the warm-up only loads code and data
        log.info("warm-up question not answered: %s", exc)


def _methods(app: FastAPI, scope: Any) -> set[str]:
    """The methods the routes of ``app`` take at the path in ``scope`` (a mount of static files: GET); ``OPTIONS *``:
    every method the app has."""
    if scope.get("path") == "*":
        return {method for route in app.router.routes for method in getattr(route, "methods", None) or ()}
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or {"GET"})
    return methods


def create_app(
    settings: Settings,
    *,
    pipeline: Pipeline | None = None,
    limits: ServerLimits | None = None,
    reload_on_sighup: bool = False,
) -> FastAPI:
    """The FastAPI app over the corpus ``settings`` names (or over ``pipeline``, already built).

    The corpus is loaded and indexed at start-up (lifespan), once; a CorpusError then stops the start-up. A saved
    index is memory-mapped: replacing or deleting its folder does not disturb the loaded one, which keeps answering.
    ``app.state.reload()`` (and SIGHUP, with ``reload_on_sighup``; only in the main thread's event loop) loads the
    corpus ``settings`` names again in the background and swaps it in between requests: requests in flight finish on
    the old one, none is dropped. A reload that fails logs one line and keeps serving the old one.
    """
    limits = limits or ServerLimits()
    served = _Served()
    example_cache = ExampleCache()
    background: set[asyncio.Task[bool]] = set()

    async def reload() -> bool:
        """Load the corpus again and serve it from now on; False (logged) when it cannot be loaded."""
        if served.reloading:
            log.warning("reload: one is already running; this one is ignored")
            return False
        served.reloading = True
        try:
            fresh: Pipeline = await run_in_threadpool(Pipeline.load, settings)
            await run_in_threadpool(_warm_up, fresh)
            finder = await run_in_threadpool(ContextFinder.from_pipeline, fresh)
        except (AskError, OSError) as exc:
            old = served.current.pipeline if served.current else None
            log.warning(
                "reload failed, still serving the previous %s: %s",
                f"{len(old.documents)} documents" if old else "corpus",
                exc,
            )
            return False
        finally:
            served.reloading = False
        served.current = _Loaded(fresh, finder, AnswerCache(settings.answer_cache))
        log.info("reloaded: %d documents, %d passages", len(fresh.documents), len(fresh.passages))
        return True

    def on_sighup() -> None:
        log.info("SIGHUP: reloading %s", settings.corpus)
        task = asyncio.ensure_future(reload())
        background.add(task)  # a reference, so the task is not collected before it ends
        task.add_done_callback(background.discard)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pipeline is None:
            loaded: Pipeline = await run_in_threadpool(Pipeline.load, settings)
            # One question before serving reads the lexicon and the reader's tables, so the first user does not wait
            # for them; on a large index it also starts loading the compiled kernels on a thread (questions meanwhile
            # take numpy paths of the same answers: askidcpc.index._kernels.numpy_until_loaded).
            await run_in_threadpool(_warm_up, loaded)
        else:
            loaded = pipeline
        served.current = _Loaded(loaded, ContextFinder.from_pipeline(loaded), AnswerCache(settings.answer_cache))
        served.limiter = anyio.CapacityLimiter(limits.ask_threads)
        served.pool = anyio.CapacityLimiter(limits.ask_threads)
        served.admission = _Admission(limits.max_pending)
        app.state.admission = served.admission  # read-only view for tests and diagnostics
        app.state.reload = reload
        log.info("ready: %d documents, %d passages", len(loaded.documents), len(loaded.passages))
        if not reload_on_sighup:
            yield
            return
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)

    def ready() -> _Loaded:
        current = served.current
        if current is None:  # only before the lifespan has run
            raise HTTPException(status_code=503, detail="starting up; try again in a moment")
        return current

    app = FastAPI(
        title="askidcpc",
        summary="Extractive question answering with citations over a collection of news articles.",
        description="The objects, limits and errors are described in docs/api.md of the askidcpc repository.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(AskError, _on_ask_error)
    app.add_exception_handler(Exception, _on_unexpected)
    # Innermost: HEAD and OPTIONS for every route (a CORS preflight is the CORS middleware's, outside it).
    app.add_middleware(HeadAndOptions, allowed=lambda scope: _methods(app, scope))
    # Added before the CORS one, so it runs inside it: CORS headers and the body cap still apply to its 503.
    app.add_middleware(CatchUnexpected, retry_after_s=limits.retry_after_s)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

        app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
        docs_assets = "/docs-assets"
    except ImportError:  # pragma: no cover - the dependency is declared; fall back to FastAPI's CDN assets
        docs_assets = ""

    retry_after = {"Retry-After": str(limits.retry_after_s)}
    errors: dict[int | str, dict[str, Any]] = {
        422: {"model": InvalidModel, "description": "invalid request"},
        413: {"model": ErrorModel, "description": "request body too large"},
        503: {
            "model": ErrorModel,
            "description": f"busy ({limits.max_pending} questions already in hand) or over the time limit "
            f"({limits.ask_timeout_s:g} s); try again after Retry-After seconds",
        },
    }

    def unavailable(detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=503, headers=retry_after)

    @app.post("/ask", response_model=AnswerModel, responses=errors, summary="Answer a question")
    async def ask(request: AskRequest) -> Response:
        """The answer object for a request object (see docs/api.md). Follow-ups carry ``history``; ``doc_id``,
        ``source``, ``since`` and ``until`` restrict the documents cited."""
        loaded = ready()
        pipeline_, answers = loaded.pipeline, loaded.answers
        where = Filter.build(request.doc_id, request.source, request.since, request.until)
        key = answer_key(request.question, request.top_k, request.history, where)
        cached = answers.get(key)
        if cached is not None:  # answered before from this index: the same bytes, with no thread and no slot
            return Response(cached, media_type=JSON)
        if where.active:
            pipeline_.allowed(where)  # a filter that matches no document is a 422 now, before taking a slot
        admission = served.admission
        assert admission is not None  # set with the pipeline
        if not admission.enter():
            return unavailable(f"busy: {admission.limit} questions are already being answered; try again in a moment")
        ticket = _Ticket()
        threads = served.limiter
        assert threads is not None and served.pool is not None
        loop = asyncio.get_running_loop()

        def ask_one() -> Any:
            if not ticket.claim():
                return None  # the request gave up before this thread started: skip the work
            try:
                # Without a filter, the call every edge has always made (``filter`` is passed only when one is set).
                restrict = {"filter": where} if where.active else {}
                return pipeline_.ask(request.question, top_k=request.top_k, history=request.history, **restrict)
            finally:
                admission.leave()
                # Handed to the loop without waiting for it to run: this thread is free at once.
                with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody waits for the thread slot
                    loop.call_soon_threadsafe(threads.release_on_behalf_of, ticket)

        answer = None
        has_thread = False
        try:
            with anyio.move_on_after(limits.ask_timeout_s):
                await threads.acquire_on_behalf_of(ticket)
                has_thread = True
                # abandon_on_cancel: a thread cannot be stopped; on timeout the request answers now and the thread
                # finishes on its own, holding its thread and admission slots until it does (see _Ticket).
                answer = await anyio.to_thread.run_sync(ask_one, limiter=served.pool, abandon_on_cancel=True)
        finally:
            if ticket.claim():  # never started (timed out waiting, or cancelled): give its slots back here
                if has_thread:
                    threads.release_on_behalf_of(ticket)
                admission.leave()
        if answer is None:
            log.warning("a question took over %g s; answered 503", limits.ask_timeout_s)
            return unavailable(
                f"the question took longer than the limit of {limits.ask_timeout_s:g} s; try again in a moment"
            )
        rendered = _render(answer.to_dict())
        answers.put(key, rendered)
        return Response(rendered, media_type=JSON)

    @app.get("/search", response_model=SearchModel, responses=errors, summary="The sentences that match words best")
    async def search(
        q: Annotated[
            str,
            BeforeValidator(trim),
            Query(
                min_length=1,
                max_length=MAX_QUESTION_CHARS,
                description=f"the words to look for, 1 to {MAX_QUESTION_CHARS:,} characters after trimming",
                json_schema_extra={"pattern": NOT_ONLY_WHITE_SPACE},
            ),
        ],
        top_k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="sentences to return at most")] = DEFAULT_TOP_K,
        doc_id: Annotated[
            list[str] | None, Query(description="only these documents (repeatable)", json_schema_extra=FILTER_ITEMS)
        ] = None,
        source: Annotated[
            list[str] | None,
            Query(description="only these sources, any case (repeatable)", json_schema_extra=FILTER_ITEMS),
        ] = None,
        since: Annotated[
            str | None, Query(pattern=ISO_DATE, description="only documents dated on or after this ISO date")
        ] = None,
        until: Annotated[
            str | None, Query(pattern=ISO_DATE, description="only documents dated on or before this ISO date")
        ] = None,
    ) -> dict[str, Any]:
        """The retriever's ranking of sentences for ``q``, with citations, and no answering step; the same limits
        and filters as ``POST /ask``."""
        pipeline_ = ready().pipeline
        where = Filter.build(doc_id, source, since, until)
        citations = await run_in_threadpool(pipeline_.search, q, top_k, where if where.active else None)
        return {"query": q, "results": [citation.to_dict() for citation in citations]}

    @app.get("/health", response_model=HealthModel, summary="Whether the index is loaded")
    async def health() -> dict[str, Any]:
        pipeline_ = ready().pipeline
        return {"status": "ok", "documents": len(pipeline_.documents), "passages": len(pipeline_.passages)}

    @app.get("/documents", response_model=list[DocumentModel], summary="The documents' metadata")
    async def documents() -> list[dict[str, Any]]:
        pipeline_ = ready().pipeline
        return [document.metadata() for document in pipeline_.documents]

    @app.get("/examples", response_model=ExamplesModel, summary="Example questions the corpus answers")
    async def examples() -> dict[str, Any]:
        """Up to four questions about the served corpus's most salient names that it answers, derived on the first
        request (and again after a reload) and then cached."""
        pipeline_ = ready().pipeline
        return {"examples": list(await run_in_threadpool(example_cache.examples, pipeline_))}

    def document_or_404(pipeline_: Pipeline, doc_id: str) -> Any:
        document = pipeline_.documents_by_id.get(doc_id)
        if document is None:
            raise HTTPException(status_code=404, detail=f"no document {doc_id!r}; GET /documents lists them")
        return document

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentTextModel,
        responses={404: {"model": ErrorModel}, 422: {"model": InvalidModel, "description": "invalid request"}},
        summary="A document's metadata and full text",
    )
    async def document(doc_id: str) -> dict[str, Any]:
        pipeline_ = ready().pipeline
        found = document_or_404(pipeline_, doc_id)
        return {**found.metadata(), "text": found.text}

    @app.get(
        "/documents/{doc_id}/context",
        response_model=ContextModel,
        responses={404: {"model": ErrorModel}, 422: {"model": InvalidModel, "description": "invalid request"}},
        summary="A cited sentence with the sentences around it",
    )
    async def context(
        doc_id: str,
        start: Annotated[int, Query(ge=0, description="the citation's start offset")],
        end: Annotated[int, Query(ge=0, description="the citation's end offset")],
        neighbours: Annotated[int, Query(ge=0, le=MAX_NEIGHBOURS, description="sentences either side")] = 1,
    ) -> dict[str, Any]:
        loaded = ready()
        pipeline_, finder = loaded.pipeline, loaded.finder
        document_or_404(pipeline_, doc_id)
        found = finder.context(doc_id, start, end, neighbours)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no sentence of {doc_id!r} at [{start}:{end}]")
        return found.to_dict()

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not docs_assets:  # pragma: no cover
            return get_swagger_ui_html(openapi_url="/openapi.json", title="askidcpc API")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="askidcpc API",
            swagger_js_url=f"{docs_assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{docs_assets}/swagger-ui.css",
            swagger_favicon_url=f"{docs_assets}/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    return app


def app_from_env() -> FastAPI:
    """The app over ``Settings.from_env()``: the factory each uvicorn worker process calls (``--workers N``)."""
    return create_app(Settings.from_env())
