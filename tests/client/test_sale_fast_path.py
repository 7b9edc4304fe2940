"""The sale's fast path writes what the validated models and the ORM would have written.

complete_sale builds its event with constructed (not validated) models and writes its rows
as plain SQL on the driver's connection. These tests rebuild the same sale the slow way —
validated pydantic models, tax applied by model_copy, the envelope validated, ORM objects
flushed into a second store — and compare the outbox envelope byte for byte and every row
column for column.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from common.codes import Tender
from common.roles import Role
from common.sync import protocol
from pos_client.services import checkout, queries, shifts, tax_invoice
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.services.login import Cashier
from pos_client.services.till import (
    Cart,
    Override,
    Payment,
    card_payment,
    cash_payment,
    check_payments,
)
from pos_client.store.db import LocalStore
from pos_client.store.models import (
    LineTaxRow,
    OutboxEvent,
    ReplicaRow,
    Sale,
    SaleLine,
    SalePayment,
    TaxDocument,
)

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")
ASHA = Cashier(user_id=1, username="asha", full_name="Asha Verma", role=Role.CASHIER)
MANAGER = Override(manager_id=2, manager_name="Ravi", action="", detail="")
# A business buyer in Maharashtra (27) buying from a branch in Karnataka (29): IGST.
BUYER_GSTIN = "27AAPFU0939F1ZV"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
        session.add(
            ReplicaRow(
                entity="branch",
                key="1",
                data={"name": "Indiranagar", "state": "Karnataka", "state_code": "29"},
            )
        )
    yield store
    store.close()


def old_sale_event(
    *, cart: Cart, payments: list[Payment], receipt_number: str, payment_ids: list[str], **kw
) -> protocol.SaleCompleted:
    """The event as sale_event built it before the fast path: every model validated."""
    totals = cart.totals()
    change = check_payments(total=totals.total, payments=payments, currency=cart.currency)
    customer = cart.customer
    return protocol.SaleCompleted(
        sale_id=cart.sale_id,
        receipt_number=receipt_number,
        branch_id=kw["branch_id"],
        shift_id=kw["shift_id"],
        cashier_id=ASHA.user_id,
        customer_id=customer.customer_id if customer else None,
        customer_local_id=customer.local_id if customer and not customer.customer_id else None,
        lines=[
            protocol.SaleLine(
                line_id=line.line_id,
                product_id=line.item.product_id,
                sku=line.item.sku,
                name=line.item.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount + line.order_discount_share,
                tax_rate=line.item.tax_rate,
                tax=line.tax,
                lot=line.attributes.get("lot"),
                total=line.net,
            )
            for line in cart.lines
        ],
        payments=[
            protocol.SalePayment(
                payment_id=payment_id,
                method=protocol.PaymentMethod(p.tender),
                amount=p.tendered if p.tendered is not None else p.amount,
                reference=p.reference,
            )
            for p, payment_id in zip(payments, payment_ids, strict=True)
        ],
        subtotal=totals.subtotal,
        discount_total=totals.discount_total,
        tax_total=totals.tax,
        total=totals.total,
        change_due=change,
        overrides=[
            protocol.Override(
                kind=o.action,
                manager_id=o.manager_id,
                detail=f"{o.detail} (approved by {o.manager_name})",
            )
            for o in cart.overrides
        ],
        completed_at=kw["completed_at"],
        coupon_codes=cart.used_coupons(),
    )


def rows(path: Path, table: str, column: str, value: str) -> list[tuple]:
    """Return a table's rows for one document, every column, as SQLite stores them."""
    conn = sqlite3.connect(path)
    try:
        found = conn.execute(
            f"SELECT * FROM {table} WHERE {column} = ? ORDER BY 1", (value,)
        ).fetchall()
    finally:
        conn.close()
    return found


def sell_and_compare(store: LocalStore, tmp_path: Path, cart: Cart, payments: list[Payment]):
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=ASHA, opening_float=D("500")).shift_id
    made: list[str] = []
    real_new_id = checkout.new_id

    def recording_new_id() -> str:
        made.append(real_new_id())
        return made[-1]

    checkout.new_id = recording_new_id  # type: ignore[assignment]
    try:
        with store.transaction() as session:
            done = complete_sale(
                session, cart=cart, payments=payments, cashier=ASHA, shift_id=shift_id, shop=SHOP
            )
    finally:
        checkout.new_id = real_new_id  # type: ignore[assignment]

    # The envelope, byte for byte: the old path validated the event, taxed it with
    # model_copy and validated the envelope around it.
    with store.session() as session:
        outbox = session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == done.event_id))
        assert outbox is not None
        written = protocol.Event.model_validate_json(outbox.body)
        old = old_sale_event(
            cart=cart,
            payments=payments,
            receipt_number=done.receipt_number,
            payment_ids=made,
            branch_id=1,
            shift_id=shift_id,
            completed_at=datetime.fromisoformat(written.payload["completed_at"]),
        )
        old = tax_invoice.tax_sale(session, event=old, cart=cart)
        envelope = protocol.Event(
            id=written.id,
            type=old.TYPE,
            occurred_at=written.occurred_at,
            device_id=written.device_id,
            payload=old.model_dump(mode="json"),
        )
        assert outbox.body == envelope.model_dump_json()
        assert protocol.SaleCompleted.model_validate(written.payload) == old

    # Every row, column for column, against the ORM writing the same values elsewhere.
    other = LocalStore(tmp_path / "orm.db")
    with other.transaction() as session:
        session.add(
            OutboxEvent(
                seq=outbox.seq,
                event_id=envelope.id,
                type=str(envelope.type),
                document_id=old.sale_id,
                body=envelope.model_dump_json(),
                created_at=envelope.occurred_at,
                attempts=0,
                rejected=False,
            )
        )
        session.add(
            Sale(
                id=old.sale_id,
                receipt_number=old.receipt_number,
                shift_id=old.shift_id,
                cashier_id=old.cashier_id,
                customer_id=old.customer_id,
                customer_local_id=old.customer_local_id,
                subtotal=old.subtotal,
                discount_total=old.discount_total,
                tax_total=old.tax_total,
                total=old.total,
                change_due=old.change_due,
                overrides=[o.model_dump(mode="json") for o in old.overrides],
                status="completed",
                created_at=old.completed_at,
                event_id=envelope.id,
            )
        )
        session.flush()
        for line in old.lines:
            session.add(
                SaleLine(
                    id=line.line_id,
                    sale_id=old.sale_id,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                    tax_rate=line.tax_rate,
                    tax=line.tax,
                    total=line.total,
                )
            )
            session.add(
                LineTaxRow(
                    line_id=line.line_id,
                    document_id=old.sale_id,
                    hsn=line.hsn,
                    detail=line.tax_detail,
                )
            )
        for p in old.payments:
            session.add(
                SalePayment(
                    id=p.payment_id,
                    sale_id=old.sale_id,
                    method=str(p.method),
                    amount=p.amount,
                    reference=p.reference,
                )
            )
        session.add(
            TaxDocument(
                document_id=old.sale_id,
                kind=tax_invoice.INVOICE,
                supply="inter" if old.buyer_state not in ("", "29") else "intra",
                seller_state="29",
                buyer_name=cart.customer.name if cart.customer and old.buyer_gstin else "",
                buyer_gstin=old.buyer_gstin,
                buyer_state=old.buyer_state,
            )
        )
    other.close()
    for table, column in (
        ("outbox", "document_id"),
        ("sales", "id"),
        ("sale_lines", "sale_id"),
        ("sale_payments", "sale_id"),
        ("tax_documents", "document_id"),
        ("line_taxes", "document_id"),
    ):
        fast = rows(store.path, table, column, old.sale_id)
        assert fast, table
        assert fast == rows(tmp_path / "orm.db", table, column, old.sale_id), table
    # The receipt is decorated from what was written, as a reprint decorates it from the store.
    with store.session() as session:
        copy = checkout.receipt_copy(session, receipt_number=done.receipt_number, shop=SHOP)
    assert done.receipt.tax_rows == copy.tax_rows
    assert done.receipt.buyer_lines == copy.buyer_lines
    assert [x.notes for x in done.receipt.lines] == [x.notes for x in copy.lines]
    return done, old


def item(store: LocalStore, number: int):
    with store.session() as session:
        return queries.find_by_codes(session, (DEMO_PRODUCTS[number].barcode,))


def test_a_walk_in_sale_writes_what_the_validated_models_and_the_orm_wrote(
    store: LocalStore, tmp_path: Path
) -> None:
    cart = Cart()
    for number in (0, 3, 5):
        cart.add(item(store, number))
    cart.add(item(store, 3))  # a second tea: the same line, quantity 2
    cart.set_line_discount(cart.lines[0].line_id, amount=D("1.50"))
    cart.set_order_discount(percent=D("50"), override=MANAGER)
    total = cart.totals().total
    done, old = sell_and_compare(
        store,
        tmp_path,
        cart,
        [
            card_payment(amount=D("10.00"), reference="4242"),
            cash_payment(due=total - D("10"), tendered=D("1000")),
        ],
    )
    assert old.overrides and old.discount_total > 0 and done.change_due > 0
    assert old.buyer_gstin == "" and done.receipt.title != "TAX INVOICE"


def test_a_business_buyer_from_another_state_gets_the_same_tax_invoice(
    store: LocalStore, tmp_path: Path
) -> None:
    cart = Cart()
    cart.add(item(store, 1))
    cart.add(item(store, 4), quantity=D(3))
    with store.session() as session:
        kiran = next(c for c in queries.find_customers(session, "kiran"))
    cart.set_customer(replace(kiran, tax_number=BUYER_GSTIN))
    total = cart.totals().total
    done, old = sell_and_compare(
        store, tmp_path, cart, [Payment(tender=Tender.UPI, amount=total, reference="UPI-1")]
    )
    assert (old.buyer_gstin, old.buyer_state) == (BUYER_GSTIN, "27")
    assert done.receipt.title == "TAX INVOICE"
    assert f"Buyer GSTIN {BUYER_GSTIN}" in done.receipt.buyer_lines
    assert any(line.notes for line in done.receipt.lines)  # per-line taxable and tax
