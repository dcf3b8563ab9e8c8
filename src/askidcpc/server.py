"""The HTTP edge: FastAPI over :meth:`askidcpc.pipeline.Pipeline.ask`, served by uvicorn (``askidcpc serve``).

Routes: ``POST /ask`` (request object in, answer object out), ``GET /health``, ``GET /documents``,
``GET /documents/{doc_id}``, ``GET /documents/{doc_id}/context`` (a cited sentence with its neighbours, for the
page), ``GET /docs`` (OpenAPI page, assets served locally), ``GET /`` (the web chat page in ``static/``).

The pipeline is built once, in the lifespan, and shared read-only by every request; ``ask()`` is CPU work, so it
runs in the thread pool, never on the event loop. The server keeps no conversation state: a follow-up carries its
``history``. Errors are JSON: 422 for an invalid body, 404 for an unknown document, 413 for a body over
:attr:`ServerLimits.max_body_bytes`; nothing a client sends should produce a 500.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from askidcpc.context import MAX_NEIGHBOURS, ContextFinder
from askidcpc.errors import AskError, QuestionError
from askidcpc.pipeline import Pipeline

__all__ = ["STATIC_DIR", "AskRequest", "ServerLimits", "app_from_env", "create_app", "serve"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Only our own origin: the page must work with no network, and nothing it shows can run script.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServerLimits:
    """Limits the server enforces on every request, beyond the request model's own."""

    max_body_bytes: int = 64 * 1024
    # Threads that run ask() at once. It is CPU work under the GIL: more threads only interleave it, which
    # stretches every request's latency; requests beyond this wait their turn.
    ask_threads: int = 2


# ---- request and response models: the CONTRACT's objects, with its limits in the OpenAPI schema ----


def _trim(value: object) -> object:
    # The question's limits apply after trimming, as in askidcpc.pipeline.validate_request.
    return value.strip() if isinstance(value, str) else value


class AskRequest(BaseModel):
    """A question, optionally with the conversation's earlier questions for follow-ups."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "question": "And what job did he have before?",
                    "top_k": 3,
                    "history": ["Who heads the CPC International Department?"],
                }
            ]
        },
    )

    question: Annotated[
        str,
        BeforeValidator(_trim),
        Field(
            min_length=1,
            max_length=MAX_QUESTION_CHARS,
            strict=True,
            description=f"the question, 1 to {MAX_QUESTION_CHARS:,} characters after trimming",
        ),
    ]
    top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, strict=True, description="citations to return at most")] = 3
    history: Annotated[
        list[Annotated[str, Field(max_length=MAX_QUESTION_CHARS, strict=True)]],
        Field(max_length=MAX_HISTORY, description="earlier questions of the same conversation, oldest first"),
    ] = []


class CitationModel(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    sentence: str = Field(description="exactly text[start:end] of the document")
    start: int
    end: int
    score: float


class AnswerModel(BaseModel):
    question: str = Field(description="the question, trimmed")
    answer: str | None = Field(description="corpus sentences, verbatim; null when the articles do not answer it")
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[CitationModel] = Field(description="best first; the nearest sentences when answer is null")


class HealthModel(BaseModel):
    status: str
    documents: int
    passages: int


class DocumentModel(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str | None
    author: str | None
    url: str | None
    chars: int


class DocumentTextModel(DocumentModel):
    text: str


class ContextModel(BaseModel):
    doc_id: str
    start: int
    end: int
    before: str = Field(description="the sentences before, exactly as in the document's text")
    sentence: str
    after: str = Field(description="the sentences after, exactly as in the document's text")


class ErrorModel(BaseModel):
    detail: str


# ---- errors ----


def _location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return f"the body is not valid JSON: {reason} at character {loc[-1] if len(loc) > 1 else 0}"
    if kind == "missing" and loc == ("body",):
        return 'the body must be a JSON object with a \'question\', e.g. {"question": "Who heads the department?"}'
    if kind == "model_attributes_type" and loc == ("body",):
        return "the body must be a JSON object (sent as application/json) with a 'question'"
    if loc == ("body", "question") and kind in ("too_short", "string_too_short"):
        return "question is empty; ask something, e.g. 'When was the International Department founded?'"
    if loc == ("body", "question") and kind in ("too_long", "string_too_long"):
        return f"question is over the limit of {MAX_QUESTION_CHARS:,} characters (after trimming)"
    if loc == ("body", "history") and kind == "too_long":
        return f"history has more than {MAX_HISTORY} earlier questions; send the last {MAX_HISTORY}"
    if kind == "extra_forbidden":
        return f"unknown field {_location(loc)!r}; the fields are question, top_k and history"
    return f"{_location(loc)}: {error.get('msg', 'invalid')}"


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [dict(error) for error in exc.errors()]
    detail = "; ".join(dict.fromkeys(_describe(error) for error in errors)) or "invalid request"
    listed = [{"loc": [str(part) for part in error.get("loc", ())], "msg": _describe(error)} for error in errors]
    return JSONResponse({"detail": detail, "errors": listed}, status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError):
        # FastAPI's body reader: bytes that are no text at all are an invalid body like any other bad JSON.
        return JSONResponse({"detail": "the body is not valid JSON: it is not UTF-8 text"}, status_code=422)
    return await http_exception_handler(request, exc)


async def _on_ask_error(request: Request, exc: Exception) -> JSONResponse:
    status = 422 if isinstance(exc, QuestionError) else 400
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not the client's fault: log it in full, tell the client nothing internal.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``, by Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.strip().isdigit() and int(value) > self.max_bytes:
                await self._too_large(send)
                return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"the request body is over the limit of {self.max_bytes:,} bytes"}, status_code=413
        )
        await response({"type": "http"}, _no_receive, send)


class _BodyTooLarge(HTTPException):
    # An HTTPException so that FastAPI's body reader re-raises it rather than turning it into a 400.
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="the request body is too large")


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


# ---- the app ----


@dataclass
class _Served:
    """What the lifespan loads once and every request reads."""

    pipeline: Pipeline | None = None
    finder: ContextFinder | None = None
    limiter: anyio.CapacityLimiter | None = None


def create_app(settings: Settings, *, pipeline: Pipeline | None = None, limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app over the corpus ``settings`` names (or over ``pipeline``, already built).

    The corpus is loaded and indexed at start-up (lifespan), once; a CorpusError then stops the start-up.
    """
    limits = limits or ServerLimits()
    served = _Served()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded: Pipeline = pipeline if pipeline is not None else await run_in_threadpool(Pipeline.load, settings)
        served.pipeline = loaded
        served.finder = ContextFinder.from_pipeline(loaded)
        served.limiter = anyio.CapacityLimiter(limits.ask_threads)
        log.info("ready: %d documents, %d passages", len(loaded.documents), len(loaded.passages))
        yield

    def ready() -> tuple[Pipeline, ContextFinder]:
        if served.pipeline is None or served.finder is None:  # only before the lifespan has run
            raise HTTPException(status_code=503, detail="starting up; try again in a moment")
        return served.pipeline, served.finder

    app = FastAPI(
        title="askidcpc",
        summary="Extractive question answering with citations over a collection of news articles.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(AskError, _on_ask_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

        app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
        docs_assets = "/docs-assets"
    except ImportError:  # pragma: no cover - the dependency is declared; fall back to FastAPI's CDN assets
        docs_assets = ""

    errors: dict[int | str, dict[str, Any]] = {
        422: {"model": ErrorModel, "description": "invalid request"},
        413: {"model": ErrorModel, "description": "request body too large"},
    }

    @app.post("/ask", response_model=AnswerModel, responses=errors, summary="Answer a question")
    async def ask(request: AskRequest) -> JSONResponse:
        """The answer object for a request object (see CONTRACT.md). Follow-ups carry ``history``."""
        pipeline_, _ = ready()
        ask_one = functools.partial(pipeline_.ask, request.question, top_k=request.top_k, history=request.history)
        answer = await anyio.to_thread.run_sync(ask_one, limiter=served.limiter)
        return JSONResponse(answer.to_dict())

    @app.get("/health", response_model=HealthModel, summary="Whether the index is loaded")
    async def health() -> dict[str, Any]:
        pipeline_, _ = ready()
        return {"status": "ok", "documents": len(pipeline_.documents), "passages": len(pipeline_.passages)}

    @app.get("/documents", response_model=list[DocumentModel], summary="The documents' metadata")
    async def documents() -> list[dict[str, Any]]:
        pipeline_, _ = ready()
        return [document.metadata() for document in pipeline_.documents]

    def document_or_404(pipeline_: Pipeline, doc_id: str) -> Any:
        document = pipeline_.documents_by_id.get(doc_id)
        if document is None:
            raise HTTPException(status_code=404, detail=f"no document {doc_id!r}; GET /documents lists them")
        return document

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentTextModel,
        responses={404: {"model": ErrorModel}},
        summary="A document's metadata and full text",
    )
    async def document(doc_id: str) -> dict[str, Any]:
        pipeline_, _ = ready()
        found = document_or_404(pipeline_, doc_id)
        return {**found.metadata(), "text": found.text}

    @app.get(
        "/documents/{doc_id}/context",
        response_model=ContextModel,
        responses={404: {"model": ErrorModel}},
        summary="A cited sentence with the sentences around it",
    )
    async def context(
        doc_id: str,
        start: Annotated[int, Query(ge=0, description="the citation's start offset")],
        end: Annotated[int, Query(ge=0, description="the citation's end offset")],
        neighbours: Annotated[int, Query(ge=0, le=MAX_NEIGHBOURS, description="sentences either side")] = 1,
    ) -> dict[str, Any]:
        pipeline_, finder = ready()
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


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> int:
    """Serve the app with uvicorn until interrupted; returns the exit status.

    The corpus is loaded here first, so that a bad corpus is a clean error (CorpusError) before anything listens.
    """
    import uvicorn

    pipeline = Pipeline.load(settings)
    logging.getLogger("askidcpc").setLevel(logging.INFO)
    where = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    log.info(
        "serving %d documents on %s (%s); the chat page is at /, the API at /docs",
        len(pipeline.documents),
        where,
        "this machine only" if _is_loopback(host) else "reachable from other machines",
    )
    try:
        if workers == 1:
            uvicorn.run(create_app(settings, pipeline=pipeline), host=host, port=port, log_level="info")
        else:
            # Worker processes build their own app from the environment; hand them the corpus checked here.
            os.environ["ASKIDCPC_CORPUS"] = str(Path(settings.corpus).resolve())
            uvicorn.run(
                "askidcpc.server:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="info"
            )
    except SystemExit as exc:  # uvicorn exits when it cannot start (it has logged why, e.g. the port is in use)
        if exc.code not in (0, None):
            raise AskError(f"could not serve on {where} (see the error above)") from None
    return 0
