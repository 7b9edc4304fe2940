"""The rate limiter's database work takes turns at the pool and never blocks the event loop.

With counters kept in the database (the default on PostgreSQL without Redis) every request
made a transaction of its own, on the event loop and outside the connection turns
(sync_server/foundation/deps.py): with the pool in use, the loop itself waited for a
connection while the requests holding them waited for the loop. Now each count runs in a
worker thread within a turn, like a request's own database work. A business's limits that
expire are looked up again by one request while the others keep the last ones, and a failed
look-up (the database away) keeps the caller's own business and limits, not its address's.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from sync_server.config import Settings
from sync_server.db import make_sessionmaker, pool_capacity, transaction
from sync_server.main import create_app
from sync_server.org import service as org
from sync_server.ratelimit.service import Limit, TenantLimits
from tests.conftest import LiveServer, burst_of_reads
from tests.factories import Api

BURST = 80


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_counters_in_the_database_take_turns_and_count_every_request_of_a_burst(
    world, settings: Settings
):
    token = world.token("admin")
    small = settings.model_copy(
        update={
            "db_pool_size": 2,
            "db_max_overflow": 0,
            # Long enough that a loaded machine does not refuse at the door (admission).
            "db_wait_seconds": 5,
            "rate_limit_store": "database",
            "rate_limit_read_per_minute": 100_000,
        }
    )
    app = create_app(small)
    assert pool_capacity(app.state.engine) == 2
    server = LiveServer(app)
    server.start()
    statuses = burst_of_reads(server, token, BURST)
    assert statuses == {200: BURST}, statuses
    # Every request of the burst was counted (none let through uncounted for want of a
    # connection).
    with transaction(make_sessionmaker(world.engine)) as session:
        counted = session.scalar(
            text("SELECT coalesce(sum(count), 0) FROM rate_limit_counters WHERE key LIKE 'read:%'")
        )
    assert counted == BURST


def _till_token(world) -> str:
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    enrolled = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    assert enrolled.status_code == 201, enrolled.text
    return enrolled.json()["token"]


def _set_limits(world, engine, value: dict[str, int]) -> None:
    with transaction(make_sessionmaker(engine)) as session:
        org.put_setting(session, actor=world.principal("admin"), key="rate_limits", value=value)


def test_expired_limits_are_looked_up_once_and_a_failed_look_up_keeps_the_last_known(
    world, engine, settings
):
    token = _till_token(world)
    _set_limits(world, engine, {"read": 7})
    limits = TenantLimits(engine=engine, secret=settings.secret_key, ttl_s=0.2)
    assert limits.load(token, "read") == (world.a.id, Limit(7, 60))
    _set_limits(world, engine, {"read": 9})
    time.sleep(0.25)
    # The first request after the expiry looks them up; the others meanwhile keep the last.
    assert limits.cached(token, "read") == (False, world.a.id, None)
    assert limits.cached(token, "read") == (True, world.a.id, Limit(7, 60))
    assert limits.cached(token, "write") == (True, world.a.id, None)
    assert limits.load(token, "read") == (world.a.id, Limit(9, 60))
    assert limits.cached(token, "read") == (True, world.a.id, Limit(9, 60))
    # A look-up that failed (the database away) falls back on what was last seen: the till
    # keeps its business and its limits, however old, instead of its address's budget.
    assert limits.last_known(token, "read") == (world.a.id, Limit(9, 60))
    manager = world.token("manager")
    assert limits.last_known(manager, "read") == (world.a.id, Limit(9, 60))  # token names it
    assert limits.last_known("spd_" + "x" * 43, "read") == (None, None)
