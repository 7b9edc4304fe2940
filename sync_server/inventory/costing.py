"""Cost of stock: receiving folds its cost into the moving average; valuation reads it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import NotFound, ValidationFailed
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import is_sqlite, lock_for_update
from sync_server.foundation.principal import Actor
from sync_server.inventory.ledger import ZERO, lock_levels, record_movement
from sync_server.inventory.models import StockLevel, StockMovement

COST_PLACES = Decimal("0.0001")


def receive(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    product_id: int,
    quantity: Decimal,
    unit_cost: Decimal,
    reference_type: str,
    reference_id: str,
) -> StockMovement:
    """Receive goods into a branch and fold their cost into the moving-average cost."""
    unit_cost = Decimal(unit_cost)
    if not unit_cost.is_finite() or unit_cost < 0:
        raise ValidationFailed("A unit cost must be zero or more.")
    # Lock the product: receipts of it in two branches must not both read the old cost.
    locked = session.scalar(
        lock_for_update(
            select(Product.id).where(
                Product.id == product_id, Product.tenant_id == actor.tenant_id
            ),
            session,
        )
    )
    if locked is None:
        raise NotFound(f"There is no product with id {product_id}.")
    product = session.get_one(Product, product_id, populate_existing=True)
    # The average is weighted by what the whole business holds (every branch), because
    # Product.cost is one figure per product. Stock below zero counts as none: it was sold
    # before it arrived, so it carries no old cost into the average.
    held = session.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
            StockLevel.tenant_id == actor.tenant_id,
            StockLevel.product_id == product_id,
            StockLevel.on_hand > 0,
        )
    )
    held = Decimal(held or 0)
    movement = record_movement(
        session,
        actor=actor,
        branch_id=branch_id,
        product_id=product_id,
        code=MovementCode.RECEIPT,
        quantity=quantity,
        unit_cost=unit_cost,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    old_cost = product.cost
    quantity = Decimal(quantity)
    new_cost = (held * old_cost + quantity * unit_cost) / (held + quantity)
    new_cost = new_cost.quantize(COST_PLACES, rounding=ROUND_HALF_UP)
    if new_cost != old_cost:
        product.cost = new_cost
        audit.record(
            session,
            actor=actor,
            action="product.cost",
            entity_type="product",
            entity_id=product_id,
            before={"cost": old_cost},
            after={"cost": new_cost, "receipt": movement.uuid},
        )
    return movement


def lock_products(session: Session, *, tenant_id: int, product_ids: Iterable[int]) -> None:
    """Lock products (their moving-average cost) in id order, in one statement.

    Receiving locks products before their levels; every receipt of several products takes
    them all here first so two receipts listing them in different orders never deadlock.
    """
    ids = sorted({int(product_id) for product_id in product_ids})
    if ids and not is_sqlite(session.get_bind()):
        session.execute(
            select(Product.id)
            .where(Product.tenant_id == tenant_id, Product.id.in_(ids))
            .order_by(Product.id)
            # NO KEY: a movement, order line or sale line inserted for the product takes a
            # key-share lock on it (its foreign key); FOR UPDATE would make every writer
            # that holds a level wait here, and a receipt that holds this wait for levels.
            .with_for_update(key_share=True)
        ).all()


def receive_lines(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal, Decimal]],
    reference_type: str,
    reference_id: str,
) -> list[StockMovement]:
    """Receive several (product, quantity, unit cost) lines: products, then levels, locked first."""
    lock_products(session, tenant_id=actor.tenant_id, product_ids=[p for p, _, _ in lines])
    owned = set(
        session.scalars(
            select(Product.id).where(
                Product.tenant_id == actor.tenant_id,
                Product.id.in_({int(p) for p, _, _ in lines}),
            )
        )
    )
    lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, int(p)) for p, _, _ in lines if int(p) in owned],
    )
    return [
        receive(
            session,
            actor=actor,
            branch_id=branch_id,
            product_id=product_id,
            quantity=quantity,
            unit_cost=unit_cost,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        for product_id, quantity, unit_cost in lines
    ]


def valuation(session: Session, *, tenant_id: int, branch_id: int | None = None) -> dict[str, Any]:
    """Value the stock on hand at moving-average cost, per product and in total."""
    on_hand = func.sum(StockLevel.on_hand)
    stmt = (
        select(Product.id, Product.sku, Product.name, Product.cost, on_hand)
        .join(StockLevel, StockLevel.product_id == Product.id)
        .where(StockLevel.tenant_id == tenant_id, Product.tenant_id == tenant_id)
        .group_by(Product.id, Product.sku, Product.name, Product.cost)
        .order_by(Product.name, Product.id)
    )
    if branch_id is not None:
        stmt = stmt.where(StockLevel.branch_id == branch_id)
    items = []
    total = ZERO
    for product_id, sku, name, cost, quantity in session.execute(stmt):
        quantity = Decimal(quantity)
        cost = Decimal(cost)
        value = (quantity * cost).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
        total += value
        items.append(
            {
                "product_id": product_id,
                "sku": sku,
                "name": name,
                "on_hand": quantity,
                "unit_cost": cost,
                "value": value,
            }
        )
    return {"branch_id": branch_id, "total_value": total, "items": items}
