"""Purchase units: a PO line bought in cases of 12 is received and stocked in pieces."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import Unit
from common.errors import ValidationFailed
from common.units import format_quantity
from sync_server.catalog.models import Product
from sync_server.purchasing.models import PurchaseOrderLine
from sync_server.purchasing.schemas import ReceiptLineIn

QTY_PLACES = Decimal("0.001")
COST_PLACES = Decimal("0.0001")


def base_quantities(
    session: Session, *, lines: list[ReceiptLineIn], by_id: dict[int, PurchaseOrderLine]
) -> dict[int, Decimal]:
    """Return what each receipt line brings in, in the product's base unit (pieces, kg)."""
    pieces = set(
        session.scalars(
            select(Product.id).where(
                Product.id.in_({line.product_id for line in by_id.values()}),
                Product.unit == Unit.PIECE.value,
            )
        )
    )
    base: dict[int, Decimal] = {}
    for x in lines:
        line = by_id[x.line_id]
        if x.unit == "base":
            base[x.line_id] = x.quantity
        else:
            base[x.line_id] = x.quantity * line.units_per
        step = Decimal(1) if line.product_id in pieces else QTY_PLACES
        if base[x.line_id] != base[x.line_id].quantize(step):
            raise ValidationFailed(
                f"Line {x.line_id}: {format_quantity(x.quantity)} {line.purchase_unit or ''} "
                "is not a whole number of base units; count it in base units instead."
            )
    return base


def in_purchase_units(
    lines: list[ReceiptLineIn], by_id: dict[int, PurchaseOrderLine], base: dict[int, Decimal]
) -> list[ReceiptLineIn]:
    """Return the lines with quantities in the PO line's own unit (what was ordered)."""
    return [
        x.model_copy(
            update={
                "unit": "purchase",
                "quantity": (base[x.line_id] / by_id[x.line_id].units_per).quantize(
                    QTY_PLACES, rounding=ROUND_HALF_UP
                ),
            }
        )
        for x in lines
    ]


def base_cost(cost: Decimal, line: PurchaseOrderLine) -> Decimal:
    """Return the cost of one base unit (a case at 120 holding 12: 10 a piece)."""
    return (cost / line.units_per).quantize(COST_PLACES, rounding=ROUND_HALF_UP)
