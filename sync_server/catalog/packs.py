"""Pack barcodes (a case of 12 sells 12 pieces at the case's price) and purchase units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import Unit
from common.errors import Conflict, ValidationFailed
from common.money import round_money
from common.schemas.base import plain_str
from common.schemas.catalog import PackIn
from common.units import format_quantity
from sync_server.catalog.models import Product, ProductBarcode, ProductPack


def check_codes_free(
    session: Session, *, tenant_id: int, codes: list[str], product_id: int | None
) -> None:
    """Refuse codes another product uses, as a barcode or as a pack's code."""
    if not codes:
        return
    taken = [
        *session.execute(
            select(ProductBarcode.code, ProductBarcode.product_id).where(
                ProductBarcode.tenant_id == tenant_id, ProductBarcode.code.in_(codes)
            )
        ).all(),
        *session.execute(
            select(ProductPack.code, ProductPack.product_id).where(
                ProductPack.tenant_id == tenant_id, ProductPack.code.in_(codes)
            )
        ).all(),
    ]
    clashes = sorted({code for code, owner in taken if owner != product_id})
    if clashes:
        raise Conflict(f"Barcode {', '.join(clashes)} already belongs to another product.")


def set_packs(
    session: Session, *, product: Product, packs: list[PackIn], barcodes: list[str]
) -> None:
    """Replace a product's packs (their codes may not be its own unit barcodes)."""
    unit = Unit(product.unit)
    for pack in packs:
        if pack.code in barcodes:
            raise ValidationFailed(
                f"Barcode {pack.code} cannot be both the product's and its {pack.label}'s."
            )
        whole = pack.quantity == pack.quantity.to_integral_value()
        if unit == Unit.PIECE and (not whole or pack.quantity <= 1):
            raise ValidationFailed(
                f"A {pack.label} must hold a whole number of pieces, more than one, "
                f"not {format_quantity(pack.quantity)}."
            )
    check_codes_free(
        session,
        tenant_id=product.tenant_id,
        codes=[pack.code for pack in packs],
        product_id=product.id,
    )
    keep = {row.code: row for row in product.pack_rows}
    rows = []
    for pack in packs:
        row = keep.get(pack.code) or ProductPack(tenant_id=product.tenant_id, code=pack.code)
        row.label, row.quantity, row.price = pack.label, pack.quantity, pack.price
        rows.append(row)
    product.pack_rows = rows


def wire_packs(product: Product) -> list[dict[str, Any]]:
    """Return the packs as the tills replicate them (price of the whole pack, as text)."""
    return [
        {**pack, "quantity": plain_str(pack["quantity"]), "price": plain_str(pack["price"])}
        for pack in product.packs
    ]


def find_pack(session: Session, *, tenant_id: int, codes: list[str]) -> ProductPack | None:
    """Return the pack the first of codes names, if any."""
    rows = {
        row.code: row
        for row in session.scalars(
            select(ProductPack).where(
                ProductPack.tenant_id == tenant_id, ProductPack.code.in_(codes)
            )
        )
    }
    for code in codes:
        if code in rows:
            return rows[code]
    return None


def pack_rows(
    session: Session, *, tenant_id: int, prices: dict[int, Decimal]
) -> dict[int, list[dict[str, Any]]]:
    """Return the wire packs of a page of products (ids to unit prices), in one query."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not prices:
        return found
    for row in session.scalars(
        select(ProductPack)
        .where(
            ProductPack.tenant_id == tenant_id,
            ProductPack.product_id >= min(prices),
            ProductPack.product_id <= max(prices),
        )
        .order_by(ProductPack.id)
    ):
        if row.product_id not in prices:
            continue
        price = row.price if row.price is not None else row.quantity * prices[row.product_id]
        found.setdefault(row.product_id, []).append(
            {
                "code": row.code,
                "label": row.label,
                "quantity": plain_str(row.quantity),
                "price": plain_str(round_money(price)),
            }
        )
    return found
