"""The exception handlers: every error a JSON body (422 in words, 400, 404, 503 for a bug with nothing internal)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from askidcpc.config import MAX_HISTORY, MAX_QUESTION_CHARS
from askidcpc.errors import QuestionError

log = logging.getLogger(__name__)


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
    if loc == ("query", "q") and kind in ("too_short", "string_too_short"):
        return "q is empty; look for some words, e.g. q=political+parties"
    if loc == ("query", "q") and kind in ("too_long", "string_too_long"):
        return f"q is over the limit of {MAX_QUESTION_CHARS:,} characters (after trimming)"
    if loc[-1:] in (("since",), ("until",)) and kind == "string_pattern_mismatch":
        return f"{loc[-1]} must be an ISO date such as 2007, 2016-06 or 2016-06-26"
    if loc == ("body", "history") and kind == "too_long":
        return f"history has more than {MAX_HISTORY} earlier questions; send the last {MAX_HISTORY}"
    if kind == "extra_forbidden":
        fields = "question, top_k, history, doc_id, source, since and until"
        return f"unknown field {_location(loc)!r}; the fields are {fields}"
    return f"{_location(loc)}: {error.get('msg', 'invalid')}"


def _listed(error: dict[str, Any]) -> dict[str, Any]:
    """One item of a 422's ``errors``: ``loc`` names the field (["body", "history", "0"]); for a body that is not
    JSON it is ["body"], with the character offset where parsing failed as ``position``."""
    loc = list(error.get("loc", ()))
    item: dict[str, Any] = {"msg": _describe(error)}
    if error.get("type") == "json_invalid" and len(loc) > 1 and isinstance(loc[-1], int):
        item["position"] = loc.pop()
    item["loc"] = [str(part) for part in loc]
    return item


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [dict(error) for error in exc.errors()]
    detail = "; ".join(dict.fromkeys(_describe(error) for error in errors)) or "invalid request"
    listed = [_listed(error) for error in errors]
    return JSONResponse({"detail": detail, "errors": listed}, status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError):
        # FastAPI's body reader: bytes that are no text at all are an invalid body like any other bad JSON.
        return _invalid("the body is not valid JSON: it is not UTF-8 text")
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        # JSON nested deeper than Python's json reads (about 1,000 levels, well under the body limit).
        return _invalid("the body is not valid JSON for this API: it is nested too deeply")
    return await http_exception_handler(request, exc)


def _invalid(detail: str, where: str = "body") -> JSONResponse:
    # The shape of every 422 (InvalidModel), also for the ones FastAPI's validation does not produce.
    return JSONResponse({"detail": detail, "errors": [{"loc": [where], "msg": detail}]}, status_code=422)


async def _on_ask_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, QuestionError):
        # A GET route (/search) takes its request in the query string, POST /ask in the body.
        return _invalid(str(exc), "query" if request.method in ("GET", "HEAD") else "body")
    return JSONResponse({"detail": str(exc)}, status_code=400)


INTERNAL_ERROR = "internal error; it has been logged, try again"


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not the client's fault: log it in full, tell the client nothing internal. (Normally caught first by
    # CatchUnexpected; this handler is Starlette's last resort.)
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": INTERNAL_ERROR}, status_code=503, headers={"Retry-After": "1"})
