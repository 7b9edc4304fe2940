"""A page of the till's database torn by a power cut: detected at start, restored, listed.

The tear is real damage to the file: one page of the outbox is overwritten with noise,
as a write cut short by a power failure leaves it, after the till closed cleanly.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import select

from pos_client.recovery import recover_if_damaged
from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import StockLevel
from tests.chaos.harness import FULL, ROOT, Figures, sync_until_drained
from tests.chaos.scenario import products, server_receipts, till_receipts
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def _levels(engine: SyncEngine) -> dict[int, str]:
    with engine.store.transaction() as session:
        return {
            row.product_id: str(row.on_hand.normalize())
            for row in session.scalars(select(StockLevel))
        }


def _engine(store: LocalStore) -> SyncEngine:
    return SyncEngine(store, timeout=5, batch_size=50, pull_limit=500, backoff_base=0.05)


def _tear_a_page(path, *, table: str) -> int:
    """Overwrite one leaf page of a table with noise; return its number."""
    conn = sqlite3.connect(path)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
                (table,),
            )
        ]
    finally:
        conn.close()
    assert len(pages) >= 2, f"{table} fits on one page; nothing to tear"
    page = pages[0]
    with open(path, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(os.urandom(size))
    return page


def test_a_torn_page_is_found_at_start_restored_and_the_rest_listed(server, tmp_path):
    """Nothing lost silently: each sale is on the server or on the manager's list."""
    data = tmp_path / "till"
    till = _engine(LocalStore(data / "till.db"))
    till.enrol(server_url=server.url, code=server.enrol_code(), name="Till-T")
    till.sync_once()
    stock = products(till)
    synced, unsynced = (10, 60) if FULL else (5, 30)
    for n in range(synced):
        sell_locally(till.store, product_id=stock[n % len(stock)])
    sync_until_drained(till)
    backup = subprocess.run(
        [
            sys.executable,
            "-m",
            "pos_client.app",
            "backup",
            str(data / "backups" / "night.db"),
            "--data-dir",
            str(data),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert backup.returncode == 0, backup.stderr
    for n in range(unsynced):  # the server is away: these wait in the outbox
        sell_locally(till.store, product_id=stock[n % len(stock)])
    made = set(till_receipts(till))
    till.stop()
    till.store.close()
    page = _tear_a_page(data / "till.db", table="outbox")

    recovery = recover_if_damaged(store=data / "till.db")  # what the till does at start
    assert recovery is not None, "the torn page was not detected"
    till = _engine(LocalStore(data / "till.db"))
    sync_until_drained(till)
    till.sync_once()  # and the pull after the push: the rest comes from the server
    fresh = _engine(LocalStore(tmp_path / "fresh.db"))
    fresh.enrol(server_url=server.url, code=server.enrol_code(), name="Till-Fresh")
    fresh.sync_once()
    landed = server_receipts(server)
    listed = set(recovery.unrecovered)
    figures = Figures(
        fault="torn page in the till's database",
        engine=server.engine_name,
        sales_completed=len(made),
        sales_on_server=len(set(landed) & made),
        duplicates=len(landed) - len(set(landed)),
        lost=len(made - set(landed) - listed),
        cashier_told="at start, a box to call a manager (the same words)",
        manager_told=recovery.message(),
        notes=(
            f"outbox page {page} torn; restored from the night's backup; "
            f"{recovery.requeued} unsent events rescued, {len(listed)} sales listed"
        ),
    )
    figures.record()
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server + len(listed) == figures.sales_completed
    assert not listed & set(landed), "a listed sale did reach the server"
    assert listed, "the tear cost no event: the test tore the wrong page"
    assert recovery.damaged_copy.exists() and recovery.damaged_copy != data / "till.db"
    assert recovery.report is not None
    assert all(number in recovery.report.read_text() for number in listed)
    # What the backup lacked was pulled again: the till's stock is the server's.
    assert _levels(till) == _levels(fresh)
    for engine in (till, fresh):
        engine.stop()
        engine.store.close()
