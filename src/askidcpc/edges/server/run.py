"""Serving the app with uvicorn (``askidcpc serve``): one process, or N workers built from the environment."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from pathlib import Path

from askidcpc.config import Settings
from askidcpc.edges.server.app import create_app
from askidcpc.errors import AskError
from askidcpc.pipeline import Pipeline

log = logging.getLogger(__name__)


# Seconds in-flight requests get to finish after SIGTERM or Ctrl-C: above ServerLimits.ask_timeout_s, so every
# admitted ask has answered (or timed out) by then.
GRACEFUL_SHUTDOWN_S = 30


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _bind(host: str, port: int, where: str) -> socket.socket:
    """The listening address, bound now (as uvicorn binds it), so that a busy port or a bad host is one line before
    anything says it is serving; AskError when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, as uvicorn names it: asyncio sets TCP_NODELAY only on connections of a socket that says so,
    # and without it each response (headers and body written apart) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AskError(f"could not serve on {where}: {(exc.strerror or str(exc)).lower()}") from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> int:
    """Serve the app with uvicorn until interrupted; returns the exit status.

    The address is bound and the corpus loaded here first, so that a busy port or a bad corpus is a clean error
    (AskError, CorpusError) before anything says it is serving. With one process, SIGHUP reloads the corpus or
    saved index in the background and swaps it in (see create_app); with ``workers``, uvicorn restarts the workers
    one by one on SIGHUP.
    """
    import uvicorn

    from askidcpc.edges.server.one_write import OneWriteH11Protocol

    where = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    # SIGHUP's default ends the process: until the server handles it, one is ignored.
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sock = _bind(host, port, where)
    try:
        pipeline = Pipeline.load(settings)
        logging.getLogger("askidcpc").setLevel(logging.INFO)
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
                config = uvicorn.Config(
                    create_app(settings, pipeline=pipeline, reload_on_sighup=True),
                    host=host,
                    port=port,
                    log_level="info",
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                    http=OneWriteH11Protocol,  # see one_write: a killed replica's response is whole or not sent
                )
                server = uvicorn.Server(config)
                # uvicorn re-raises Ctrl-C after its graceful shutdown: a normal stop, as under uvicorn.run.
                with contextlib.suppress(KeyboardInterrupt):
                    server.run(sockets=[sock])
                if not server.started:
                    raise AskError(f"could not serve on {where} (see the error above)")
            else:
                sock.close()  # uvicorn binds the address again for its workers (SO_REUSEADDR: at once)
                # Worker processes build their own app from the environment; hand them the corpus checked here.
                os.environ["ASKIDCPC_CORPUS"] = str(Path(settings.corpus).resolve())
                os.environ["ASKIDCPC_CORS_ORIGINS"] = ",".join(settings.cors_origins)
                os.environ["ASKIDCPC_SEMANTIC"] = "1" if settings.semantic else "0"
                os.environ["ASKIDCPC_ANSWER_CACHE"] = str(settings.answer_cache)
                signal.signal(signal.SIGHUP, previous_hup)
                uvicorn.run(
                    "askidcpc.edges.server.app:app_from_env",
                    factory=True,
                    host=host,
                    port=port,
                    workers=workers,
                    log_level="info",
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                    http=OneWriteH11Protocol,
                )
        except SystemExit as exc:  # uvicorn exits when it cannot start (it has logged why)
            if exc.code not in (0, None):
                raise AskError(f"could not serve on {where} (see the error above)") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        sock.close()
        signal.signal(signal.SIGHUP, previous_hup)
    return 0


def _stopped_by_sigterm(signum: int, frame: object) -> None:
    # Reached when uvicorn re-raises SIGTERM after its graceful shutdown, or on a SIGTERM before it listens.
    log.info("stopped by SIGTERM")
    raise SystemExit(0)
