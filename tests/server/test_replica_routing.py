"""Reads that tolerate lag go to the replica; a write tells its client where to read after."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.config import Settings
from sync_server.replica import READ_AFTER_HEADER, format_lsn, parse_lsn, routes_to_replica

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
