"""Invariants that must hold after any scenario, checked straight on the database."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, case, func, select

from sync_server.inventory.ledger import RESERVATION_CODES, RESERVATION_ONLY
from sync_server.inventory.models import LotLevel, LotMovement, StockLevel, StockMovement


def _qty(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.001"))


def check_ledger(engine: Engine) -> int:
    """Assert that levels equal their movements; return how many levels were checked.

    on_hand == sum of every movement but reservation/release; reserved == sum of
    reservation, release and commit movements, which is what the documents still hold
    (and no document holds less than nothing).
    """
    shelf = func.sum(
        case(
            (StockMovement.code.in_([c.value for c in RESERVATION_ONLY]), 0),
            else_=StockMovement.quantity,
        )
    )
    held = func.sum(
        case(
            (StockMovement.code.in_([c.value for c in RESERVATION_CODES]), StockMovement.quantity),
            else_=0,
        )
    )
    key = (StockMovement.tenant_id, StockMovement.branch_id, StockMovement.product_id)
    with engine.connect() as conn:
        sums = {
            # SQLite sums NUMERIC as floating point: weighed quantities come back as
            # 975.6860000000004…, so read the sums at the quantities' scale (3 places).
            (t, b, p): (_qty(on_hand), _qty(reserved))
            for t, b, p, on_hand, reserved in conn.execute(select(*key, shelf, held).group_by(*key))
        }
        levels = {
            (t, b, p): (Decimal(on_hand), Decimal(reserved))
            for t, b, p, on_hand, reserved in conn.execute(
                select(
                    StockLevel.tenant_id,
                    StockLevel.branch_id,
                    StockLevel.product_id,
                    StockLevel.on_hand,
                    StockLevel.reserved,
                )
            )
        }
        per_document = conn.execute(
            select(
                *key,
                StockMovement.reference_type,
                StockMovement.reference_id,
                func.sum(StockMovement.quantity),
            )
            .where(StockMovement.code.in_([c.value for c in RESERVATION_CODES]))
            .group_by(*key, StockMovement.reference_type, StockMovement.reference_id)
        ).all()
    missing = set(sums) - set(levels)
    assert not missing, f"movements without a stock level: {sorted(missing)}"
    for level_key, (on_hand, reserved) in levels.items():
        expected = sums.get(level_key, (Decimal(0), Decimal(0)))
        assert (on_hand, reserved) == expected, (
            f"level {level_key} says on_hand={on_hand} reserved={reserved}, "
            f"movements say on_hand={expected[0]} reserved={expected[1]}"
        )
    negative = [row for row in per_document if Decimal(row[-1]) < 0]
    assert not negative, f"documents releasing more than they reserved: {negative}"
    return len(levels) + check_lot_ledger(engine)


def check_lot_ledger(engine: Engine) -> int:
    """Assert that every lot level equals its lot movements; return how many were checked."""
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
    key = (LotMovement.tenant_id, LotMovement.branch_id, LotMovement.lot_id)
    with engine.connect() as conn:
        sums = {
            (t, b, lot): (_qty(on_hand), _qty(reserved))
            for t, b, lot, on_hand, reserved in conn.execute(
                select(*key, shelf, held).group_by(*key)
            )
        }
        levels = {
            (t, b, lot): (Decimal(on_hand), Decimal(reserved))
            for t, b, lot, on_hand, reserved in conn.execute(
                select(
                    LotLevel.tenant_id,
                    LotLevel.branch_id,
                    LotLevel.lot_id,
                    LotLevel.on_hand,
                    LotLevel.reserved,
                )
            )
        }
    assert set(sums) <= set(levels), f"lot movements without a lot level: {set(sums) - set(levels)}"
    for level_key, stored in levels.items():
        expected = sums.get(level_key, (Decimal(0), Decimal(0)))
        assert stored == expected, (
            f"lot level {level_key} is {stored}, lot movements say {expected}"
        )
    return len(levels)
