"""Past capacity, a request is refused at the door: 503 with Retry-After, nothing read or run.

The door stands on PostgreSQL (on SQLite, WriterTurn refuses queued writers the same way).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import event

from sync_server.admission import WaitingRequests
from tests.server.test_orders import level, order_body, post, stock, store

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


def test_a_new_request_is_refused_at_once_while_an_admitted_one_waits_too_long(world):
    stock(world, quantity="10")
    shop = store(world)
    waiting: WaitingRequests = world.client.app.state.waiting
    wait_s = world.client.app.state.settings.db_wait_seconds
    # A request that arrived longer ago than the wait and has not started its work yet.
    stale = waiting.arrive(time.monotonic() - wait_s - 0.5)
    statements: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(world.engine, "before_cursor_execute", note)
    try:
        refused = post(shop, order_body("DOOR-1"))
        # Malformed JSON would be a 400 once read: the refusal never reads the body.
        unread = shop.post(
            "orders",
            content=b"{not json",
            headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
        )
        health = world.client.get("/api/v1/health")
    finally:
        event.remove(world.engine, "before_cursor_execute", note)
    assert refused.status_code == 503 and unread.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/database-unavailable")
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert health.status_code == 200  # a probe still sees a live server
    assert not [s for s in statements if "orders" in s or "api_keys" in s], statements
    assert waiting.refused == 2
    assert level(world) == (Decimal("10"), Decimal("0"))
    # Once the queue moves again, requests are served.
    waiting.started(stale)
    assert post(shop, order_body("DOOR-1")).status_code == 201
    assert level(world) == (Decimal("10"), Decimal("2"))


def test_requests_that_start_within_the_wait_are_let_in(world):
    waiting = WaitingRequests()
    now = time.monotonic()
    first = waiting.arrive(now - 1.0)
    waiting.arrive(now - 0.2)
    assert waiting.oldest_wait(now) == pytest.approx(1.0)
    waiting.started(first)
    assert waiting.oldest_wait(now) == pytest.approx(0.2)
    # The app answered every request above: none is left waiting in the real door.
    shop = store(world)
    stock(world, quantity="3")
    assert post(shop, order_body("DOOR-2", ("ADMIN-0", "1"))).status_code == 201
    assert world.client.app.state.waiting.oldest_wait(time.monotonic()) == 0.0
