"""A case scanned at the till: 12 pieces in the cart at the case's price, 12 off the shelf."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.barcodes import make_ean13, parse_scan
from common.roles import Role
from pos_client.scanners.pipeline import resolve
from pos_client.services.checkout import sale_event
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store import documents
from pos_client.store.db import LocalStore
from pos_client.store.models import Pack, StockLevel
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.sales.models import Sale as ServerSale

CASE = make_ean13("590000000112")
UNIT = make_ean13("590000000101")


@pytest.fixture
def till(world, live_server, tmp_path):
    """Return a till store enrolled at branch 0 of tenant A, synced once."""
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    yield engine
    engine.stop()
    store.close()


def _sell(store: LocalStore, scans: list[str]) -> tuple[str, Cart]:
    """Scan codes into a cart and ring it up as a cash sale on the till; return its id."""
    cart = Cart()
    with store.transaction() as session:
        for raw in scans:
            match = resolve(session, parse_scan(raw))
            assert match is not None, raw
            cart.add(match.item, quantity=match.quantity, unit_price=match.unit_price)
        total = cart.totals().total
        event = sale_event(
            cart=cart,
            payments=[cash_payment(due=total, tendered=total)],
            receipt_number=documents.next_receipt_number(session),
            branch_id=documents.get_state(session).branch_id,
            shift_id=None,
            cashier=Cashier(user_id=1, username="c", full_name="C", role=Role.CASHIER),
            completed_at=datetime.now(UTC),
        )
        documents.record_sale(session, event)
    return event.sale_id, cart


def test_a_scanned_case_adds_twelve_pieces_and_takes_twelve_off_the_shelf(world, till, stock_in):
    admin = world.api("admin")
    created = admin.post(
        "products",
        json={
            "sku": "TEA-C",
            "name": "Tea 100g",
            "price": "10.00",
            "barcodes": [UNIT],
            "packs": [{"code": CASE, "label": "case", "quantity": "12", "price": "100.00"}],
        },
    )
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]
    stock_in(product_id=product_id, branch_id=world.a.branch_ids[0], quantity="30")
    till.sync_once()
    with till.store.transaction() as session:
        [pack] = session.scalars(select(Pack).where(Pack.product_id == product_id)).all()
        assert (pack.code, pack.quantity, pack.price) == (CASE, 12, Decimal("100"))
        assert session.get(StockLevel, product_id).on_hand == 30

    sale_id, cart = _sell(till.store, [CASE, UNIT])
    case_line, unit_line = cart.lines
    assert case_line.quantity == 12 and case_line.total == Decimal("100.00")
    assert not case_line.price_overridden
    assert unit_line.quantity == 1 and unit_line.total == Decimal("10.00")
    assert cart.totals().total == Decimal("110.00")
    with till.store.transaction() as session:
        assert session.get(StockLevel, product_id).on_hand == 30 - 13

    status = till.sync_once()
    assert status.pending == 0 and status.rejected == 0
    with transaction(world.sessions(), readonly=True) as session:
        sale = session.scalars(select(ServerSale).where(ServerSale.uuid == sale_id)).one()
        assert sorted(line.quantity for line in sale.lines) == [1, 12]
        assert sale.total == Decimal("110.00")
        level = ledger.level(
            session, tenant_id=world.a.id, branch_id=world.a.branch_ids[0], product_id=product_id
        )
        assert level.on_hand == 30 - 13


def test_a_case_priced_at_a_fraction_per_piece_still_totals_the_case_price(world, till):
    admin = world.api("admin")
    created = admin.post(
        "products",
        json={
            "sku": "TEA-D",
            "name": "Tea 50g",
            "price": "9.00",
            "packs": [{"code": CASE, "label": "case", "quantity": "12", "price": "100.00"}],
        },
    )
    assert created.status_code == 201, created.text
    till.sync_once()
    _, cart = _sell(till.store, [CASE, CASE])
    [line] = cart.lines  # the second case joins the first
    assert line.quantity == 24 and line.total == Decimal("200.00")

    # The pack removed on the server is gone from the till after the next pull.
    assert admin.patch(f"products/{created.json()['id']}", json={"packs": []}).status_code == 200
    till.sync_once()
    with till.store.transaction() as session:
        assert resolve(session, parse_scan(CASE)) is None


def test_a_till_store_from_before_packs_gains_the_table(tmp_path):
    path = tmp_path / "old.db"
    LocalStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE packs")
        conn.execute("PRAGMA user_version = 2")
    store = LocalStore(path)
    try:
        with store.transaction() as session:
            assert session.scalars(select(Pack)).all() == []
    finally:
        store.close()
