"""Counts by lot: what was found of each lot, and the lot levels set to it on posting.

A product counted by lot is counted whole: its lots nobody found are set to zero when the
count is posted, and what was counted without a lot is untracked stock.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.ids import new_id
from sync_server.inventory.lots import branch_lots, level_of, lot_for
from sync_server.inventory.models import (
    LotMovement,
    StockCount,
    StockCountLot,
    StockLot,
    StockMovement,
)

ZERO = Decimal("0")


def add_lot(
    session: Session,
    *,
    count: StockCount,
    product_id: int,
    lot_number: str,
    quantity: Decimal,
    replace: bool,
) -> Decimal:
    """Record what was found of one lot; return by how much the product's count changes."""
    lot = lot_for(
        session,
        tenant_id=count.tenant_id,
        product_id=product_id,
        lot_number=lot_number,
        expiry=None,
    )
    row = session.scalar(
        select(StockCountLot).where(
            StockCountLot.count_id == count.id, StockCountLot.lot_id == lot.id
        )
    )
    if row is None:
        row = StockCountLot(
            tenant_id=count.tenant_id,
            count_id=count.id,
            product_id=product_id,
            lot_id=lot.id,
            counted=ZERO,
        )
        session.add(row)
    before = row.counted
    row.counted = quantity if replace else row.counted + quantity
    session.flush()
    return row.counted - before


def forget(session: Session, *, count: StockCount, product_id: int) -> None:
    """Drop what a count found of a product's lots (the product came off the count)."""
    session.execute(
        delete(StockCountLot).where(
            StockCountLot.count_id == count.id, StockCountLot.product_id == product_id
        )
    )


def counted_products(session: Session, *, count: StockCount) -> set[int]:
    """Return the products this count found by lot (their lots are set on posting)."""
    return set(
        session.scalars(select(StockCountLot.product_id).where(StockCountLot.count_id == count.id))
    )


def post_lots(session: Session, *, count: StockCount, movements: dict[int, StockMovement]) -> None:
    """Set every lot of the products counted by lot to what was found (unfound: zero)."""
    found: dict[int, Decimal] = dict(
        session.execute(
            select(StockCountLot.lot_id, StockCountLot.counted).where(
                StockCountLot.count_id == count.id
            )
        ).all()
    )
    products = counted_products(session, count=count)
    if not products:
        return
    lots = branch_lots(
        session, tenant_id=count.tenant_id, branch_id=count.branch_id, product_ids=products
    )
    known = {lot.id for rows in lots.values() for _, lot in rows}
    for product_id in sorted(products):
        rows = lots[product_id]
        # A lot found here that the branch never held gets its level now.
        for lot_id in [i for i in found if i not in known]:
            lot = session.get(StockLot, lot_id)
            if lot is not None and lot.product_id == product_id:
                level_of(
                    session,
                    tenant_id=count.tenant_id,
                    branch_id=count.branch_id,
                    lot=lot,
                    known=rows,
                )
        movement = movements.get(product_id)
        for level, lot in rows:
            difference = found.get(lot.id, ZERO) - level.on_hand
            if difference == 0:
                continue
            level.on_hand += difference
            session.add(
                LotMovement(
                    tenant_id=count.tenant_id,
                    movement_uuid=movement.uuid if movement is not None else new_id(),
                    lot_id=lot.id,
                    branch_id=count.branch_id,
                    product_id=product_id,
                    code=MovementCode.COUNT.value,
                    quantity=difference,
                    reference_type="count",
                    reference_id=str(count.id),
                )
            )
    session.flush()
