"""uvicorn's h11 protocol with each response sent in one write (OneWriteH11Protocol), for ``askidcpc serve``.

uvicorn writes a response's status line and headers when the app starts the response, and its body in a later
write; under load the answering threads can hold the GIL between the two for tens of milliseconds. A replica killed
then (SIGKILL, out of memory) leaves a load balancer holding a response that has begun and will never end, and
HAProxy cannot send that request to another replica: it drops its copy of a request once the response headers have
arrived. Its client got the headers of a 200 and no body (deploy/README.md, "Stopping a replica, or losing one").
Starlette sends a response's start and body without waiting in between, so here what is written in one turn of the
event loop goes out in one write: a response reaches the socket whole or not at all, and one a killed replica did
not send is retried on another replica like any request left unanswered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["OneWriteH11Protocol"]


class _OneWriteTransport:
    """A connection's transport that sends what is written during one turn of the event loop in one write; every
    other call goes to the real transport."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        if data and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()  # what was written before close() goes out before the connection closes
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteH11Protocol(H11Protocol):
    """uvicorn's h11 protocol (``uvicorn.Config(http=OneWriteH11Protocol)``), each response sent in one write."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneWriteTransport(transport))  # type: ignore[arg-type]
