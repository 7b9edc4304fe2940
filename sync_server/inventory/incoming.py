"""Stock on its way next to stock on hand: what open purchase orders still bring."""

from __future__ import annotations

import importlib
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync_server.inventory import queries
from sync_server.paging import PageParams

ZERO = Decimal("0")


def levels_with_on_order(
    session: Session, *, tenant_id: int, branches: list[int] | None, params: PageParams, **filters
) -> dict[str, Any]:
    """Return one page of stock levels, each with on_order and the first expected date."""
    page = queries.levels_page(
        session, tenant_id=tenant_id, branches=branches, params=params, **filters
    )
    incoming = on_order(
        session,
        tenant_id=tenant_id,
        branch_ids={row["branch_id"] for row in page["items"]},
        product_ids={row["product_id"] for row in page["items"]},
    )
    for row in page["items"]:
        quantity, expected = incoming.get((row["branch_id"], row["product_id"]), (ZERO, None))
        row["on_order"], row["expected_at"] = quantity, expected
    return page


def on_order(
    session: Session, *, tenant_id: int, branch_ids: set[int], product_ids: set[int]
) -> dict[tuple[int, int], tuple[Decimal, date | None]]:
    """Return (ordered - received, earliest expected date) per (branch, product), one query.

    Open means approved, sent, confirmed, shipped or partly received (purchasing.INCOMING),
    the same orders GET /stock/incoming and the reorder suggestions count.
    """
    if not branch_ids or not product_ids:
        return {}
    try:
        # Purchasing builds on inventory, not the other way round: looked up, not imported.
        models = importlib.import_module("sync_server.purchasing.models")
        purchasing = importlib.import_module("sync_server.purchasing.service")
    except ModuleNotFoundError:
        return {}
    po, line = models.PurchaseOrder, models.PurchaseOrderLine
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
            po.status.in_(purchasing.INCOMING),
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
