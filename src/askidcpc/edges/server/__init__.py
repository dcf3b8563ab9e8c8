"""The HTTP edge: FastAPI over :meth:`askidcpc.pipeline.Pipeline.ask`, served by uvicorn (``askidcpc serve``).

Routes: ``POST /ask`` (request object in, answer object out), ``GET /health``, ``GET /documents``,
``GET /documents/{doc_id}``, ``GET /documents/{doc_id}/context`` (a cited sentence with its neighbours, for the
page), ``GET /examples`` (example questions drawn from the served corpus, for the start screen), ``GET /docs``
(OpenAPI page, assets served locally), ``GET /`` (the web chat page in ``static/``). ``HEAD`` is answered like
``GET`` without a body, ``OPTIONS`` with 204 and ``Allow``; SIGHUP reloads a rebuilt index without a restart.

The pipeline is built once, in the lifespan, and shared read-only by every request; ``ask()`` is CPU work, so it
runs in the thread pool, never on the event loop. A repeated request is answered on the event loop from the answer
cache (:class:`cache.AnswerCache`, ``Settings.answer_cache`` entries, one per loaded index) with its first answer's
bytes. The server keeps no conversation state: a follow-up carries its
``history``. Errors are JSON: 422 for an invalid body, 404 for an unknown document, 413 for a body over
:attr:`ServerLimits.max_body_bytes`; nothing a client sends should produce a 500.

Limits (:class:`ServerLimits`): at most ``max_pending`` asks are admitted at once (running or waiting for one of
``ask_threads`` threads); one more is turned away at once with 503 and ``Retry-After``, not queued. An ask that has
not answered within ``ask_timeout_s`` gets 503 too. An unexpected exception is logged here with its traceback and
answered 503 "internal error" with no detail. CORS is off unless ``Settings.cors_origins`` names origins.
"""

from askidcpc.edges.server.admission import ServerLimits
from askidcpc.edges.server.app import STATIC_DIR, app_from_env, create_app
from askidcpc.edges.server.handlers import INTERNAL_ERROR
from askidcpc.edges.server.models import NOT_ONLY_WHITE_SPACE, AskRequest
from askidcpc.edges.server.run import GRACEFUL_SHUTDOWN_S, serve

__all__ = [
    "GRACEFUL_SHUTDOWN_S",
    "INTERNAL_ERROR",
    "NOT_ONLY_WHITE_SPACE",
    "STATIC_DIR",
    "AskRequest",
    "ServerLimits",
    "app_from_env",
    "create_app",
    "serve",
]
