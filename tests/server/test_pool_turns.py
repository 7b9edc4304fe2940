"""Requests wait for a database connection's turn on the event loop, not in worker threads.

A route's work runs in the thread pool in several hops and holds its connection between
them. When requests beyond the pool's size waited for a connection inside worker threads,
they took the threads the connection holders needed next, and every waiter was refused after
the pool's wait although the database sat idle. A real uvicorn server with a pool of two
connections takes a burst of 80 reads at once here: each is answered, none refused.
"""

from __future__ import annotations

import pytest

from sync_server.config import Settings
from sync_server.main import create_app
from tests.conftest import LiveServer, burst_of_reads

BURST = 80


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_burst_beyond_the_pool_is_served_not_refused(world, settings: Settings):
    token = world.token("admin")
    small = settings.model_copy(
        update={
            "db_pool_size": 2,
            "db_max_overflow": 0,
            # Long enough for 80 reads on a busy machine. Waiting in worker threads, the
            # waiters held every thread until their wait ran out, however long it was.
            "db_wait_seconds": 6,
            "rate_limit_store": "memory",  # as with Redis: no pool connection of its own
        }
    )
    server = LiveServer(create_app(small))
    server.start()
    statuses = burst_of_reads(server, token, BURST)
    assert statuses == {200: BURST}, statuses
