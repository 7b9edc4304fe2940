"""Reorder suggestions from stock thresholds and recent sales, grouped by preferred supplier."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import NotFound
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.foundation.principal import Principal
from sync_server.inventory.models import BranchProductSetting, StockLevel, StockMovement
from sync_server.org.models import Branch
from sync_server.partners.models import Supplier
from sync_server.purchasing import forecast, service
from sync_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from sync_server.purchasing.schemas import LineIn, POCreate, SuggestionsApply

ZERO = Decimal("0")
# Stock leaves a branch to customers through till sales and committed online orders.
_SOLD = (MovementCode.SALE.value, MovementCode.COMMIT.value)


def suggest(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    days_of_sales: int,
    cover_days: int,
    method: str = "threshold",
    service_level: float = 0.95,
) -> dict[str, Any]:
    """Propose what to order for a branch.

    method "threshold": a product is due when its stock, less what it will sell over
    cover_days at the rate of the last days_of_sales days, is at or below its low-stock
    threshold. The proposal brings it back to threshold plus that cover, and is never less
    than the product's reorder quantity.

    method "forecast": a product is due when its stock plus what is on order is at or below
    its forecast reorder point (purchasing.forecast, cover_days as the review period); the
    proposal brings it up to the order-up-to level. Each line says why.
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
    # Keyed like the groups: None is "no preferred supplier" and has no name of its own.
    suppliers: dict[int | None, str] = dict(
        session.execute(
            select(Supplier.id, Supplier.name).where(Supplier.tenant_id == tenant_id)
        ).all()
    )
    plans = (
        _forecast_plans(
            session,
            tenant_id=tenant_id,
            branch_id=branch_id,
            review_days=cover_days,
            service_level=service_level,
        )
        if method == "forecast"
        else None
    )
    incoming = on_order(session, tenant_id=tenant_id, branch_id=branch_id)
    groups: dict[int | None, list[dict[str, Any]]] = {}
    products = session.scalars(
        select(Product)
        .where(Product.tenant_id == tenant_id, Product.active.is_(True))
        .order_by(Product.name, Product.id)
    )
    for product in products:
        override = overrides.get(product.id)
        threshold = _pick(
            override.low_stock_threshold if override is not None else None,
            product.low_stock_threshold,
        )
        reorder_qty = _pick(
            override.reorder_quantity if override is not None else None,
            product.reorder_quantity,
        )
        have = Decimal(str(on_hand.get(product.id, 0)))
        daily = Decimal(str(sold.get(product.id) or 0)) / days_of_sales
        if threshold <= 0 and reorder_qty <= 0 and daily <= 0:
            continue  # no rule and no sales: nothing tells us to order it
        extra: dict[str, Any] = {}
        product_plan = plans(product) if plans is not None else None
        if product_plan is not None:
            position = have + incoming.get(product.id, ZERO)
            if position > product_plan.reorder_point:
                continue
            need = product_plan.order_up_to - position
            extra = {
                "on_order": incoming.get(product.id, ZERO),
                "reorder_point": product_plan.reorder_point,
                "order_up_to": product_plan.order_up_to,
                "reasoning": product_plan.reasoning,
            }
        else:
            # What open purchase orders still bring counts as stock: never order it twice.
            position = have + incoming.get(product.id, ZERO)
            need = threshold + daily * cover_days - position
            if position - daily * cover_days > threshold:
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
                **extra,
            }
        )
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, suppliers.get(kv[0], "")))
    return {
        "branch_id": branch_id,
        "days_of_sales": days_of_sales,
        "cover_days": cover_days,
        "method": method,
        "suppliers": [
            {
                "supplier_id": supplier_id,
                "supplier_name": suppliers.get(supplier_id, "No preferred supplier"),
                "lines": lines,
            }
            for supplier_id, lines in ordered
        ],
    }


def on_order(session: Session, *, tenant_id: int, branch_id: int) -> dict[int, Decimal]:
    """Return per product what approved purchase orders still have to bring to a branch."""
    rows = session.execute(
        select(
            PurchaseOrderLine.product_id,
            func.sum(
                (PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity)
                * PurchaseOrderLine.units_per  # in base units
            ),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.tenant_id == tenant_id,
            PurchaseOrder.branch_id == branch_id,
            PurchaseOrder.status.in_(service.INCOMING),
        )
        .group_by(PurchaseOrderLine.product_id)
    ).all()
    return {product_id: Decimal(str(qty)) for product_id, qty in rows if qty and qty > 0}


def _forecast_plans(
    session: Session, *, tenant_id: int, branch_id: int, review_days: int, service_level: float
) -> Callable[[Product], forecast.Plan | None]:
    """Return a function giving a product's forecast plan (None without sales history)."""
    history = forecast.daily_sales(session, tenant_id=tenant_id, branch_id=branch_id)
    leads = forecast.lead_times(session, tenant_id=tenant_id)

    def plan_of(product: Product) -> forecast.Plan | None:
        series = history.get(product.id)
        if not series:
            return None
        measured = leads.get(product.supplier_id) if product.supplier_id else None
        return forecast.plan(
            series,
            lead_days=measured if measured is not None else forecast.DEFAULT_LEAD_DAYS,
            lead_measured=measured is not None,
            review_days=review_days,
            service_level=service_level,
        )

    return plan_of


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
        method=data.method,
        service_level=data.service_level,
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
