"""Check every lot level against its lot movements, and the lots against their product."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sync_server.catalog.models import Product
from sync_server.integrity.difference import Difference
from sync_server.inventory.ledger import RESERVATION_CODES, RESERVATION_ONLY
from sync_server.inventory.models import LotLevel, LotMovement, StockLevel, StockLot
from sync_server.org.models import Branch

ZERO = Decimal("0")


def _qty(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.001"))


def lot_sums(session: Session, *, tenant_id: int) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
    """Return (on hand, reserved) per (branch, lot) as the lot movements add up."""
    shelf = func.sum(
        case(
            (LotMovement.code.in_([c.value for c in RESERVATION_ONLY]), 0),
            else_=LotMovement.quantity,
        )
    )
    held = func.sum(
        case(
            (LotMovement.code.in_([c.value for c in RESERVATION_CODES]), LotMovement.quantity),
            else_=0,
        )
    )
    key = (LotMovement.branch_id, LotMovement.lot_id)
    return {
        (b, lot): (_qty(on_hand), _qty(reserved))
        for b, lot, on_hand, reserved in session.execute(
            select(*key, shelf, held).where(LotMovement.tenant_id == tenant_id).group_by(*key)
        )
    }


def check_lots(session: Session, *, tenant_id: int) -> list[Difference]:
    """Return every lot level that differs from the sum of its lot movements.

    Also a branch whose lots of a product reserve more than the product level does: the
    lots are a split of the product's stock, never more of it.
    """
    names = dict(
        session.execute(select(Branch.id, Branch.code).where(Branch.tenant_id == tenant_id)).all()
    )
    lots = {
        lot_id: (sku, number)
        for lot_id, sku, number in session.execute(
            select(StockLot.id, Product.sku, StockLot.lot_number)
            .join(Product, Product.id == StockLot.product_id)
            .where(StockLot.tenant_id == tenant_id)
        )
    }

    def place(branch_id: int, lot_id: int) -> str:
        sku, number = lots.get(lot_id, (f"#{lot_id}", "?"))
        return f"branch {names.get(branch_id, f'#{branch_id}')}, product {sku}, lot {number}"

    sums = lot_sums(session, tenant_id=tenant_id)
    levels = {
        (b, lot): (_qty(on_hand), _qty(reserved), product_id)
        for b, lot, product_id, on_hand, reserved in session.execute(
            select(
                LotLevel.branch_id,
                LotLevel.lot_id,
                LotLevel.product_id,
                LotLevel.on_hand,
                LotLevel.reserved,
            ).where(LotLevel.tenant_id == tenant_id)
        )
    }
    found: list[Difference] = []
    for key in sorted(set(sums) | set(levels)):
        moved = sums.get(key, (ZERO, ZERO))
        if key not in levels:
            found.append(
                Difference("lot_level", place(*key), "no lot level", f"on hand {moved[0]}")
            )
            continue
        for label, have, want in (
            ("on hand", levels[key][0], moved[0]),
            ("reserved", levels[key][1], moved[1]),
        ):
            if have != want:
                found.append(
                    Difference("lot_level", f"{place(*key)}, {label}", str(have), str(want))
                )
    reserved_by_lots: dict[tuple[int, int], Decimal] = {}
    for (branch_id, _), (_, reserved, product_id) in levels.items():
        key = (branch_id, product_id)
        reserved_by_lots[key] = reserved_by_lots.get(key, ZERO) + reserved
    product_reserved = {
        (b, p): _qty(r)
        for b, p, r in session.execute(
            select(StockLevel.branch_id, StockLevel.product_id, StockLevel.reserved).where(
                StockLevel.tenant_id == tenant_id
            )
        )
    }
    for key, reserved in sorted(reserved_by_lots.items()):
        if reserved > product_reserved.get(key, ZERO):
            found.append(
                Difference(
                    "lot_level",
                    f"branch {names.get(key[0], key[0])}, product #{key[1]}, lots reserved",
                    str(reserved),
                    f"at most {product_reserved.get(key, ZERO)}",
                )
            )
    return found
