"""Refuse new requests at the door while the ones already inside wait too long to start.

A server past its capacity used to take every request in: each was read, routed, parsed and
validated, queued for a thread and then for a database connection, and refused with a 503
only after the pool's wait, having cost nearly as much CPU as an answer and making the
requests behind it later still. Here each process notes when its API requests arrive and
when they start their database work (the session dependency opens their session). While the
oldest request still waiting to start has waited longer than the database wait
(STOCKPILOT_DB_WAIT_SECONDS), the server is not keeping up: a new request is answered 503
with Retry-After at once, before its body is read and before any session exists. A burst
the server drains within that wait is never refused; the health check always answers.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from sync_server.db import ARRIVED_AT
from sync_server.errors import RETRY_AFTER_S, problem

_SCOPE_KEY = "stockpilot.admission"
API_PREFIX = "/api/"
# Always let these in: a probe must see a busy server as alive.
_ALWAYS = frozenset({"/api/v1/health"})


class WaitingRequests:
    """The requests of this process that arrived and have not started their work yet."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()
        self._next = 0
        self.refused = 0

    def arrive(self, at: float) -> int:
        """Note a request that arrived at `at` (time.monotonic()); return its ticket."""
        with self._lock:
            self._next += 1
            self._waiting[self._next] = at
            return self._next

    def started(self, ticket: int) -> None:
        """Note that the request began its work (or ended): it no longer waits."""
        with self._lock:
            self._waiting.pop(ticket, None)

    def oldest_wait(self, now: float) -> float:
        """Return how long the request waiting longest has waited (0 when none waits)."""
        with self._lock:
            if not self._waiting:
                return 0.0
            return now - next(iter(self._waiting.values()))


def started(scope: Scope) -> None:
    """Mark the request of this scope as started (called as its session opens)."""
    entry = scope.get(_SCOPE_KEY)
    if entry is not None:
        waiting, ticket = entry
        waiting.started(ticket)


class Admission:
    """Answer 503 at once while requests already admitted wait longer than ``wait_s``."""

    def __init__(self, app: ASGIApp, *, waiting: WaitingRequests, wait_s: float) -> None:
        self.app = app
        self.waiting = waiting
        self.wait_s = wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(API_PREFIX) or path in _ALWAYS:
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        if self.waiting.oldest_wait(now) > self.wait_s:
            self.waiting.refused += 1
            response = problem(
                status=503,
                type_="database-unavailable",
                title="Database unavailable",
                detail="The server is busy with other requests; try again shortly.",
                instance=path,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        ticket = self.waiting.arrive(ARRIVED_AT.get() or now)
        scope[_SCOPE_KEY] = (self.waiting, ticket)
        try:
            await self.app(scope, receive, send)
        finally:
            self.waiting.started(ticket)
