"""The server's signed audit checkpoint reaches the till by the change feed and its Z report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from common.roles import Role
from pos_client.printing.receipt import layout_report
from pos_client.services import shifts
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from sync_server.audit import checkpoints
from sync_server.config import Settings
from sync_server.db import transaction
from sync_server.integrity.watch import checkpoint_tenant

ASHA = Cashier(user_id=1, username="asha", full_name="Asha Verma", role=Role.CASHIER)


def test_the_z_report_prints_the_latest_checkpoint_and_it_verifies(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    till = SyncEngine(store, timeout=30, batch_size=80, pull_limit=400, backoff_base=0.05)
    try:
        code = world.api("admin").post(
            "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
        )
        till.enrol(server_url=live_server.url, code=code.json()["code"], name="Till 1")
        till.sync_once()
        with store.transaction() as session:
            shift_id = shifts.open_shift(
                session, cashier=ASHA, opening_float=Decimal("100")
            ).shift_id
            # Before the server has sent one, the Z report has no such line.
            assert shifts.latest_audit_checkpoint(session) == ""

        point = checkpoint_tenant(
            world.sessions(),
            settings=Settings(data_dir=tmp_path / "server"),
            tenant_id=world.a.id,
            now=datetime.now(UTC),
        )
        assert point is not None
        till.sync_once()
        with store.transaction() as session:
            z = shifts.close_shift(
                session, cashier=ASHA, shift_id=shift_id, counted_cash=Decimal("100")
            )
        assert ("Audit checkpoint", point.text) in z.rows()
        printed = [line.text for line in layout_report("Z REPORT", rows=z.rows(), width=42)]
        assert all(len(line) <= 42 for line in printed)
        # What is printed on paper is enough to check the server against later.
        (read_back,) = checkpoints.parse(" ".join(" ".join(printed).split()))
        assert read_back == point
        with transaction(world.sessions()) as session:
            assert checkpoints.verify_against(session, checkpoint=read_back).ok
    finally:
        till.stop()
        store.close()
