"""Bursts over the limit get 429 with Retry-After, and nothing they asked for happens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from sync_server.main import create_app
from tests.factories import Api, build_world


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
    with TestClient(create_app(tight, engine=engine), raise_server_exceptions=False) as client:
        world = build_world(engine, client)
        yield world, world.api("admin")


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
