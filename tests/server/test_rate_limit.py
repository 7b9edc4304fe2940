"""Bursts over the limit get 429 with Retry-After, and nothing they asked for happens."""

from __future__ import annotations

import pytest

from sync_server.main import create_app
from tests.asgi import TestClient
from tests.factories import Api, build_world, hold_rate_limit_window


@pytest.fixture(params=["memory", "database"])
def limited(request, settings, engine):
    tight = settings.model_copy(
        update={
            "rate_limit_store": request.param,
            "rate_limit_write_per_minute": 3,
            "rate_limit_read_per_minute": 5,
            "rate_limit_login_per_minute": 50,
        }
    )
    app = create_app(tight, engine=engine)
    hold_rate_limit_window(app)  # bursts must not straddle two windows
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(engine, client)
        admin = world.api("admin")
        yield world, admin


def test_write_burst_is_refused_and_has_no_effect(limited):
    world, api = limited
    codes = [api.post("suppliers", json={"name": f"Burst {i}"}).status_code for i in range(6)]
    assert codes == [201, 201, 201, 429, 429, 429]
    refused = api.post("suppliers", json={"name": "One more"})
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Remaining"] == "0"
    # Another caller is not held back by this one, and sees only the 3 that were made.
    names = [s["name"] for s in world.api("manager").get("suppliers").json()["items"]]
    assert sorted(names) == ["Burst 0", "Burst 1", "Burst 2"]


def test_limits_are_per_caller_and_reads_have_their_own_budget(limited):
    world, api = limited
    statuses = [api.get("branches").status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    ok = world.api("viewer").get("branches")
    assert ok.status_code == 200 and ok.headers["RateLimit-Limit"] == "5"


def test_anonymous_callers_are_limited_by_address(limited):
    world, _ = limited
    anonymous = Api(world.client, None)
    statuses = {anonymous.get("products").status_code for _ in range(7)}
    assert statuses == {401, 429}


def _counter_rows(engine) -> int:
    from sqlalchemy import func, select

    from sync_server.ratelimit.models import RateLimitCounter

    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(RateLimitCounter)) or 0


def test_made_up_bearers_get_no_fresh_budget_and_no_counter_rows(limited, engine):
    import secrets

    world, _ = limited
    before = _counter_rows(engine)
    statuses = []
    for _ in range(8):
        bogus = Api(world.client, secrets.token_urlsafe(24))
        statuses.append(bogus.get("products").status_code)
    # Counted against the address: five reads, then refused, whatever token is invented.
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    forged_jwt = Api(world.client, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
    assert forged_jwt.get("products").status_code == 429
    # The database store wrote at most one row (the address), never one per token.
    assert _counter_rows(engine) - before <= 1
    # A real credential still has its own budget.
    assert world.api("viewer").get("products").status_code == 200


def test_made_up_bearers_do_not_unlock_more_login_attempts(settings, engine):
    import secrets

    tight = settings.model_copy(
        update={"rate_limit_store": "database", "rate_limit_login_per_minute": 3}
    )
    app = create_app(tight, engine=engine)
    hold_rate_limit_window(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [
            client.post(
                "/api/v1/auth/login",
                json={"username": "nobody", "password": "guess"},
                headers={"Authorization": f"Bearer {secrets.token_urlsafe(24)}"},
            ).status_code
            for _ in range(6)
        ]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}
