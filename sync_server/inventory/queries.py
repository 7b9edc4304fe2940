"""Read side of the ledger: stock levels with their status, movement history."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from common.errors import PermissionDenied
from sync_server.catalog.models import Product, ProductBarcode
from sync_server.inventory.models import BranchProductSetting, StockLevel, StockMovement
from sync_server.lookups import PageParams, like_pattern, paginate

_AVAILABLE = StockLevel.on_hand - StockLevel.reserved
_THRESHOLD = func.coalesce(BranchProductSetting.low_stock_threshold, Product.low_stock_threshold)
_REORDER = func.coalesce(BranchProductSetting.reorder_quantity, Product.reorder_quantity)
# The same order of tests as the alerts: negative, then out, then low.
_STATUS = case(
    (StockLevel.on_hand < 0, "negative"),
    (_AVAILABLE <= 0, "out"),
    (_AVAILABLE < _THRESHOLD, "low"),
    else_="in_stock",
)


def visible_branches(principal: Any, branch_id: int | None) -> list[int] | None:
    """Return the branches a read may cover (None: all), refusing a branch the caller lacks."""
    if branch_id is not None:
        if not principal.may_use_branch(branch_id):
            raise PermissionDenied(f"You may not see branch {branch_id}.")
        return [branch_id]
    return None if principal.all_branches else sorted(principal.branch_ids)


def levels_page(
    session: Session,
    *,
    tenant_id: int,
    branches: list[int] | None,
    params: PageParams,
    product_id: int | None = None,
    category_id: int | None = None,
    supplier_id: int | None = None,
    status: str | None = None,
    q: str | None = None,
) -> dict[str, Any]:
    """Return one page of stock levels with product facts, threshold and status."""
    stmt = (
        select(StockLevel)
        .join(Product, Product.id == StockLevel.product_id)
        .outerjoin(
            BranchProductSetting,
            and_(
                BranchProductSetting.tenant_id == StockLevel.tenant_id,
                BranchProductSetting.branch_id == StockLevel.branch_id,
                BranchProductSetting.product_id == StockLevel.product_id,
            ),
        )
        .where(StockLevel.tenant_id == tenant_id)
    )
    if branches is not None:
        stmt = stmt.where(StockLevel.branch_id.in_(branches))
    if product_id is not None:
        stmt = stmt.where(StockLevel.product_id == product_id)
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == supplier_id)
    if status is not None:
        stmt = stmt.where(_STATUS == status)  # noqa: SIM300 - a SQL expression, not a constant
    if q:
        with_code = select(ProductBarcode.product_id).where(
            ProductBarcode.tenant_id == tenant_id, ProductBarcode.code == q
        )
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.sku.ilike(pattern, escape="\\"),
                Product.id.in_(with_code),
            )
        )
    page = paginate(
        session,
        stmt,
        params=params,
        sortable={
            "name": Product.name,
            "sku": Product.sku,
            "on_hand": StockLevel.on_hand,
            "available": _AVAILABLE,
            "updated_at": StockLevel.updated_at,
        },
        default_sort="name",
        tiebreak=StockLevel.id,
    )
    page["items"] = describe_levels(session, tenant_id=tenant_id, levels=page["items"])
    return page


def describe_levels(
    session: Session, *, tenant_id: int, levels: list[StockLevel]
) -> list[dict[str, Any]]:
    """Return levels as API rows (product name, threshold, reorder quantity, status)."""
    if not levels:
        return []
    ids = [level.id for level in levels]
    facts = {
        row.id: row
        for row in session.execute(
            select(
                StockLevel.id,
                Product.sku,
                Product.name,
                Product.cost,
                _THRESHOLD.label("threshold"),
                _REORDER.label("reorder"),
                _STATUS.label("status"),
            )
            .join(Product, Product.id == StockLevel.product_id)
            .outerjoin(
                BranchProductSetting,
                and_(
                    BranchProductSetting.tenant_id == StockLevel.tenant_id,
                    BranchProductSetting.branch_id == StockLevel.branch_id,
                    BranchProductSetting.product_id == StockLevel.product_id,
                ),
            )
            .where(StockLevel.tenant_id == tenant_id, StockLevel.id.in_(ids))
        )
    }
    rows = []
    for level in levels:
        fact = facts[level.id]
        rows.append(
            {
                "branch_id": level.branch_id,
                "product_id": level.product_id,
                "sku": fact.sku,
                "name": fact.name,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "available": level.available,
                "threshold": Decimal(fact.threshold),
                "reorder_quantity": Decimal(fact.reorder),
                "status": fact.status,
                "unit_cost": Decimal(fact.cost),
                "updated_at": level.updated_at,
            }
        )
    return rows


def movements_page(
    session: Session,
    *,
    tenant_id: int,
    branches: list[int] | None,
    params: PageParams,
    product_id: int | None = None,
    code: str | None = None,
    actor_id: int | None = None,
    actor: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> dict[str, Any]:
    """Return one page of movement history, newest first by default."""
    stmt = select(StockMovement).where(StockMovement.tenant_id == tenant_id)
    if branches is not None:
        stmt = stmt.where(StockMovement.branch_id.in_(branches))
    filters = {
        StockMovement.product_id: product_id,
        StockMovement.code: code,
        StockMovement.actor_id: actor_id,
        StockMovement.actor: actor,
        StockMovement.reference_type: reference_type,
        StockMovement.reference_id: reference_id,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    # A date without a zone means UTC, like every time the server stores.
    date_from = date_from.replace(tzinfo=UTC) if date_from and not date_from.tzinfo else date_from
    date_to = date_to.replace(tzinfo=UTC) if date_to and not date_to.tzinfo else date_to
    if date_from is not None:
        stmt = stmt.where(StockMovement.occurred_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(StockMovement.occurred_at < date_to)
    return paginate(
        session,
        stmt,
        params=params,
        sortable={
            "occurred_at": StockMovement.occurred_at,
            "recorded_at": StockMovement.recorded_at,
            "id": StockMovement.id,
        },
        default_sort="-id",
        tiebreak=StockMovement.id,
    )
