"""POST /orders runs its whole unit of work in one trip through the thread pool.

Every trip is counted at anyio's worker-thread entry (FastAPI's sync dependencies, its sync
routes and run_in_threadpool all go through it). A store whose key the server still keeps
places an order in one trip; the first order of a key takes one more, to read the key with
the session the order then uses. The caller is still checked before the body is read, and
a session opened for that check is given back when the route never runs.
"""

from __future__ import annotations

from sync_server.apikeys import service as apikeys
from tests.factories import RATE_COUNTER_TRIP, Api
from tests.server.test_orders import level, order_body, post, stock, store


def _route_trips(world, trips: list[str], requests: int) -> list[str]:
    """Return the trips other than the rate-limit counter's, checking those were one each."""
    in_database = world.engine.dialect.name != "sqlite"
    assert trips.count(RATE_COUNTER_TRIP) == (requests if in_database else 0), trips
    return [trip for trip in trips if trip != RATE_COUNTER_TRIP]


def _checked_out(world) -> int | None:
    checkedout = getattr(world.engine.pool, "checkedout", None)
    return checkedout() if checkedout is not None else None


def test_an_order_takes_one_trip_once_the_key_is_kept(world, trips):
    stock(world, quantity="10")
    shop = store(world)
    trips.clear()
    first = post(shop, order_body("HOP-1", ("ADMIN-0", "2")))
    assert first.status_code == 201, first.text
    # The rate limiter's look-up of the key's business, then the order.
    assert len(_route_trips(world, trips, 1)) == 2, trips
    trips.clear()
    second = post(shop, order_body("HOP-2", ("ADMIN-0", "3")))
    assert second.status_code == 201, second.text
    assert len(_route_trips(world, trips, 1)) == 1, trips
    # Both committed before their answers: the stock is reserved and the orders read back.
    assert level(world) == (10, 5)
    for answer in (first, second):
        got = shop.get(f"orders/{answer.json()['id']}")
        assert got.status_code == 200 and got.json()["status"] == "pending_payment"


def test_the_caller_is_checked_before_the_body(world, trips):
    stock(world, quantity="10")
    shop = store(world)
    assert post(shop, order_body("HOP-3")).status_code == 201  # the key is kept now
    # No credential, or a key without orders:write: refused before the (empty) body is read.
    anonymous = world.client.post("/api/v1/orders", json={}, headers={"Idempotency-Key": "a"})
    assert anonymous.status_code == 401, anonymous.text
    reader = store(world, scopes=("catalog:read",))
    denied = post(reader, {})
    assert denied.status_code == 403, denied.text
    assert denied.json()["required_permission"] == "orders.write"
    # A kept key with a bad body: the body's problems, no trip at all.
    trips.clear()
    bad = post(shop, {"lines": []})
    assert bad.status_code == 422, bad.text
    assert _route_trips(world, trips, 1) == []
    # A key revoked here stops at once, kept or not.
    made = world.api("admin").post("api-keys", json={"name": "w2", "scopes": ["orders:write"]})
    revocable = Api(world.client, made.json()["key"])
    assert post(revocable, order_body("HOP-4")).status_code == 201  # kept now
    revoked = world.api("admin").post(f"api-keys/{made.json()['id']}/revoke")
    assert revoked.status_code == 200
    refused = post(revocable, order_body("HOP-5"))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_session_opened_for_the_caller_is_given_back_when_the_route_never_runs(world, trips):
    shop = store(world)
    reader = store(world, scopes=("catalog:read",))
    for _ in range(2):  # the second time round, the rate limiter knows both keys' tenant
        apikeys.forget_resolved_keys()
        before = _checked_out(world)
        trips.clear()
        # Neither key is kept: each is read with a session the route would have used.
        assert post(shop, {"lines": []}).status_code == 422  # the body refused after the key
        assert post(reader, order_body("HOP-7")).status_code == 403
    assert _checked_out(world) == before
    # The session was closed in a trip of its own (its connection went back to the pool).
    assert _route_trips(world, trips, 2) == ["_resolve_opening", "Session.close"] * 2, trips
    # The answer stored under a key is still the one a retry reads back.
    stock(world, quantity="5")
    key = "HOP-KEY"
    placed = post(shop, order_body("HOP-6", ("ADMIN-0", "1")), key=key)
    again = post(shop, order_body("HOP-6", ("ADMIN-0", "1")), key=key)
    assert placed.status_code == 201 and again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == placed.json()
