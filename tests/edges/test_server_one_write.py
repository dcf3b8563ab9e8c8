"""Each response in one write (askidcpc.edges.server.one_write): the protocol driven over a transport that records
what it is asked to do, against uvicorn's own h11 protocol, which writes a response's head and body apart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from askidcpc.config import Settings
from askidcpc.edges.server import create_app
from askidcpc.edges.server.one_write import OneWriteH11Protocol

BODY = {"answer": "x" * 1000}


class RecordingTransport(asyncio.Transport):
    """Records each write and the close, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes | str] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(bytes(data))

    def close(self) -> None:
        self.calls.append("close")

    def is_closing(self) -> bool:
        return "close" in self.calls

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def small_app() -> FastAPI:
    app = FastAPI()

    @app.get("/answer")
    async def answer() -> dict[str, str]:
        return BODY

    return app


def not_started_app() -> Any:
    # askidcpc's own app and middlewares, its lifespan not run: every route answers 503 ("starting up")
    return create_app(Settings())


def complete(data: bytes) -> bool:
    head, separator, body = data.partition(b"\r\n\r\n")
    lengths = [line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return bool(separator) and len(body) == int(lengths[0])


async def exchange(protocol_class: type[H11Protocol], app: Any, request: bytes) -> list[bytes | str]:
    transport = RecordingTransport()
    protocol = protocol_class(uvicorn.Config(app, lifespan="off", log_level="warning"), ServerState(), {})
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(1000):  # a bound (10 s), not a timing
        written = b"".join(call for call in transport.calls if isinstance(call, bytes))
        if complete(written) and (b"connection: close" not in written or transport.is_closing()):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # anything written late would show up here
    calls = list(transport.calls)
    protocol.connection_lost(None)
    return calls


def request(path: str, closes: bool) -> bytes:
    close = b"connection: close\r\n" if closes else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nhost: replica\r\n" + close + b"\r\n"


@pytest.mark.parametrize(
    ("app", "path", "status"),
    [(small_app, "/answer", b"200"), (not_started_app, "/health", b"503")],
    ids=["fastapi", "askidcpc-not-started"],
)
@pytest.mark.parametrize("closes", [False, True], ids=["keep-alive", "close"])
def test_a_response_is_one_write_where_uvicorn_makes_two(app: Any, path: str, status: bytes, closes: bool) -> None:
    plain = asyncio.run(exchange(H11Protocol, app(), request(path, closes)))
    writes = [call for call in plain if isinstance(call, bytes)]
    assert len(writes) >= 2 and complete(b"".join(writes))  # uvicorn alone: the head, then the body
    calls = asyncio.run(exchange(OneWriteH11Protocol, app(), request(path, closes)))
    response = calls[0]
    assert isinstance(response, bytes) and response.startswith(b"HTTP/1.1 " + status), calls
    assert response == b"".join(writes)  # the same bytes, all at once
    assert calls[1:2] == (["close"] if closes else []), calls  # closed after the response, if at all
    assert [call for call in calls if isinstance(call, bytes)] == [response], calls
