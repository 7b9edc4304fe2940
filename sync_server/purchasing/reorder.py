"""Reorder suggestions from stock thresholds and recent sales, grouped by preferred supplier."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import NotFound
from sync_server.auth.principal import Principal
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.inventory.models import BranchProductSetting, StockLevel, StockMovement
from sync_server.org.models import Branch
from sync_server.partners.models import Supplier
from sync_server.purchasing import service
from sync_server.purchasing.models import PurchaseOrder
from sync_server.purchasing.schemas import LineIn, POCreate, SuggestionsApply

ZERO = Decimal("0")
# Stock leaves a branch to customers through till sales and committed online orders.
_SOLD = (MovementCode.SALE.value, MovementCode.COMMIT.value)


def suggest(
    session: Session, *, tenant_id: int, branch_id: int, days_of_sales: int, cover_days: int
) -> dict[str, Any]:
    """Propose what to order for a branch.

    A product is due when its stock, less what it will sell over cover_days at the rate of the
    last days_of_sales days, is at or below its low-stock threshold. The proposal brings it
    back to threshold plus that cover, and is never less than the product's reorder quantity.
    """
    branch = session.get(Branch, branch_id)
    if branch is None or branch.tenant_id != tenant_id:
        raise NotFound(f"There is no branch with id {branch_id}.")
    on_hand = dict(
        session.execute(
            select(StockLevel.product_id, StockLevel.on_hand).where(
                StockLevel.tenant_id == tenant_id, StockLevel.branch_id == branch_id
            )
        ).all()
    )
    since = utcnow() - timedelta(days=days_of_sales)
    sold = dict(
        session.execute(
            select(StockMovement.product_id, -func.sum(StockMovement.quantity))
            .where(
                StockMovement.tenant_id == tenant_id,
                StockMovement.branch_id == branch_id,
                StockMovement.code.in_(_SOLD),
                StockMovement.occurred_at >= since,
            )
            .group_by(StockMovement.product_id)
        ).all()
    )
    overrides = {
        row.product_id: row
        for row in session.scalars(
            select(BranchProductSetting).where(
                BranchProductSetting.tenant_id == tenant_id,
                BranchProductSetting.branch_id == branch_id,
            )
        )
    }
    suppliers = dict(
        session.execute(
            select(Supplier.id, Supplier.name).where(Supplier.tenant_id == tenant_id)
        ).all()
    )
    groups: dict[int | None, list[dict[str, Any]]] = {}
    products = session.scalars(
        select(Product)
        .where(Product.tenant_id == tenant_id, Product.active.is_(True))
        .order_by(Product.name, Product.id)
    )
    for product in products:
        override = overrides.get(product.id)
        threshold = _pick(override and override.low_stock_threshold, product.low_stock_threshold)
        reorder_qty = _pick(override and override.reorder_quantity, product.reorder_quantity)
        have = Decimal(str(on_hand.get(product.id, 0)))
        daily = Decimal(str(sold.get(product.id) or 0)) / days_of_sales
        if threshold <= 0 and reorder_qty <= 0 and daily <= 0:
            continue  # no rule and no sales: nothing tells us to order it
        need = threshold + daily * cover_days - have
        if have - daily * cover_days > threshold:
            continue
        quantity = max(reorder_qty, Decimal(math.ceil(max(need, ZERO))))
        if quantity <= 0:
            continue
        groups.setdefault(product.supplier_id, []).append(
            {
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "on_hand": have,
                "threshold": threshold,
                "daily_sales": daily.quantize(Decimal("0.001")),
                "quantity": quantity,
                "unit_cost": product.cost,
            }
        )
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, suppliers.get(kv[0], "")))
    return {
        "branch_id": branch_id,
        "days_of_sales": days_of_sales,
        "cover_days": cover_days,
        "suppliers": [
            {
                "supplier_id": supplier_id,
                "supplier_name": suppliers.get(supplier_id, "No preferred supplier"),
                "lines": lines,
            }
            for supplier_id, lines in ordered
        ],
    }


def _pick(override: Decimal | None, default: Decimal) -> Decimal:
    return Decimal(str(override)) if override is not None else Decimal(str(default))


def create_drafts(
    session: Session, *, actor: Principal, data: SuggestionsApply
) -> list[PurchaseOrder]:
    """Turn the suggestions into draft POs, one per preferred supplier."""
    proposal = suggest(
        session,
        tenant_id=actor.tenant_id,
        branch_id=data.branch_id,
        days_of_sales=data.days_of_sales,
        cover_days=data.cover_days,
    )
    wanted = set(data.supplier_ids) if data.supplier_ids is not None else None
    drafts = []
    for group in proposal["suppliers"]:
        supplier_id = group["supplier_id"]
        if supplier_id is None or (wanted is not None and supplier_id not in wanted):
            continue
        drafts.append(
            service.create(
                session,
                actor=actor,
                data=POCreate(
                    supplier_id=supplier_id,
                    branch_id=data.branch_id,
                    notes="Made from reorder suggestions",
                    lines=[
                        LineIn(
                            product_id=line["product_id"],
                            quantity=line["quantity"],
                            unit_cost=line["unit_cost"],
                        )
                        for line in group["lines"]
                    ],
                ),
            )
        )
    return drafts
