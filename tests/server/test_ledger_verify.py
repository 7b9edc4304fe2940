"""ledger verify: a figure edited behind the server's back is named, on both engines.

The shop is built through the API and services (stock received, an online order holding a
reservation, a customer on account, a supplier delivered and paid); then one stored figure
at a time is edited in SQL, as someone with database access would, and put back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select, update

from common.codes import MovementCode
from sync_server.alerts.models import Alert
from sync_server.audit import service as audit
from sync_server.config import Settings
from sync_server.db import transaction
from sync_server.foundation import feed
from sync_server.foundation.models import Change
from sync_server.integrity.ledger import verify_ledgers
from sync_server.integrity.watch import CHECKPOINT_ENTITY, LEDGER_MISMATCH, Watch, checkpoint_file
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.notifications.models import Notification
from sync_server.orders.models import Order
from sync_server.partners.models import Customer
from sync_server.purchasing.models import VendorEntry
from tests import zygote
from tests.server.test_credit import _charge, _customer
from tests.server.test_orders import order_body, post, store
from tests.server.test_orders import stock as receive
from tests.server.test_purchasing import _submitted, _supplier


@dataclass
class Books:
    order_id: int
    customer_id: int
    supplier_id: int


@pytest.fixture
def books(world) -> Books:
    receive(world, quantity="10")
    receive(world, product=1, quantity="4")
    placed = post(store(world), order_body("W-9", ("ADMIN-0", "2"), ("ADMIN-1", "1")))
    assert placed.status_code == 201, placed.text
    cid = _customer(world)
    _charge(world, cid, "300.00", "INV-1")
    sid = _supplier(world)
    po = _submitted(world, sid)
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    received = world.api("purchase_admin").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": x["id"], "quantity": x["quantity"]} for x in po["lines"]]},
    )
    assert received.status_code in (200, 201), received.text
    paid = world.api("purchase_admin").post(
        f"suppliers/{sid}/payments",
        json={"amount": "15.00", "method": "cash", "purchase_order_id": po["id"]},
    )
    assert paid.status_code in (200, 201), paid.text
    return Books(order_id=placed.json()["id"], customer_id=cid, supplier_id=sid)


def _found(world) -> list[str]:
    with transaction(world.sessions(), readonly=True) as session:
        return [d.text for d in verify_ledgers(session, tenant_id=world.a.id)]


def test_clean_books_agree_through_the_service_the_api_and_the_cli(
    world, books, database_url, tmp_path
):
    assert _found(world) == []
    report = world.api("admin").get("ledger/verify")
    assert report.status_code == 200, report.text
    assert report.json() == {"ok": True, "differences": []}
    assert world.api("manager").get("ledger/verify").status_code == 403
    for zone in ("UTC", "Asia/Kolkata", "America/Los_Angeles"):
        result = _cli(tmp_path, database_url, "ledger", "verify", TZ=zone, PGTZ=zone)
        assert result.returncode == 0, result.stdout + result.stderr
        result = _cli(tmp_path, database_url, "audit", "verify", TZ=zone, PGTZ=zone)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "BROKEN" not in result.stdout


def _cli(tmp_path, database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "STOCKPILOT_DATA_DIR"}
    return zygote.run(
        [sys.executable, "-m", "sync_server.cli", *args],
        timeout=180,
        env={
            **base,
            "STOCKPILOT_DATABASE_URL": database_url,
            "STOCKPILOT_DATA_DIR": str(tmp_path / "cli"),
            **env,
        },
    )


def _level_filter(world, product: int = 0):
    return (
        StockLevel.tenant_id == world.a.id,
        StockLevel.branch_id == world.a.branch_ids[0],
        StockLevel.product_id == world.a.product_ids[product],
    )


def _movement_id(world, code: MovementCode, product: int = 0) -> int:
    with world.engine.connect() as conn:
        return conn.scalar(
            select(StockMovement.id)
            .where(
                StockMovement.tenant_id == world.a.id,
                StockMovement.product_id == world.a.product_ids[product],
                StockMovement.code == code.value,
            )
            .order_by(StockMovement.id.desc())
            .limit(1)
        )


def _edit(world, statement) -> None:
    with world.engine.begin() as conn:
        conn.execute(statement)


def test_an_edited_level_is_named(world, books):
    where = _level_filter(world)
    _edit(world, update(StockLevel).where(*where).values(on_hand=StockLevel.on_hand + 3))
    # 10 received by hand and 10 from the purchase order.
    assert _found(world) == [
        "branch MAIN, product ADMIN-0, on hand: stored 23.000, ledger says 20.000"
    ]
    _edit(world, update(StockLevel).where(*where).values(on_hand=StockLevel.on_hand - 3))
    assert _found(world) == []


def test_an_edited_movement_quantity_is_named(world, books):
    moved = _movement_id(world, MovementCode.RECEIPT)
    with world.engine.connect() as conn:
        was = conn.scalar(select(StockMovement.quantity).where(StockMovement.id == moved))
    _edit(world, update(StockMovement).where(StockMovement.id == moved).values(quantity=was + 15))
    assert _found(world) == [
        "branch MAIN, product ADMIN-0, on hand: stored 20.000, ledger says 35.000"
    ]
    _edit(world, update(StockMovement).where(StockMovement.id == moved).values(quantity=was))
    assert _found(world) == []


def test_a_deleted_movement_is_named(world, books):
    moved = _movement_id(world, MovementCode.RECEIPT, product=1)
    with world.engine.connect() as conn:
        row = dict(
            conn.execute(select(StockMovement.__table__).where(StockMovement.id == moved))
            .one()
            ._mapping
        )
    _edit(world, delete(StockMovement).where(StockMovement.id == moved))
    found = _found(world)
    assert "branch MAIN, product ADMIN-1, on hand: stored 8.000, ledger says 4.000" in found
    _edit(world, insert(StockMovement).values(**row))
    assert _found(world) == []


def test_an_edited_reservation_is_named_on_the_level_and_the_order(world, books):
    held = _movement_id(world, MovementCode.RESERVATION)
    _edit(world, update(StockMovement).where(StockMovement.id == held).values(quantity=1))
    assert _found(world) == [
        "branch MAIN, product ADMIN-0, reserved: stored 2.000, ledger says 1.000",
        f"branch MAIN, product ADMIN-0, order {books.order_id} reserved: "
        "stored 1.000, ledger says 2.000",
    ]
    _edit(world, update(StockMovement).where(StockMovement.id == held).values(quantity=2))
    # The level's reserved figure edited instead: the documents disagree with it.
    where = _level_filter(world)
    _edit(world, update(StockLevel).where(*where).values(reserved=0))
    assert _found(world) == [
        "branch MAIN, product ADMIN-0, reserved: stored 0.000, ledger says 2.000"
    ]
    _edit(world, update(StockLevel).where(*where).values(reserved=2))
    # An order cancelled behind the server keeps holding stock it should not.
    _edit(world, update(Order).where(Order.id == books.order_id).values(status="cancelled"))
    assert _found(world) == [
        f"branch MAIN, product ADMIN-0, order {books.order_id} reserved: "
        "stored 2.000, ledger says 0.000",
        f"branch MAIN, product ADMIN-1, order {books.order_id} reserved: "
        "stored 1.000, ledger says 0.000",
    ]
    _edit(world, update(Order).where(Order.id == books.order_id).values(status="pending_payment"))
    assert _found(world) == []


def test_an_edited_customer_balance_is_named(world, books):
    where = Customer.id == books.customer_id
    _edit(world, update(Customer).where(where).values(balance=Customer.balance - 100))
    assert _found(world) == [
        f"customer Wholesale Mart (#{books.customer_id}) balance: stored 200.00, ledger says 300.00"
    ]
    report = world.api("admin").get("ledger/verify").json()
    assert report["ok"] is False
    assert report["differences"][0]["kind"] == "customer_balance"
    _edit(world, update(Customer).where(where).values(balance=Customer.balance + 100))
    assert _found(world) == []


def test_an_edited_vendor_ledger_is_named(world, books):
    where = (VendorEntry.supplier_id == books.supplier_id, VendorEntry.kind == "payment")
    _edit(world, update(VendorEntry).where(*where).values(amount=-5))
    found = _found(world)
    assert len(found) == 1 and found[0].endswith("paid: stored 15.00, ledger says 5.00"), found
    _edit(world, update(VendorEntry).where(*where).values(amount=-15))
    where = (VendorEntry.supplier_id == books.supplier_id, VendorEntry.kind == "receipt")
    with world.engine.connect() as conn:
        amount = conn.scalar(select(VendorEntry.amount).where(*where))
    _edit(world, update(VendorEntry).where(*where).values(amount=amount + 1))
    found = _found(world)
    assert len(found) == 1 and "goods receipt" in found[0], found
    _edit(world, update(VendorEntry).where(*where).values(amount=amount))
    assert _found(world) == []


def test_the_cli_lists_differences_and_exits_1(world, books, database_url, tmp_path):
    where = Customer.id == books.customer_id
    _edit(world, update(Customer).where(where).values(balance=0))
    result = _cli(tmp_path, database_url, "ledger", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 difference(s)" in result.stdout
    assert "balance: stored 0.00, ledger says 300.00" in result.stdout
    _edit(world, update(Customer).where(where).values(balance=300))


# --- the server's watch: checkpoints on a schedule, the ledger nightly --------------------------


def _alerts(world) -> list[Alert]:
    with transaction(world.sessions(), readonly=True) as session:
        return list(
            session.scalars(
                select(Alert).where(Alert.tenant_id == world.a.id, Alert.kind == LEDGER_MISMATCH)
            )
        )


def test_the_watch_checks_the_ledger_nightly_and_raises_an_alert(world, books, tmp_path):
    settings = Settings(data_dir=tmp_path / "watch", ledger_verify_hour=2)
    watch = Watch(settings)
    night = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)
    watch.run_once(world.sessions(), now=night.replace(hour=1))
    assert watch.ledger_day is None  # not yet its hour
    watch.run_once(world.sessions(), now=night)
    assert watch.ledger_day == night.date() and _alerts(world) == []
    where = Customer.id == books.customer_id
    _edit(world, update(Customer).where(where).values(balance=1))
    watch.run_once(world.sessions(), now=night.replace(hour=23))
    assert _alerts(world) == []  # once a night
    watch.run_once(world.sessions(), now=night.replace(day=5))
    (alert,) = _alerts(world)
    assert alert.status == "open"
    assert alert.details["differences"] == [
        f"customer Wholesale Mart (#{books.customer_id}) balance: stored 1.00, ledger says 300.00"
    ]
    with transaction(world.sessions(), readonly=True) as session:
        told = session.scalars(
            select(Notification.recipient).where(Notification.event == f"alert.{LEDGER_MISMATCH}")
        ).all()
    assert "role:admin" in told
    _edit(world, update(Customer).where(where).values(balance=300))
    watch.run_once(world.sessions(), now=night.replace(day=6))
    assert [a.status for a in _alerts(world)] == ["cleared"]


def test_the_watch_files_publishes_and_mails_a_checkpoint_when_the_head_moved(world, tmp_path):
    settings = Settings(data_dir=tmp_path / "watch", audit_checkpoint_email="auditor@example.com")
    watch = Watch(settings)
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    watch.run_once(world.sessions(), now=now)
    filed = checkpoint_file(settings, tenant_id=world.a.id)
    lines = filed.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"STOCKPILOT-AUDIT-CHECKPOINT tenant={world.a.id}"
    )
    with transaction(world.sessions()) as session:
        feed.catch_up(session, tenant_id=world.a.id)
    with transaction(world.sessions(), readonly=True) as session:
        published = session.scalars(
            select(Change.data).where(
                Change.tenant_id == world.a.id, Change.entity == CHECKPOINT_ENTITY
            )
        ).all()
        mailed = session.scalars(
            select(Notification.body).where(
                Notification.tenant_id == world.a.id,
                Notification.recipient == "auditor@example.com",
            )
        ).all()
    assert [p["text"] for p in published] == lines
    assert len(mailed) == 1 and lines[0] in mailed[0]
    # Not due again until audit_checkpoint_minutes have passed, and only if the head moved.
    watch.run_once(world.sessions(), now=now.replace(minute=30))
    watch.run_once(world.sessions(), now=now.replace(hour=12))
    assert len(filed.read_text().splitlines()) == 1
    with transaction(world.sessions()) as session:
        audit.record(
            session,
            actor=world.principal("admin").actor,
            action="test.moved",
            entity_type="t",
            entity_id=1,
        )
    watch.run_once(world.sessions(), now=now.replace(hour=14))
    assert len(filed.read_text().splitlines()) == 2


def test_the_watch_raises_an_alert_instead_of_signing_a_broken_chain(world, tmp_path):
    from sync_server.audit.models import AuditEntry
    from sync_server.integrity.watch import AUDIT_BROKEN

    settings = Settings(data_dir=tmp_path / "watch")
    with transaction(world.sessions()) as session:
        audit.record(
            session,
            actor=world.principal("admin").actor,
            action="t.x",
            entity_type="t",
            entity_id=1,
        )
        audit.seal_now(session, tenant_id=world.a.id)
    with transaction(world.sessions()) as session:
        audit.seal_now(session, tenant_id=world.a.id)
    _edit(
        world,
        update(AuditEntry)
        .where(AuditEntry.tenant_id == world.a.id, AuditEntry.seq == 1)
        .values(actor="someone else"),
    )
    Watch(settings).run_once(world.sessions(), now=datetime(2026, 12, 4, 10, tzinfo=UTC))
    assert not checkpoint_file(settings, tenant_id=world.a.id).exists()
    with transaction(world.sessions(), readonly=True) as session:
        alert = session.scalars(
            select(Alert).where(Alert.tenant_id == world.a.id, Alert.kind == AUDIT_BROKEN)
        ).one()
    assert "entry 1 was edited" in alert.details["message"]
