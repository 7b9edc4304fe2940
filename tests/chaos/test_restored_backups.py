"""Restored backups: the server goes back to last night, a till goes back to an old copy.

Both use the project's own commands as an operator would: `stockpilot-server backup` /
`restore` (SQLite online backup, or pg_dump / pg_restore) and `stockpilot-till backup` /
`restore`, each as a separate process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import StockLevel
from tests.chaos.harness import FULL, ROOT, Figures, sync_until_drained
from tests.chaos.scenario import pending, products, server_receipts, till_receipts
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def _engine(store: LocalStore) -> SyncEngine:
    return SyncEngine(store, timeout=5, batch_size=50, pull_limit=500, backoff_base=0.05)


def _levels(engine: SyncEngine) -> dict[int, str]:
    with engine.store.transaction() as session:
        return {
            row.product_id: str(row.on_hand.normalize())
            for row in session.scalars(select(StockLevel))
        }


def _till_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pos_client.app", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _figures(fault: str, server, made: set[str], **told: str) -> Figures:
    landed = server_receipts(server)
    return Figures(
        fault=fault,
        engine=server.engine_name,
        sales_completed=len(made),
        sales_on_server=len(set(landed) & made),
        duplicates=sum(n - 1 for n in Counter(landed).values() if n > 1),
        lost=len(made - set(landed)),
        cashier_told=told.get("cashier", ""),
        manager_told=told.get("manager", ""),
        notes=told.get("notes", ""),
    )


def test_server_restored_from_last_nights_backup(server, tmp_path):
    """Tills re-send what the restored server lost; their pull cursors start over safely."""
    till = _engine(LocalStore(tmp_path / "till" / "till.db"))
    till.enrol(server_url=server.url, code=server.enrol_code(), name="Till-B")
    till.sync_once()
    stock = products(till)
    before, after, offline = (20, 30, 10) if FULL else (5, 10, 5)
    for n in range(before):
        sell_locally(till.store, product_id=stock[n % len(stock)])
    sync_until_drained(till)
    backup = tmp_path / "last-night.backup"
    server.cli("backup", str(backup))
    for n in range(after):  # pushed after the backup: the restore loses them
        sell_locally(till.store, product_id=stock[n % len(stock)])
    sync_until_drained(till)
    for n in range(offline):  # still in the outbox when the server comes back
        sell_locally(till.store, product_id=stock[n % len(stock)])
    server.kill()
    server.cli("restore", str(backup))
    server.start()
    lost_by_restore = len(set(till_receipts(till)) - set(server_receipts(server)))
    sync_until_drained(till)
    till.sync_once()  # a cycle more: the re-sent events and the pull after them
    fresh = _engine(LocalStore(tmp_path / "fresh.db"))
    fresh.enrol(server_url=server.url, code=server.enrol_code(), name="Till-Fresh")
    fresh.sync_once()
    made = set(till_receipts(till))
    figures = _figures(
        "server restored from last night's backup",
        server,
        made,
        cashier="nothing: sales kept selling; the till re-sent what the server lost",
        notes=(
            f"the restore lost {lost_by_restore} sales; the till re-sent "
            f"{till.resent_after_restore} kept events (the server answered duplicate for "
            "those it still had) and pulled a fresh snapshot"
        ),
    )
    figures.record()
    assert lost_by_restore == after + offline
    assert till.resent_after_restore >= before + after
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server == figures.sales_completed == before + after + offline
    assert pending(till) == 0
    # Nothing re-sent collided with a number the server still had.
    assert not server.get("/alerts", kind="device_cloned")["items"]
    assert not server.get("/sync/dead-letters")["items"]
    # The till's replica was rebuilt from the restored server: it holds what a new till holds.
    assert _levels(till) == _levels(fresh)
    for engine in (till, fresh):
        engine.stop()
        engine.store.close()


def test_till_restored_from_an_old_backup_on_a_new_machine(server, tmp_path):
    """The replacement continues the till's receipt series; pushed events are recognised."""
    old_dir, new_dir = tmp_path / "old-machine", tmp_path / "new-machine"
    old = _engine(LocalStore(old_dir / "till.db"))
    old.enrol(server_url=server.url, code=server.enrol_code(), name="Till-R")
    old.sync_once()
    stock = products(old)
    early, later, fresh_sales = (10, 20, 10) if FULL else (3, 6, 5)
    for n in range(early):  # in the backup, still waiting to be sent
        sell_locally(old.store, product_id=stock[n % len(stock)])
    backup = tmp_path / "till-backup.db"
    _till_cli("backup", str(backup), "--data-dir", str(old_dir))
    sync_until_drained(old)
    for n in range(later):  # made after the backup, and sent: the backup never saw them
        sell_locally(old.store, product_id=stock[n % len(stock)])
    sync_until_drained(old)
    old.stop()
    old.store.close()  # the old machine dies

    restored = _till_cli("restore", str(backup), "--data-dir", str(new_dir))
    new = _engine(LocalStore(new_dir / "till.db"))
    assert pending(new) == early  # the backup's outbox: events the server already has
    new.sync_once()
    for n in range(fresh_sales):
        sell_locally(new.store, product_id=stock[n % len(stock)])
    sync_until_drained(new)
    made = set(till_receipts(old)) | set(till_receipts(new))
    clone_alerts = server.get("/alerts", kind="device_cloned")["items"]
    letters = server.get("/sync/dead-letters")["items"]
    new_numbers = sorted(set(till_receipts(new)) - set(till_receipts(old)))
    figures = _figures(
        "till restored from an old backup onto a new machine",
        server,
        made,
        cashier=f"nothing; receipts go on from {new_numbers[0]}",
        manager=f"{len(clone_alerts)} clone alerts, {len(letters)} dead letters",
        notes=(
            f"{restored.splitlines()[0]}; the backup's {early} queued events came back as "
            f"duplicates; the series skipped the {later} numbers used after the backup"
        ),
    )
    figures.record()
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server == figures.sales_completed == early + later + fresh_sales
    assert not clone_alerts and not letters
    assert pending(new) == 0
    new.stop()
    new.store.close()
