"""SIGKILL a process in the middle of committing sales: the store stays consistent."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from common.ids import new_id
from common.sync.protocol import ChangeOp, PulledChange
from pos_client.store import documents, replica
from pos_client.store.db import LocalStore

CHILD = r"""
import sys
from decimal import Decimal
from common.ids import new_id
from common.sync.protocol import SaleCompleted, SaleLine, SalePayment
from pos_client.store import documents
from pos_client.store.db import LocalStore

store = LocalStore(sys.argv[1])
print("ready", flush=True)
while True:
    with store.transaction() as session:
        lines = [
            SaleLine(line_id=new_id(), product_id=p, sku="S", name="N", quantity=Decimal(1),
                     unit_price=Decimal("2.50"), total=Decimal("2.50"))
            for p in (1, 2, 3)
        ]
        documents.record_sale(session, SaleCompleted(
            sale_id=new_id(), receipt_number=documents.next_receipt_number(session),
            branch_id=1, lines=lines,
            payments=[SalePayment(payment_id=new_id(), method="cash", amount=Decimal("7.50"))],
            subtotal=Decimal("7.50"), total=Decimal("7.50")))
"""


def _prepare(path: Path) -> None:
    store = LocalStore(path)
    with store.transaction() as session:
        documents.configure_device(
            session,
            device_id=new_id(),
            token="spd_test",
            tenant_id=1,
            branch_id=1,
            branch_code="K",
            receipt_prefix="K-T01",
        )
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="stock", key=str(p), op=ChangeOp.UPSERT, data={"on_hand": "100000"}
                )
                for p in (1, 2, 3)
            ],
        )
    store.close()


@pytest.mark.timeout(120)
def test_sigkill_during_sale_commits_leaves_only_whole_sales(tmp_path):
    path = tmp_path / "till.db"
    _prepare(path)
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    rng = random.Random(6)
    for _ in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, env=env, cwd=root
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.2, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    sales = raw.execute("SELECT count(*) FROM sales").fetchone()[0]
    assert sales > 0
    # Every sale is whole: three lines, a payment and its outbox event.
    broken = raw.execute(
        """SELECT count(*) FROM sales s WHERE
             (SELECT count(*) FROM sale_lines l WHERE l.sale_id = s.id) != 3
          OR (SELECT count(*) FROM sale_payments p WHERE p.sale_id = s.id) != 1
          OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = s.event_id)"""
    ).fetchone()[0]
    assert broken == 0
    assert raw.execute("SELECT count(*) FROM outbox").fetchone()[0] == sales
    # No number was handed out without its sale, and stock moved exactly with the sales.
    assert raw.execute("SELECT last_receipt_seq FROM sync_state").fetchone()[0] == sales
    levels = [Decimal(v) for (v,) in raw.execute("SELECT on_hand FROM stock_levels")]
    assert levels == [Decimal(100000 - sales)] * 3
    raw.close()
