"""The ASGI middlewares: CatchUnexpected (a bug becomes a generic 503), BodySizeLimit (413), and HeadAndOptions
(HEAD and OPTIONS answered for every route, as a web server does)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from askidcpc.edges.server.handlers import INTERNAL_ERROR

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


class HeadAndOptions:
    """ASGI middleware: ``HEAD`` is answered like ``GET`` without the body (same status and headers, including
    Content-Length), and ``OPTIONS`` with 204 and an ``Allow`` header listing the path's methods; a path no route
    takes goes on to the app (404). ``allowed(scope)`` names the methods of the path in ``scope``, or none. A CORS
    preflight is answered by the CORS middleware outside this one, when origins are configured."""

    def __init__(self, app: ASGIApp, allowed: Callable[[Scope], set[str]]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        methods = self.allowed(scope)
        if "GET" in methods:
            methods |= {"HEAD"}
        if method == "OPTIONS" and methods:
            allow = ", ".join(sorted(methods | {"OPTIONS"}))
            await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode())]})
            await send({"type": "http.response.body", "body": b""})
        elif method == "HEAD" and "GET" in methods:
            await self.app({**scope, "method": "GET"}, receive, _HeadersOnly(send))
        else:
            await self.app(scope, receive, send)


class _HeadersOnly:
    """An ASGI ``send`` that passes the response's start (status and headers) and drops its body."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.done = False

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self.send(message)
        elif not self.done and not message.get("more_body", False):
            self.done = True
            await self.send({"type": "http.response.body", "body": b""})


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
