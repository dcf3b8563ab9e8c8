"""The HTTP edge: FastAPI over :meth:`askidcpc.pipeline.Pipeline.ask`, served by uvicorn (``askidcpc serve``).

Routes: ``POST /ask`` (request object in, answer object out), ``GET /health``, ``GET /documents``,
``GET /documents/{doc_id}``, ``GET /documents/{doc_id}/context`` (a cited sentence with its neighbours, for the
page), ``GET /docs`` (OpenAPI page, assets served locally), ``GET /`` (the web chat page in ``static/``).

The pipeline is built once, in the lifespan, and shared read-only by every request; ``ask()`` is CPU work, so it
runs in the thread pool, never on the event loop. The server keeps no conversation state: a follow-up carries its
``history``. Errors are JSON: 422 for an invalid body, 404 for an unknown document, 413 for a body over
:attr:`ServerLimits.max_body_bytes`; nothing a client sends should produce a 500.

Limits (:class:`ServerLimits`): at most ``max_pending`` asks are admitted at once (running or waiting for one of
``ask_threads`` threads); one more is turned away at once with 503 and ``Retry-After``, not queued. An ask that has
not answered within ``ask_timeout_s`` gets 503 too. An unexpected exception is logged here with its traceback and
answered 503 "internal error" with no detail. CORS is off unless ``Settings.cors_origins`` names origins.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS, MAX_TOP_K, Settings
from askidcpc.edges.context import MAX_NEIGHBOURS, ContextFinder
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


# Seconds in-flight requests get to finish after SIGTERM or Ctrl-C: above ServerLimits.ask_timeout_s, so every
# admitted ask has answered (or timed out) by then.
GRACEFUL_SHUTDOWN_S = 30


@dataclass(frozen=True)
class ServerLimits:
    """Limits the server enforces on every request, beyond the request model's own."""

    max_body_bytes: int = 64 * 1024
    # Threads that run ask() at once. It is CPU work under the GIL: more threads only interleave it, which
    # stretches every request's latency; requests beyond this wait their turn.
    ask_threads: int = 2
    # Asks admitted at once, running or waiting for a thread; one more gets 503 at once. ask() takes about
    # 0.5 ms on the bundled corpus, so a full queue drains in well under a second.
    max_pending: int = 64
    # An ask not answered within this many seconds (waiting included) gets 503; its thread finishes on its own
    # and keeps its place in max_pending until it does, so abandoned work cannot pile up.
    ask_timeout_s: float = 10.0
    # Seconds a client told 503 is asked to wait (Retry-After).
    retry_after_s: int = 1


# ---- request and response models: the CONTRACT's objects, with its limits in the OpenAPI schema ----


# A character str.strip() would not remove (every character but those with str.isspace()), as a regular
# expression that Python and ECMAScript read alike; tests check it against str.isspace() over all of Unicode.
NOT_ONLY_WHITE_SPACE = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _trim(value: object) -> object:
    # The question's limits apply after trimming, as in askidcpc.pipeline.validate_request.
    return value.strip() if isinstance(value, str) else value


def _integral(value: object) -> object:
    # JSON Schema counts 4.0 as an integer (the schema says "integer"), so accept it as 4; 2.5, "3" and true are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


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
            # Published, not checked here (trimming, then min_length, is the check): not only white space.
            json_schema_extra={"pattern": NOT_ONLY_WHITE_SPACE},
        ),
    ]
    top_k: Annotated[
        int,
        Field(ge=1, le=MAX_TOP_K, strict=True, description="citations to return at most"),
        BeforeValidator(_integral),  # after Field: it wraps the checks, so runs first
    ] = 3
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


class InvalidItemModel(BaseModel):
    loc: list[str] = Field(description='where, e.g. ["body", "top_k"]')
    msg: str


class InvalidModel(BaseModel):
    """A 422: ``detail`` says what is wrong in words; ``errors`` lists each problem with its place."""

    detail: str
    errors: list[InvalidItemModel]


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
        return _invalid("the body is not valid JSON: it is not UTF-8 text")
    return await http_exception_handler(request, exc)


def _invalid(detail: str) -> JSONResponse:
    # The shape of every 422 (InvalidModel), also for the ones FastAPI's validation does not produce.
    return JSONResponse({"detail": detail, "errors": [{"loc": ["body"], "msg": detail}]}, status_code=422)


async def _on_ask_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, QuestionError):
        return _invalid(str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=400)


INTERNAL_ERROR = "internal error; it has been logged, try again"


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not the client's fault: log it in full, tell the client nothing internal. (Normally caught first by
    # CatchUnexpected; this handler is Starlette's last resort.)
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": INTERNAL_ERROR}, status_code=503, headers={"Retry-After": "1"})


class _TrackedSend:
    """An ASGI ``send`` that remembers whether the response has started (after that, no error response can be sent)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.response_started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.send(message)


class CatchUnexpected:
    """ASGI middleware: an exception no handler took becomes 503 with a generic JSON body; the traceback is only
    logged. (Starlette's own last-resort handler re-raises to the server after answering, which logs it twice.)"""

    def __init__(self, app: ASGIApp, retry_after_s: int) -> None:
        self.app = app
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = _TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except StarletteHTTPException:
            raise  # 413 while the body streams in: answered by BodySizeLimit
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if tracked.response_started:
                raise
            response = JSONResponse(
                {"detail": INTERNAL_ERROR}, status_code=503, headers={"Retry-After": str(self.retry_after_s)}
            )
            await response(scope, _no_receive, send)


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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        tracked = _TrackedSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except _BodyTooLarge:
            if tracked.response_started:
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


class _Admission:
    """How many asks are admitted (running or waiting for a thread); at most ``limit``. Thread-safe: a slot is
    given back by whichever side settles its :class:`_Ticket`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.pending >= self.limit:
                return False
            self.pending += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.pending -= 1


class _Ticket:
    """One admitted ask. Claimed once: by its thread when it starts the work, or by the request when it gives up
    before the thread started (time limit, client gone). The claimant gives the admission slot back."""

    def __init__(self) -> None:
        self._claimed = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True


@dataclass
class _Served:
    """What the lifespan loads once and every request reads."""

    pipeline: Pipeline | None = None
    finder: ContextFinder | None = None
    limiter: anyio.CapacityLimiter | None = None  # held by an ask from start to its thread's return
    pool: anyio.CapacityLimiter | None = None  # anyio's worker threads for asks (not its shared default pool)
    admission: _Admission | None = None


def _warm_up(pipeline: Pipeline) -> None:
    try:
        pipeline.ask("When was it founded?")
    except AskError as exc:  # a corpus that cannot answer still serves; the warm-up only loads code and data
        log.info("warm-up question not answered: %s", exc)


def create_app(settings: Settings, *, pipeline: Pipeline | None = None, limits: ServerLimits | None = None) -> FastAPI:
    """The FastAPI app over the corpus ``settings`` names (or over ``pipeline``, already built).

    The corpus is loaded and indexed at start-up (lifespan), once; a CorpusError then stops the start-up.
    """
    limits = limits or ServerLimits()
    served = _Served()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pipeline is None:
            loaded: Pipeline = await run_in_threadpool(Pipeline.load, settings)
            # One question before serving loads the compiled kernels' cache and the lexicon, so the first user does
            # not wait for them (about 0.5 s).
            await run_in_threadpool(_warm_up, loaded)
        else:
            loaded = pipeline
        served.pipeline = loaded
        served.finder = ContextFinder.from_pipeline(loaded)
        served.limiter = anyio.CapacityLimiter(limits.ask_threads)
        served.pool = anyio.CapacityLimiter(limits.ask_threads)
        served.admission = _Admission(limits.max_pending)
        app.state.admission = served.admission  # read-only view for tests and diagnostics
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
    # Added first, so it runs inside the others: CORS headers and the body cap still apply to its 503.
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
    async def ask(request: AskRequest) -> JSONResponse:
        """The answer object for a request object (see CONTRACT.md). Follow-ups carry ``history``."""
        pipeline_, _ = ready()
        admission = served.admission
        assert admission is not None  # set with the pipeline
        if not admission.enter():
            return unavailable(f"busy: {admission.limit} questions are already being answered; try again in a moment")
        ticket = _Ticket()
        threads = served.limiter
        assert threads is not None and served.pool is not None
        loop = anyio.lowlevel.current_token()

        def ask_one() -> Any:
            if not ticket.claim():
                return None  # the request gave up before this thread started: skip the work
            try:
                return pipeline_.ask(request.question, top_k=request.top_k, history=request.history)
            finally:
                admission.leave()
                with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody waits for the thread slot
                    anyio.from_thread.run_sync(threads.release_on_behalf_of, ticket, token=loop)

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
        responses={404: {"model": ErrorModel}, 422: {"model": InvalidModel, "description": "invalid request"}},
        summary="A document's metadata and full text",
    )
    async def document(doc_id: str) -> dict[str, Any]:
        pipeline_, _ = ready()
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
    if settings.cors_origins:
        log.info("CORS: allowing %s", ", ".join(settings.cors_origins))
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to the bound below), then re-raises
    # the signal to the handler it found; this one makes that a clean exit with status 0.
    previous = signal.signal(signal.SIGTERM, _stopped_by_sigterm)
    try:
        if workers == 1:
            uvicorn.run(
                create_app(settings, pipeline=pipeline),
                host=host,
                port=port,
                log_level="info",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
        else:
            # Worker processes build their own app from the environment; hand them the corpus checked here.
            os.environ["ASKIDCPC_CORPUS"] = str(Path(settings.corpus).resolve())
            os.environ["ASKIDCPC_CORS_ORIGINS"] = ",".join(settings.cors_origins)
            uvicorn.run(
                "askidcpc.edges.server:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="info",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            )
    except SystemExit as exc:  # uvicorn exits when it cannot start (it has logged why, e.g. the port is in use)
        if exc.code not in (0, None):
            raise AskError(f"could not serve on {where} (see the error above)") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _stopped_by_sigterm(signum: int, frame: object) -> None:
    # Reached when uvicorn re-raises SIGTERM after its graceful shutdown, or on a SIGTERM before it listens.
    log.info("stopped by SIGTERM")
    raise SystemExit(0)
