"""What open purchase orders still bring, per branch and product (stock levels show it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from sync_server.purchasing.service import INCOMING


def on_order(
    session: Session, *, tenant_id: int, branch_ids: set[int], product_ids: set[int]
) -> dict[tuple[int, int], tuple[Decimal, date | None]]:
    """Return (ordered - received, earliest expected date) per (branch, product), one query.

    Open means approved, sent, confirmed, shipped or partly received (purchasing.INCOMING),
    the same orders GET /stock/incoming and the reorder suggestions count.
    """
    if not branch_ids or not product_ids:
        return {}
    po, line = PurchaseOrder, PurchaseOrderLine
    left = line.quantity - line.received_quantity
    stmt = (
        select(
            po.branch_id,
            line.product_id,
            # Lines bought in cases count what is due in the product's base unit.
            func.sum(left * line.units_per),
            func.min(func.coalesce(po.expected_arrival, po.confirmed_date, po.expected_date)),
        )
        .join(po, po.id == line.purchase_order_id)
        .where(
            po.tenant_id == tenant_id,
            po.status.in_(INCOMING),
            po.branch_id.in_(branch_ids),
            line.product_id.in_(product_ids),
            left > 0,
        )
        .group_by(po.branch_id, line.product_id)
    )
    return {
        (branch_id, product_id): (Decimal(quantity), _as_date(first))
        for branch_id, product_id, quantity, first in session.execute(stmt)
    }


def _as_date(value: Any) -> date | None:
    # MIN() over a date column comes back as text on SQLite.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
