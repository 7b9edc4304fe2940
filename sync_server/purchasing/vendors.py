"""What the business owes each supplier: receipts add, payments subtract; statements, history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from common.errors import Conflict, NotFound
from common.money import format_money
from sync_server.audit import service as audit
from sync_server.credit.service import day_bounds, exact
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Principal
from sync_server.org.service import get_setting
from sync_server.partners.models import Supplier
from sync_server.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    PurchaseOrder,
    VendorEntry,
)

RECEIPT = "receipt"
PAYMENT = "payment"
ZERO = Decimal("0")
_PAYABLE = frozenset(
    {"approved", "sent", "confirmed", "shipped", "partially_received", "received", "closed"}
)


def get_supplier(session: Session, *, tenant_id: int, supplier_id: int) -> Supplier:
    """Return a supplier of the tenant or NotFound."""
    supplier = session.get(Supplier, supplier_id)
    if supplier is None or supplier.tenant_id != tenant_id:
        raise NotFound(f"There is no supplier with id {supplier_id}.")
    return supplier


def book_receipt(session: Session, *, actor: Principal, receipt: GoodsReceipt) -> VendorEntry:
    """Owe the supplier the value of a goods receipt (caller's transaction)."""
    entry = VendorEntry(
        tenant_id=receipt.tenant_id,
        supplier_id=receipt.supplier_id,
        kind=RECEIPT,
        amount=receipt.value,
        purchase_order_id=receipt.purchase_order_id,
        receipt_id=receipt.id,
        occurred_at=receipt.received_at,
        actor_id=actor.user_id,
        actor=actor.label,
    )
    session.add(entry)
    session.flush()
    return entry


def record_payment(
    session: Session,
    *,
    actor: Principal,
    supplier_id: int,
    amount: Decimal,
    method: str,
    reference: str,
    paid_on: date | None = None,
    purchase_order_id: int | None = None,
) -> VendorEntry:
    """Record a payment to a supplier, against their account or one of their POs."""
    supplier = get_supplier(session, tenant_id=actor.tenant_id, supplier_id=supplier_id)
    po = None
    if purchase_order_id is not None:
        po = session.scalar(
            lock_for_update(
                select(PurchaseOrder).where(
                    PurchaseOrder.id == purchase_order_id,
                    PurchaseOrder.tenant_id == actor.tenant_id,
                ),
                session,
            ).execution_options(populate_existing=True)
        )
        if po is None or po.supplier_id != supplier.id:
            raise NotFound(
                f"Supplier {supplier.name} has no purchase order with id {purchase_order_id}."
            )
        if po.status not in _PAYABLE:
            raise Conflict(f"Purchase order {po.number} is {po.status}; it cannot be paid.")
        payable = max(po.total, po.received_value) - po.paid_amount
        if amount > payable:
            money = str(get_setting(session, tenant_id=po.tenant_id, key="currency"))
            raise Conflict(
                f"Purchase order {po.number} has {format_money(payable, money)} left to pay; "
                f"{format_money(amount, money)} is too much.",
                payable=str(payable),
            )
        po.paid_amount += amount
    occurred = datetime.combine(paid_on, time(12), tzinfo=UTC) if paid_on is not None else utcnow()
    entry = VendorEntry(
        tenant_id=actor.tenant_id,
        supplier_id=supplier.id,
        kind=PAYMENT,
        amount=-amount,
        purchase_order_id=po.id if po else None,
        method=method,
        reference=reference,
        occurred_at=occurred,
        actor_id=actor.user_id,
        actor=actor.label,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="vendor.payment_recorded",
        entity_type="supplier",
        entity_id=supplier.id,
        after={
            "entry_id": entry.id,
            "amount": amount,
            "method": method,
            "reference": reference,
            "purchase_order_id": entry.purchase_order_id,
            "paid_on": occurred.date().isoformat(),
        },
    )
    return entry


def _sum(session: Session, supplier: Supplier, *conditions: Any) -> Decimal:
    return exact(
        session.scalar(
            select(func.sum(VendorEntry.amount)).where(
                VendorEntry.tenant_id == supplier.tenant_id,
                VendorEntry.supplier_id == supplier.id,
                *conditions,
            )
        )
    )


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite returns aggregates of datetimes as text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def account(session: Session, *, tenant_id: int, supplier_id: int) -> dict[str, Any]:
    """Summarise a supplier account: supplied, paid, balance due, last payment."""
    supplier = get_supplier(session, tenant_id=tenant_id, supplier_id=supplier_id)
    supplied = _sum(session, supplier, VendorEntry.kind == RECEIPT)
    paid = -_sum(session, supplier, VendorEntry.kind == PAYMENT)
    last = session.scalar(
        select(func.max(VendorEntry.occurred_at)).where(
            VendorEntry.tenant_id == tenant_id,
            VendorEntry.supplier_id == supplier.id,
            VendorEntry.kind == PAYMENT,
        )
    )
    open_pos = session.scalar(
        select(func.count()).where(
            PurchaseOrder.tenant_id == tenant_id,
            PurchaseOrder.supplier_id == supplier.id,
            PurchaseOrder.status.in_(
                (
                    "pending_approval",
                    "approved",
                    "sent",
                    "confirmed",
                    "shipped",
                    "partially_received",
                )
            ),
        )
    )
    return {
        "supplier_id": supplier.id,
        "name": supplier.name,
        "total_supplied": supplied,
        "total_paid": paid,
        "balance_due": supplied - paid,
        "last_payment_at": _aware(last),
        "open_purchase_orders": open_pos or 0,
    }


def entries_query(
    *, tenant_id: int, supplier_id: int, kind: str | None = None
) -> Select[VendorEntry]:
    """Return the select of a supplier's ledger entries (the route pages it)."""
    stmt = select(VendorEntry).where(
        VendorEntry.tenant_id == tenant_id, VendorEntry.supplier_id == supplier_id
    )
    return stmt if kind is None else stmt.where(VendorEntry.kind == kind)


def statement(
    session: Session, *, tenant_id: int, supplier_id: int, start: date, end: date
) -> dict[str, Any]:
    """Return the supplier statement: opening balance, entries with running balance, closing."""
    supplier = get_supplier(session, tenant_id=tenant_id, supplier_id=supplier_id)
    since, until = day_bounds(start, end)
    opening = _sum(session, supplier, VendorEntry.occurred_at < since)
    rows = session.scalars(
        entries_query(tenant_id=tenant_id, supplier_id=supplier.id)
        .where(VendorEntry.occurred_at >= since, VendorEntry.occurred_at < until)
        .order_by(VendorEntry.occurred_at, VendorEntry.id)
    ).all()
    numbers = dict(
        session.execute(
            select(PurchaseOrder.id, PurchaseOrder.number).where(
                PurchaseOrder.id.in_({r.purchase_order_id for r in rows if r.purchase_order_id})
            )
        ).all()
    )
    running, lines = opening, []
    for row in rows:
        running += row.amount
        po = numbers.get(row.purchase_order_id, "") if row.purchase_order_id is not None else ""
        description = (
            f"Goods received {po}".strip()
            if row.kind == RECEIPT
            else f"Payment ({row.method}) {row.reference} {po}".strip()
        )
        lines.append(
            {
                "at": row.occurred_at,
                "kind": row.kind,
                "description": description,
                "debit": row.amount if row.amount > 0 else ZERO,
                "credit": -row.amount if row.amount < 0 else ZERO,
                "balance": running,
            }
        )
    return {
        "supplier_id": supplier.id,
        "name": supplier.name,
        "start": start,
        "end": end,
        "opening_balance": opening,
        "closing_balance": running,
        "lines": lines,
    }


def history(session: Session, *, tenant_id: int, supplier_id: int) -> dict[str, Any]:
    """Return every PO of a supplier with lead time and fill rate, and its price changes."""
    supplier = get_supplier(session, tenant_id=tenant_id, supplier_id=supplier_id)
    pos = session.scalars(
        select(PurchaseOrder)
        .where(PurchaseOrder.tenant_id == tenant_id, PurchaseOrder.supplier_id == supplier.id)
        .order_by(PurchaseOrder.created_at, PurchaseOrder.id)
    ).all()
    rows, leads, ordered_all, received_all = [], [], ZERO, ZERO
    for po in pos:
        ordered = sum((line.quantity for line in po.lines), ZERO)
        received = sum((line.received_quantity for line in po.lines), ZERO)
        ordered_at = po.decided_at if po.status not in ("draft", "rejected") else None
        lead = None
        if ordered_at is not None and po.received_at is not None:
            lead = round((po.received_at - ordered_at).total_seconds() / 86400, 2)
            leads.append(lead)
        if po.status not in ("draft", "pending_approval", "rejected", "cancelled"):
            ordered_all += ordered
            received_all += received
        rows.append(
            {
                "id": po.id,
                "number": po.number,
                "status": po.status,
                "total": po.total,
                "received_value": po.received_value,
                "ordered_at": ordered_at,
                "received_at": po.received_at,
                "lead_time_days": lead,
                "fill_rate": (received / ordered).quantize(Decimal("0.0001")) if ordered else ZERO,
            }
        )
    return {
        "supplier_id": supplier.id,
        "purchase_orders": rows,
        "average_lead_time_days": round(sum(leads) / len(leads), 2) if leads else None,
        "overall_fill_rate": (
            (received_all / ordered_all).quantize(Decimal("0.0001")) if ordered_all else None
        ),
        "price_changes": _price_changes(session, tenant_id=tenant_id, supplier_id=supplier.id),
    }


def _price_changes(session: Session, *, tenant_id: int, supplier_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(GoodsReceiptLine.product_id, GoodsReceipt.received_at, GoodsReceiptLine.unit_cost)
        .join(GoodsReceipt, GoodsReceipt.id == GoodsReceiptLine.receipt_id)
        .where(GoodsReceipt.tenant_id == tenant_id, GoodsReceipt.supplier_id == supplier_id)
        .order_by(GoodsReceipt.received_at, GoodsReceiptLine.id)
    ).all()
    last: dict[int, Decimal] = {}
    changes = []
    for product_id, at, cost in rows:
        previous = last.get(product_id)
        if previous is not None and previous != cost:
            changes.append(
                {"product_id": product_id, "at": at, "old_cost": previous, "new_cost": cost}
            )
        last[product_id] = cost
    return changes
