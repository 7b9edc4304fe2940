"""On the embedded SQLite server, writing requests take turns before they use a thread."""

from __future__ import annotations

import time

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from sync_server.db import ARRIVED_AT
from sync_server.errors import RETRY_AFTER_S, problem

# Even a request that queued elsewhere for all its wait gets this long for a free turn.
_LAST_CHANCE_S = 0.05


class WriterTurn:
    """Let one writing request into the app at a time, first come first served.

    SQLite has one writer, and a request holds the write lock from its first query to its
    commit. Queueing for the lock inside a request thread holds that thread while waiting:
    in a burst every thread ends up waiting while the writer waits for a free thread to run
    its next step, and the burst drains slowly and mostly times out. Here writers queue on
    the event loop, holding nothing, each at most ``wait_s`` counted from its arrival, and
    then are answered 503 with Retry-After at once. Reads (GET, HEAD) run beside the writer,
    as WAL allows. PostgreSQL needs none of this: its writers lock only the rows they touch.
    """

    def __init__(self, app: ASGIApp, *, wait_s: float) -> None:
        self.app = app
        self.wait_s = wait_s
        self._turn: anyio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if self._turn is None:
            self._turn = anyio.Lock()  # made in the server's event loop; waiters queue in order
        arrived = ARRIVED_AT.get() or time.monotonic()
        left = self.wait_s - (time.monotonic() - arrived)
        acquired = False
        with anyio.move_on_after(max(left, _LAST_CHANCE_S)):
            await self._turn.acquire()
            acquired = True
        if not acquired:
            response = problem(
                status=503,
                type_="database-unavailable",
                title="Database unavailable",
                detail="The server is busy with other writes; try again shortly.",
                instance=scope.get("path"),
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._turn.release()
