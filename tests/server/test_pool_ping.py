"""A pooled PostgreSQL connection is pinged before use only after it rested, and a dead one
is replaced before a request meets it (db.make_engine: pool_pre_ping without a round trip on
every checkout)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sync_server import db

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


def test_a_connection_back_from_use_just_now_is_not_pinged(engine):
    with engine.connect() as conn:
        conn.execute(text("SELECT 2"))
    pinged = []
    real = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pinged.append(1) or real(dbapi_connection)
    try:
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 2")).scalar() == 2
        assert pinged == []
    finally:
        engine.dialect.do_ping = real


def test_a_rested_connection_that_died_is_replaced_before_use(engine, monkeypatch):
    engine.dispose()
    with engine.connect() as conn, engine.connect() as other:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        keeper = other.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.close()  # back in the pool
        # The database ends that session behind the pool's back (a restart, an idle timeout).
        assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim}).scalar()
        other.commit()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # both have rested long enough
    pids = set()
    with engine.connect() as conn, engine.connect() as other:
        for c in (conn, other):
            pids.add(c.execute(text("SELECT pg_backend_pid()")).scalar())
    # The dead one never reached a caller: the pool replaced it after its ping failed.
    assert victim not in pids and keeper in pids and len(pids) == 2
