"""Reads that tolerate lag go to the replica; a write tells its client where to read after."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from sync_server.config import Settings
from sync_server.db import make_sessionmaker
from sync_server.replica import (
    READ_AFTER_HEADER,
    commit_reading_position,
    format_lsn,
    parse_lsn,
    routes_to_replica,
)

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The "replica" is the primary itself here: the routing and the header are what is tested
    # (tests/chain/test_failover.py reads a real standby).
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        database_replica_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
    )


def test_which_reads_go_to_the_replica():
    assert routes_to_replica("GET", "/api/v1/reports/sales-summary")
    assert routes_to_replica("GET", "/api/v1/sync/pull")
    assert not routes_to_replica("POST", "/api/v1/products")
    assert not routes_to_replica("GET", "/api/v1/orders")
    assert parse_lsn("0/3000148") == 0x3000148 and parse_lsn(format_lsn(2**33 + 5)) == 2**33 + 5
    assert parse_lsn("nonsense") is None and parse_lsn(None) is None


@POSTGRES_ONLY
def test_a_write_answers_read_after_and_health_shows_the_replica(api, backend):
    created = api.post("/api/v1/categories", json={"name": "Replica check"})
    assert created.status_code == 201, created.text
    lsn = created.headers[READ_AFTER_HEADER]
    assert parse_lsn(lsn) is not None
    listed = api.get(
        "/api/v1/categories", params={"q": "Replica check"}, headers={READ_AFTER_HEADER: lsn}
    )
    assert listed.status_code == 200 and "Replica check" in listed.text
    health = api.client.get("/api/v1/health").json()
    assert health["replica"]["ok"] and health["replica"]["serving_reads"]


def _position(engine) -> int:
    with engine.connect() as conn:
        lsn = parse_lsn(conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one())
    assert lsn is not None
    return lsn


@POSTGRES_ONLY
def test_the_commit_and_the_position_after_it_go_in_one_round_trip(engine, backend):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE commit_probe (n int)"))
    checkouts: list[object] = []

    def count(*_args: object) -> None:
        checkouts.append(1)

    with make_sessionmaker(engine)() as session:
        # As a chain runs (the test cluster commits asynchronously, which leaves the
        # commit record unwritten when COMMIT returns).
        session.execute(text("SET LOCAL synchronous_commit = on"))
        session.execute(text("INSERT INTO commit_probe VALUES (1)"))
        before = _position(engine)
        event.listen(engine, "checkout", count)
        try:
            lsn = commit_reading_position(session)
        finally:
            event.remove(engine, "checkout", count)
        after = _position(engine)
        # Committed: another connection sees the row, and the session goes on working.
        with engine.connect() as other:
            assert other.execute(text("SELECT count(*) FROM commit_probe")).scalar() == 1
        session.execute(text("INSERT INTO commit_probe VALUES (2)"))
        session.commit()
    # Read on the transaction's own connection (no second one from the pool), after the
    # commit: past the position before it, and no further than one read after it.
    assert checkouts == []
    assert lsn is not None and before < (parse_lsn(lsn) or 0) <= after
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM commit_probe")).scalar() == 2


@POSTGRES_ONLY
def test_a_commit_that_fails_is_a_database_error_and_nothing_is_kept(engine, backend):
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE deferred_probe (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        )
    with make_sessionmaker(engine)() as session:
        session.execute(text("INSERT INTO deferred_probe VALUES (1), (1)"))
        with pytest.raises(IntegrityError):
            commit_reading_position(session)
        session.rollback()
        session.execute(text("INSERT INTO deferred_probe VALUES (3)"))
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM deferred_probe")).scalars().all() == [3]
