"""What each supplier charges for a product: the starting cost of a new PO line.

A price is per base unit (piece, kg), so a line bought in cases starts at price x units per
case. Someone may type a price; every goods receipt from the supplier sets it to the cost
actually paid, so the next order starts from the latest price without anyone typing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from common.errors import NotFound
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import is_sqlite, utcnow
from sync_server.foundation.principal import Principal
from sync_server.purchasing import units, vendors
from sync_server.purchasing.models import (
    GoodsReceipt,
    PurchaseOrder,
    PurchaseOrderLine,
    SupplierPrice,
)

MANUAL = "manual"
RECEIPT = "receipt"


def _prices(
    session: Session, *, tenant_id: int, supplier_id: int, product_ids: Iterable[int]
) -> dict[int, SupplierPrice]:
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    return {
        row.product_id: row
        for row in session.scalars(
            select(SupplierPrice).where(
                SupplierPrice.tenant_id == tenant_id,
                SupplierPrice.supplier_id == supplier_id,
                SupplierPrice.product_id.in_(ids),
            )
        )
    }


def list_prices(
    session: Session, *, tenant_id: int, supplier_id: int, product_ids: list[int] | None
) -> list[SupplierPrice]:
    """Return a supplier's prices, of some products or of all, in product order."""
    vendors.get_supplier(session, tenant_id=tenant_id, supplier_id=supplier_id)
    stmt = select(SupplierPrice).where(
        SupplierPrice.tenant_id == tenant_id, SupplierPrice.supplier_id == supplier_id
    )
    if product_ids is not None:
        stmt = stmt.where(SupplierPrice.product_id.in_(sorted(set(product_ids))))
    return list(session.scalars(stmt.order_by(SupplierPrice.product_id)))


def starting_costs(
    session: Session, *, tenant_id: int, supplier_id: int, product_ids: list[int]
) -> list[dict[str, Any]]:
    """Return each product's starting cost per base unit: the supplier's price, else last cost."""
    vendors.get_supplier(session, tenant_id=tenant_id, supplier_id=supplier_id)
    known = _prices(session, tenant_id=tenant_id, supplier_id=supplier_id, product_ids=product_ids)
    costs = dict(
        session.execute(
            select(Product.id, Product.cost).where(
                Product.tenant_id == tenant_id, Product.id.in_(sorted(set(product_ids)))
            )
        ).all()
    )
    missing = sorted(set(product_ids) - set(costs))
    if missing:
        raise NotFound(f"There is no product with id {missing[0]}.")
    out = []
    for product_id in sorted(set(product_ids)):
        if product_id in known:
            out.append(
                {
                    "product_id": product_id,
                    "unit_cost": known[product_id].unit_cost,
                    "source": "supplier_price",
                }
            )
        else:
            cost = costs[product_id] or Decimal(0)
            out.append(
                {
                    "product_id": product_id,
                    "unit_cost": cost,
                    "source": "last_cost" if cost else "none",
                }
            )
    return out


def set_price(
    session: Session, *, actor: Principal, supplier_id: int, product_id: int, unit_cost: Decimal
) -> SupplierPrice:
    """Record what a supplier charges for one base unit of a product."""
    vendors.get_supplier(session, tenant_id=actor.tenant_id, supplier_id=supplier_id)
    product = session.get(Product, product_id)
    if product is None or product.tenant_id != actor.tenant_id:
        raise NotFound(f"There is no product with id {product_id}.")
    row = _prices(
        session, tenant_id=actor.tenant_id, supplier_id=supplier_id, product_ids=[product_id]
    ).get(product_id)
    before = None if row is None else {"unit_cost": row.unit_cost, "source": row.source}
    if row is None:
        row = SupplierPrice(
            tenant_id=actor.tenant_id, supplier_id=supplier_id, product_id=product_id
        )
        session.add(row)
    row.unit_cost, row.source, row.updated_at = unit_cost, MANUAL, utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="supplier_price.set",
        entity_type="supplier",
        entity_id=supplier_id,
        before=before,
        after={"product_id": product_id, "unit_cost": unit_cost},
    )
    return row


def learn_from_receipt(
    session: Session,
    *,
    po: PurchaseOrder,
    receipt: GoodsReceipt,
    by_id: dict[int, PurchaseOrderLine],
) -> None:
    """Set the supplier's price of each received product to the cost paid, per base unit."""
    paid = {
        x.product_id: units.base_cost(x.unit_cost, by_id[x.po_line_id])
        for x in receipt.lines
        if x.unit_cost > 0  # free goods say nothing about the price
    }
    if not paid:
        return
    # One upsert: two receipts of one supplier's product at once must both land, not collide
    # on the unique key (the later one's cost wins, as it would one after the other).
    insert = sqlite_insert if is_sqlite(session.get_bind()) else pg_insert
    now = utcnow()
    stmt = insert(SupplierPrice).values(
        [
            {
                "tenant_id": po.tenant_id,
                "supplier_id": po.supplier_id,
                "product_id": product_id,
                "unit_cost": cost,
                "source": RECEIPT,
                "updated_at": now,
            }
            for product_id, cost in sorted(paid.items())
        ]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "supplier_id", "product_id"],
            set_={
                "unit_cost": stmt.excluded.unit_cost,
                "source": stmt.excluded.source,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    # Rows this session holds are now stale: read them afresh when next asked.
    for row in session.identity_map.values():
        if isinstance(row, SupplierPrice):
            session.expire(row)
