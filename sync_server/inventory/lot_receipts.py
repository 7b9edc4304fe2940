"""Receiving into lots: the lot typed at the dock, or read off the goods' GS1 label."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.barcodes import BarcodeError, lookup_candidates, parse_scan
from common.errors import ValidationFailed
from sync_server.catalog.models import ProductBarcode
from sync_server.inventory.lots import branch_lots, level_of, lot_for, move
from sync_server.inventory.models import StockLot, StockMovement


def lot_from_label(
    session: Session, *, tenant_id: int, product_id: int, label: str
) -> tuple[str, date | None]:
    """Read lot (AI 10) and expiry (AI 17) from a GS1 label scanned at receiving."""
    try:
        scan = parse_scan(label)
    except BarcodeError as exc:
        raise ValidationFailed(f"The GS1 label could not be read: {exc}") from exc
    if scan.gs1 is None or not scan.gs1.lot:
        raise ValidationFailed("The label carries no lot number (GS1 AI 10): type the lot in.")
    owner = session.scalar(
        select(ProductBarcode.product_id).where(
            ProductBarcode.tenant_id == tenant_id,
            ProductBarcode.code.in_(lookup_candidates(scan)),
        )
    )
    if owner is not None and owner != product_id:
        raise ValidationFailed(f"The label {scan.code} is another product's, not this line's.")
    return scan.gs1.lot, scan.gs1.expiry


def book_receipt(
    session: Session,
    *,
    movement: StockMovement,
    lot_number: str,
    expiry: date | None,
) -> StockLot:
    """Put a receipt's whole quantity into its lot (the receipt movement is already booked)."""
    lot = lot_for(
        session,
        tenant_id=movement.tenant_id,
        product_id=movement.product_id,
        lot_number=lot_number,
        expiry=expiry,
    )
    known = branch_lots(
        session,
        tenant_id=movement.tenant_id,
        branch_id=movement.branch_id,
        product_ids=[movement.product_id],
    )[movement.product_id]
    level = level_of(
        session, tenant_id=movement.tenant_id, branch_id=movement.branch_id, lot=lot, known=known
    )
    move(session, level=level, movement=movement, quantity=movement.quantity)
    session.flush()
    return lot


def book_labelled(session: Session, *, movement: StockMovement, line: Any) -> None:
    """Put a received line into the lot it names (typed, or read from its GS1 label)."""
    lot_number, expiry = line.lot_number, line.expiry
    if line.gs1:
        lot_number, read_expiry = lot_from_label(
            session, tenant_id=movement.tenant_id, product_id=movement.product_id, label=line.gs1
        )
        expiry = expiry or read_expiry
    if lot_number:
        book_receipt(session, movement=movement, lot_number=lot_number, expiry=expiry)
    elif expiry is not None:
        raise ValidationFailed("An expiry date needs the lot number it belongs to.")
