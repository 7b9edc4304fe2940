"""Lot reports: who got lot X (a recall), and which lots are close to expiry."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import NotFound
from sync_server.catalog.models import Product
from sync_server.db import AnySelect
from sync_server.inventory import lot_queries
from sync_server.inventory.models import LotMovement, StockLot
from sync_server.orders.models import Order
from sync_server.org.models import Branch
from sync_server.partners.models import Customer
from sync_server.reports.base import Column, Kind, Report
from sync_server.sales.models import Sale

ZERO = Decimal("0")
_KIND = {
    "sale": "Till sale",
    "order": "Online order",
    "transfer": "Transfer",
    "adjustment": "Adjustment",
}


def _find_lot(session: Session, *, tenant_id: int, product_id: int, lot_number: str) -> StockLot:
    lot = session.scalar(
        select(StockLot).where(
            StockLot.tenant_id == tenant_id,
            StockLot.product_id == product_id,
            StockLot.lot_number == lot_number.strip(),
        )
    )
    if lot is None:
        raise NotFound(f"Product {product_id} has no lot {lot_number.strip()!r}.")
    return lot


def lot_trace(
    session: Session,
    *,
    tenant_id: int,
    product_id: int,
    lot_number: str,
    branch_ids: frozenset[int] | None,
) -> Report:
    """List every sale, order and transfer that took stock of the lot, with its customer."""
    lot = _find_lot(session, tenant_id=tenant_id, product_id=product_id, lot_number=lot_number)
    product = session.get_one(Product, product_id)  # the lot's product is there
    # Stock that left the shelf (sales, commits, dispatches), and what orders still hold.
    left = func.sum(
        case(
            (
                LotMovement.code.in_([MovementCode.RESERVATION.value, MovementCode.RELEASE.value]),
                0,
            ),
            else_=-LotMovement.quantity,
        )
    )
    held = func.sum(
        case(
            (
                LotMovement.code.in_(
                    [
                        MovementCode.RESERVATION.value,
                        MovementCode.RELEASE.value,
                        MovementCode.COMMIT.value,
                    ]
                ),
                LotMovement.quantity,
            ),
            else_=0,
        )
    )
    stmt = (
        select(
            LotMovement.reference_type,
            LotMovement.reference_id,
            LotMovement.branch_id,
            func.min(LotMovement.occurred_at),
            left,
            held,
        )
        .where(
            LotMovement.tenant_id == tenant_id,
            LotMovement.lot_id == lot.id,
            LotMovement.code.not_in([MovementCode.RECEIPT.value, MovementCode.TRANSFER_IN.value]),
        )
        .group_by(LotMovement.reference_type, LotMovement.reference_id, LotMovement.branch_id)
    )
    if branch_ids is not None:
        stmt = stmt.where(LotMovement.branch_id.in_(branch_ids))
    moved = session.execute(stmt).all()
    branches = dict(
        session.execute(select(Branch.id, Branch.code).where(Branch.tenant_id == tenant_id)).all()
    )
    sales = _by_key(
        session,
        select(Sale.uuid, Sale.receipt_number, Sale.customer_id).where(
            Sale.tenant_id == tenant_id,
            Sale.uuid.in_([rid for rtype, rid, *_ in moved if rtype == "sale"]),
        ),
    )
    orders = _by_key(
        session,
        select(Order.id, Order.external_number, Order.customer_id).where(
            Order.tenant_id == tenant_id,
            Order.id.in_([int(rid) for rtype, rid, *_ in moved if rtype == "order"]),
        ),
    )
    customer_ids = {c for _, c in sales.values()} | {c for _, c in orders.values()}
    customers = {
        row.id: row
        for row in session.execute(
            select(Customer.id, Customer.name, Customer.phone, Customer.email).where(
                Customer.tenant_id == tenant_id, Customer.id.in_(customer_ids - {None})
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for rtype, rid, branch_id, first, out, still_held in moved:
        out, still_held = Decimal(out or 0), Decimal(still_held or 0)
        if out == 0 and still_held == 0:
            continue
        document, customer_id = rid, None
        if rtype == "sale" and rid in sales:
            document, customer_id = sales[rid]
        elif rtype == "order" and int(rid) in orders:
            document, customer_id = orders[int(rid)]
        customer = customers.get(customer_id)
        rows.append(
            {
                "kind": _KIND.get(rtype, rtype),
                "document": document,
                "branch": branches.get(branch_id, str(branch_id)),
                "date": first,
                "customer": customer.name if customer else "",
                "phone": customer.phone if customer else "",
                "email": (customer.email or "") if customer else "",
                "customer_id": customer_id,
                "quantity": out,
                "reserved": still_held,
            }
        )
    rows.sort(key=lambda r: (r["date"], r["document"]))
    return Report(
        name="lot-trace",
        title=f"Recall: lot {lot.lot_number} of {product.name} ({product.sku})",
        columns=[
            Column("kind", "Kind"),
            Column("document", "Document"),
            Column("branch", "Branch"),
            Column("date", "Date", Kind.DATE),
            Column("customer", "Customer"),
            Column("phone", "Phone"),
            Column("email", "Email"),
            Column("customer_id", "Customer id", Kind.INT, internal=True),
            Column("quantity", "Quantity out", Kind.QTY),
            Column("reserved", "Still reserved", Kind.QTY),
        ],
        rows=rows,
        filters={
            "product_id": product_id,
            "lot_number": lot.lot_number,
            "expiry": lot.expiry.isoformat() if lot.expiry else None,
        },
    )


def _by_key(session: Session, stmt: AnySelect) -> dict[Any, tuple[str, int | None]]:
    return {key: (number, customer) for key, number, customer in session.execute(stmt)}


def expiring(
    session: Session, *, tenant_id: int, branch_ids: frozenset[int] | None, days: int, today: date
) -> Report:
    """List lots in stock that expire within days (or have expired), with a markdown hint."""
    rows = lot_queries.lot_rows(
        session, tenant_id=tenant_id, expiring_by=today + timedelta(days=days), today=today
    )
    if branch_ids is not None:
        rows = [row for row in rows if row["branch_id"] in branch_ids]
    products = dict(
        session.execute(
            select(Product.id, Product.name).where(
                Product.tenant_id == tenant_id,
                Product.id.in_({row["product_id"] for row in rows}),
            )
        ).all()
    )
    branches = dict(
        session.execute(select(Branch.id, Branch.code).where(Branch.tenant_id == tenant_id)).all()
    )
    for row in rows:
        row["product"] = products.get(row["product_id"], "")
        row["branch"] = branches.get(row["branch_id"], "")
        row["state"] = "expired" if row["expired"] else "expiring"
    return Report(
        name="lots-expiring",
        title=f"Lots expiring within {days} days",
        columns=[
            Column("branch", "Branch"),
            Column("product_id", "Product id", Kind.INT, internal=True),
            Column("product", "Product"),
            Column("lot_number", "Lot"),
            Column("expiry", "Expiry", Kind.DATE),
            Column("days_left", "Days left", Kind.INT, total=False),
            Column("state", "State"),
            Column("on_hand", "On hand", Kind.QTY),
            Column("suggested_markdown_percent", "Suggested markdown %", Kind.RATIO, total=False),
        ],
        rows=rows,
        filters={"days": days, "as_of": today.isoformat()},
    )
