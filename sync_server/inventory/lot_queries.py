"""What the lots hold: per branch, first to expire first, with a markdown suggestion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.inventory.lots import fefo_key, is_expired, today_utc
from sync_server.inventory.models import LotLevel, StockLot


def lot_rows(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int | None = None,
    product_id: int | None = None,
    expiring_by: date | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Return lot levels with their lot and expiry state (only those holding stock)."""
    today = today or today_utc()
    stmt = (
        select(LotLevel, StockLot)
        .join(StockLot, StockLot.id == LotLevel.lot_id)
        .where(LotLevel.tenant_id == tenant_id, LotLevel.on_hand != 0)
    )
    if branch_id is not None:
        stmt = stmt.where(LotLevel.branch_id == branch_id)
    if product_id is not None:
        stmt = stmt.where(LotLevel.product_id == product_id)
    if expiring_by is not None:
        stmt = stmt.where(StockLot.expiry.is_not(None), StockLot.expiry <= expiring_by)
    rows = []
    for level, lot in sorted(
        session.execute(stmt).all(), key=lambda r: (fefo_key(r[1]), r[0].branch_id)
    ):
        days = (lot.expiry - today).days if lot.expiry else None
        rows.append(
            {
                "lot_id": lot.id,
                "product_id": lot.product_id,
                "branch_id": level.branch_id,
                "lot_number": lot.lot_number,
                "expiry": lot.expiry,
                "days_left": days,
                "expired": is_expired(lot, today),
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "suggested_markdown_percent": markdown(days),
            }
        )
    return rows


def markdown(days_left: int | None) -> Decimal | None:
    """Suggest a markdown for a lot close to expiry (none when it is far off or gone)."""
    if days_left is None or days_left < 0 or days_left > 14:
        return None
    if days_left <= 3:
        return Decimal("50")
    if days_left <= 7:
        return Decimal("30")
    return Decimal("10")
