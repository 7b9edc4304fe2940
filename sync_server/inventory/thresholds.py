"""A branch's own low-stock threshold and reorder quantity for a product."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server import events
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.foundation.principal import Actor
from sync_server.inventory.events import ThresholdChanged
from sync_server.inventory.ledger import _level_query
from sync_server.inventory.models import BranchProductSetting
from sync_server.lookups import get_owned
from sync_server.org.models import Branch


def threshold(session: Session, *, product: Product, branch_id: int) -> Decimal:
    """Return the low-stock threshold: the branch's override, else the product's default."""
    override = session.scalar(
        select(BranchProductSetting.low_stock_threshold).where(
            BranchProductSetting.tenant_id == product.tenant_id,
            BranchProductSetting.branch_id == branch_id,
            BranchProductSetting.product_id == product.id,
        )
    )
    return override if override is not None else product.low_stock_threshold


def set_thresholds(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    low_stock_threshold: Decimal | None,
    reorder_quantity: Decimal | None,
) -> dict[str, Any]:
    """Set a branch's own threshold and reorder quantity for a product (None: the default)."""
    product = get_owned(session, Product, id=product_id, tenant_id=actor.tenant_id, what="product")
    get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    row = session.scalar(
        select(BranchProductSetting).where(
            BranchProductSetting.tenant_id == actor.tenant_id,
            BranchProductSetting.branch_id == branch_id,
            BranchProductSetting.product_id == product_id,
        )
    )
    before = None
    if row is None:
        row = BranchProductSetting(
            tenant_id=actor.tenant_id, branch_id=branch_id, product_id=product_id
        )
        session.add(row)
    else:
        before = {
            "low_stock_threshold": row.low_stock_threshold,
            "reorder_quantity": row.reorder_quantity,
        }
    row.low_stock_threshold = low_stock_threshold
    row.reorder_quantity = reorder_quantity
    row.updated_at = utcnow()
    session.flush()
    # A new threshold may put the level below it (or lift it above): re-judge the alerts.
    current = session.scalar(
        _level_query(tenant_id=actor.tenant_id, branch_id=branch_id, product_id=product_id)
    )
    if current is not None:
        events.publish(ThresholdChanged(session=session, product=product, level=current))
    audit.record(
        session,
        actor=actor,
        action="stock.thresholds",
        entity_type="product",
        entity_id=product_id,
        before=before,
        after={
            "branch_id": branch_id,
            "low_stock_threshold": low_stock_threshold,
            "reorder_quantity": reorder_quantity,
        },
    )
    return {
        "branch_id": branch_id,
        "product_id": product_id,
        "low_stock_threshold": low_stock_threshold,
        "reorder_quantity": reorder_quantity,
        "effective_threshold": threshold(session, product=product, branch_id=branch_id),
    }
