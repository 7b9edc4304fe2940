"""Run a request again, inside the server, when the database broke a deadlock by failing it.

Why a middleware, and why replaying is safe:

* A request is one unit of work: the session dependency (foundation/deps.py) opens one transaction
  and commits it before the answer is sent. When PostgreSQL picks that transaction as a
  deadlock victim (40P01) or fails it for serialisation (40001), it is rolled back whole:
  nothing of the request exists. Running the request again from the start is exactly what a
  client retrying would do, only sooner and without the client ever seeing the failure.
  Idempotency keys (orders) and event ids (pushes) keep a request that did commit from
  applying twice, so a replay can never double anything either.
* FastAPI cannot run a route again from a dependency (the dependency's teardown sees the
  error after the route has returned), and wrapping every service call would put retry
  loops in a hundred routes. Below the routing, an ASGI middleware can: it buffers the
  request body (BodyLimit, outside it, bounds its size), runs the app, and when the error
  handler marks the answer as a retryable database failure (``mark_retryable``) it drops
  that answer before a byte of it is sent and runs the app again with the same body.
* A read sent to the replica that turns out to need the primary (sync_server/replica.py's
  ``UseThePrimary``) is replayed too, on the primary: it changed nothing.
* Only those failures are replayed. A busy SQLite file ("database is locked"), a full
  connection pool or a lost database are answered at once with 503 and Retry-After: waiting
  longer inside the server would only turn a prompt refusal into a slow one.
"""

from __future__ import annotations

import logging
import random
import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync_server.db import ARRIVED_AT

log = logging.getLogger("stockpilot.retry")

_KEY = "stockpilot.retry"
# Three more tries after the first, backing off 10-40 ms, 20-80 ms, 30-120 ms: long enough
# for the winning transaction to commit, short enough to stay invisible to the client.
ATTEMPTS = 4
BASE_DELAY_S = 0.01


class _Attempt:
    """What one run of the app learned about its failure (shared through the scope)."""

    __slots__ = ("retryable", "use_primary")

    def __init__(self) -> None:
        self.retryable = False
        self.use_primary = False


def mark_retryable(scope: Scope) -> bool:
    """Mark the request's current run as a retryable failure; say if a retry will follow."""
    attempt = scope.get(_KEY)
    if attempt is None:
        return False
    attempt.retryable = True
    return scope.get(_KEY + ".last") is False


def mark_use_primary(scope: Scope) -> bool:
    """Mark a replica read to be run again on the primary; say if a retry will follow."""
    attempt = scope.get(_KEY)
    if attempt is not None:
        attempt.use_primary = True
    return mark_retryable(scope)


def must_use_primary(scope: Scope) -> bool:
    """Say whether an earlier run of this request found that the replica cannot serve it."""
    return bool(scope.get(_KEY + ".primary"))


class RetryOnConflict:
    """Replay a request whose transaction lost a deadlock or a serialisation check."""

    def __init__(self, app: ASGIApp, *, attempts: int = ATTEMPTS) -> None:
        self.app = app
        self.attempts = attempts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body: nobody to answer
        use_primary = False
        for number in range(1, self.attempts + 1):
            attempt = _Attempt()
            last = number == self.attempts
            # A fresh copy per run: routing writes into the scope and must start clean.
            run_scope = {
                **scope,
                _KEY: attempt,
                _KEY + ".last": last,
                _KEY + ".primary": use_primary,
            }
            dropped = await self._run(run_scope, _replay(body, receive), send, attempt, last)
            if not dropped:
                return
            if attempt.use_primary:
                use_primary = True
                continue  # not a conflict: run it on the primary at once
            # A warning: rare by design (sync_server/inventory lock order); often means a
            # path that does not lock its stock up front.
            log.warning(
                "%s %s lost a database conflict (try %d); running it again",
                scope.get("method"),
                scope.get("path"),
                number,
            )
            await anyio.sleep(random.uniform(BASE_DELAY_S, 4 * BASE_DELAY_S) * number)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, attempt: _Attempt, last: bool
    ) -> bool:
        """Run the app once; return True when its answer was dropped for a retry."""
        dropping = False

        async def guarded(message: Message) -> None:
            nonlocal dropping
            if message["type"] == "http.response.start" and attempt.retryable and not last:
                dropping = True
            if not dropping:
                await send(message)

        await self.app(scope, receive, guarded)
        return dropping


async def _read_body(receive: Receive) -> list[Message] | None:
    """Read the whole request body; None when the client disconnected first."""
    messages: list[Message] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def _replay(body: list[Message], receive: Receive) -> Receive:
    """Hand the buffered body out again, then listen to the client (for a disconnect)."""
    queue = list(body)

    async def replayed() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replayed


class Arrival:
    """Note when a request arrived: its queueing for the database counts from then."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = ARRIVED_AT.set(time.monotonic()) if scope["type"] == "http" else None
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                ARRIVED_AT.reset(token)
