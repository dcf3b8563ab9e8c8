"""Admission control: the server's limits (ServerLimits) and the count of asks admitted at once."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    """Limits the server enforces on every request, beyond the request model's own."""

    max_body_bytes: int = 64 * 1024
    # Threads that run ask() at once. It is CPU work under the GIL: more threads only interleave it, which
    # stretches every request's latency; requests beyond this wait their turn.
    ask_threads: int = 2
    # Asks admitted at once, running or waiting for a thread; one more gets 503 at once. ask() takes 2-3 ms on the
    # bundled corpus (8-9 ms at a million sentences), so a full queue drains in well under a second.
    max_pending: int = 64
    # An ask not answered within this many seconds (waiting included) gets 503; its thread finishes on its own
    # and keeps its place in max_pending until it does, so abandoned work cannot pile up.
    ask_timeout_s: float = 10.0
    # Seconds a client told 503 is asked to wait (Retry-After).
    retry_after_s: int = 1


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
