"""The till's local store: schema, sale recording in one transaction, receipts, replica."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from common.errors import InvalidState
from common.ids import new_id
from common.sync.protocol import (
    ChangeOp,
    Event,
    PulledChange,
    SaleCompleted,
    SaleLine,
    SalePayment,
)
from pos_client.store import documents, outbox, replica
from pos_client.store.db import LocalStore
from pos_client.store.migrations import SCHEMA_VERSION
from pos_client.store.models import (
    Customer,
    OutboxEvent,
    Product,
    Sale,
    StockLevel,
)
from pos_client.store.models import (
    SaleLine as SaleLineRow,
)

BRANCH = 7


def make_sale(
    session, *, product_id: int = 1, qty: str = "2", price: str = "10.50"
) -> SaleCompleted:
    """Build a one-line cash sale with this till's next receipt number."""
    total = Decimal(price) * Decimal(qty)
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=documents.next_receipt_number(session),
        branch_id=BRANCH,
        lines=[
            SaleLine(
                line_id=new_id(),
                product_id=product_id,
                sku=f"SKU{product_id}",
                name="Tea",
                quantity=Decimal(qty),
                unit_price=Decimal(price),
                total=total,
            )
        ],
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=total)],
        subtotal=total,
        total=total,
    )


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "till.db")
    with s.transaction() as session:
        documents.configure_device(
            session,
            device_id=new_id(),
            token="spd_x",
            tenant_id=1,
            branch_id=BRANCH,
            branch_code="AND",
            receipt_prefix="AND-T01",
        )
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="product",
                    key="1",
                    op=ChangeOp.UPSERT,
                    data={
                        "id": 1,
                        "sku": "SKU1",
                        "name": "Tea",
                        "price": "10.50",
                        "barcodes": ["5901234123457"],
                    },
                ),
                PulledChange(
                    entity="stock",
                    key="1",
                    op=ChangeOp.UPSERT,
                    data={"product_id": 1, "on_hand": "5"},
                ),
            ],
        )
    yield s
    s.close()


def test_schema_is_versioned_and_wal_full(store, tmp_path):
    raw = sqlite3.connect(tmp_path / "till.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    # Opening again runs no step twice.
    again = LocalStore(tmp_path / "till.db")
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_sale_writes_document_outbox_and_stock_together(store):
    with store.transaction() as session:
        sale = make_sale(session)
        envelope = documents.record_sale(session, sale)
    with store.transaction() as session:
        row = session.get(Sale, sale.sale_id)
        assert row.receipt_number == "AND-T01-000001"
        assert row.total == Decimal("21.00")
        assert session.get(StockLevel, 1).on_hand == Decimal("3")
        queued = session.scalars(select(OutboxEvent)).one()
        assert queued.event_id == envelope.id
        body = Event.model_validate_json(queued.body)
        assert body.parsed().lines[0].unit_price == Decimal("10.50")
        assert outbox.pending_count(session) == 1


def test_failed_sale_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError), store.transaction() as session:
        documents.record_sale(session, make_sale(session))
        raise RuntimeError("power cut before commit")
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Sale)) == 0
        assert session.scalar(select(func.count()).select_from(SaleLineRow)) == 0
        assert outbox.pending_count(session) == 0
        assert session.get(StockLevel, 1).on_hand == Decimal("5")
        # The receipt number was not consumed either.
        assert documents.next_receipt_number(session) == "AND-T01-000001"


def test_receipt_numbers_follow_the_device_series(store):
    with store.transaction() as session:
        numbers = [documents.next_receipt_number(session) for _ in range(3)]
    assert numbers == ["AND-T01-000001", "AND-T01-000002", "AND-T01-000003"]


def test_unenrolled_till_refuses_to_sell(tmp_path):
    s = LocalStore(tmp_path / "new.db")
    with pytest.raises(InvalidState), s.transaction() as session:
        documents.next_receipt_number(session)
    s.close()


def test_plain_sql_sale_path_stores_what_the_orm_would(store):
    """The sale path writes plain SQL; each row must equal the same row added through the ORM."""
    with store.transaction() as session:
        sale = make_sale(session, qty="1.250", price="80.00").model_copy(
            update={"completed_at": datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC)}
        )
        documents.record_sale(session, sale)
        twin = Sale(
            id="twin",
            receipt_number="TWIN-1",
            shift_id=None,
            cashier_id=None,
            customer_id=None,
            customer_local_id=None,
            subtotal=sale.subtotal,
            discount_total=sale.discount_total,
            tax_total=sale.tax_total,
            total=sale.total,
            change_due=sale.change_due,
            overrides=[],
            status="completed",
            created_at=sale.completed_at,
            event_id="twin-event",
        )
        session.add(twin)
    raw = sqlite3.connect(store.path)
    columns = "subtotal, discount_total, tax_total, total, change_due, overrides, created_at"
    plain, orm = (
        raw.execute(f"SELECT {columns} FROM sales WHERE id = ?", (key,)).fetchone()
        for key in (sale.sale_id, "twin")
    )
    raw.close()
    assert plain == orm  # same text for money, same timestamp format, same JSON
    with store.transaction() as session:
        row = session.get(Sale, sale.sale_id)
        assert row.created_at == sale.completed_at and row.created_at.tzinfo is not None
        line = session.scalars(select(SaleLineRow)).one()
        assert (line.quantity, line.unit_price, line.total) == (
            Decimal("1.250"),
            Decimal("80.00"),
            Decimal("100.0000"),
        )
        assert session.get(StockLevel, 1).on_hand == Decimal("3.750")
        # The receipt counter moved in SQL; the session's state row must see it.
        assert documents.get_state(session).last_receipt_seq == 1
        assert documents.next_receipt_number(session) == "AND-T01-000002"


def test_money_stays_exact_in_sqlite(store):
    with store.transaction() as session:
        documents.record_sale(session, make_sale(session, qty="0.333", price="0.10"))
    with store.transaction() as session:
        assert session.scalars(select(Sale.total)).one() == Decimal("0.0333")
        assert session.get(StockLevel, 1).on_hand == Decimal("4.667")


def test_acknowledge_drops_only_applied_events(store):
    from common.sync.protocol import PushResult

    with store.transaction() as session:
        first = documents.record_sale(session, make_sale(session))
        second = documents.record_sale(session, make_sale(session))
    with store.transaction() as session:
        outbox.acknowledge(
            session,
            results=[
                PushResult(id=first.id, status="applied"),
                PushResult(id=second.id, status="rejected", reason="bad"),
            ],
        )
    with store.transaction() as session:
        rows = session.scalars(select(OutboxEvent)).all()
        assert [r.event_id for r in rows] == [second.id]
        assert rows[0].rejected and rows[0].last_error == "bad"
        synced = session.scalars(select(Sale).where(Sale.synced_at.is_not(None))).all()
        assert [s.event_id for s in synced] == [first.id]


def test_offline_customer_keeps_local_id_when_merged(store):
    with store.transaction() as session:
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="customer",
                    key="40",
                    op=ChangeOp.UPSERT,
                    data={
                        "id": 40,
                        "name": "Asha",
                        "phone": "999",
                        "credit_limit": "500",
                        "balance": "20",
                    },
                )
            ],
        )
        local = documents.create_customer_offline(session, name="Asha K", phone="999")
    with store.transaction() as session:
        replica.link_customer(session, local_id=local.local_id, server_id=40)
    with store.transaction() as session:
        rows = session.scalars(select(Customer)).all()
        assert len(rows) == 1
        assert rows[0].local_id == local.local_id and rows[0].server_id == 40
        assert rows[0].credit_limit == Decimal("500")


def test_price_change_and_archive_apply(store):
    with store.transaction() as session:
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="product",
                    key="1",
                    op=ChangeOp.UPSERT,
                    data={
                        "id": 1,
                        "sku": "SKU1",
                        "name": "Tea",
                        "price": "12.00",
                        "active": False,
                        "barcodes": ["5901234123464"],
                    },
                )
            ],
        )
    with store.transaction() as session:
        product = session.get(Product, 1)
        assert product.price == Decimal("12.00") and product.active is False


def test_document_shows_whether_it_has_synced(store):
    from common.sync.protocol import PushResult

    with store.transaction() as session:
        sale = make_sale(session)
        envelope = documents.record_sale(session, sale)
        shift = documents.open_shift(session, cashier_id=None, opening_float=Decimal("100"))
    with store.transaction() as session:
        assert outbox.waiting_for(session, document_id=sale.sale_id)
        assert outbox.waiting_for(session, document_id=shift.id)
        outbox.acknowledge(session, results=[PushResult(id=envelope.id, status="duplicate")])
    with store.transaction() as session:
        assert not outbox.waiting_for(session, document_id=sale.sale_id)
        assert outbox.waiting_for(session, document_id=shift.id)
        assert session.get(Sale, sale.sale_id).synced_at is not None


def test_shift_close_counts_cash_from_the_days_documents(store):
    with store.transaction() as session:
        shift = documents.open_shift(session, cashier_id=3, opening_float=Decimal("100"))
        sale = make_sale(session, qty="2", price="10.50").model_copy(update={"shift_id": shift.id})
        documents.record_sale(session, sale)
        documents.record_cash_movement(
            session, shift_id=shift.id, direction="out", amount=Decimal("5"), reason="milk"
        )
        closed = documents.close_shift(session, shift_id=shift.id, counted_cash=Decimal("115"))
        assert closed.expected_cash == Decimal("116.00")
        assert closed.variance == Decimal("-1.00")
        with pytest.raises(InvalidState):
            documents.close_shift(session, shift_id=shift.id, counted_cash=Decimal("1"))
