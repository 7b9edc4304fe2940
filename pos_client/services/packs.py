"""Pack barcodes at the till: a case's code puts its pieces in the cart at the case's price."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pos_client.services.queries import product_item
from pos_client.services.till import CatalogItem
from pos_client.store.models import Pack, Product

# Sale lines carry unit prices to 4 places: 12 x 8.3333 still rounds to the case's 100.00.
UNIT_PRICE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class PackScan:
    """What a pack's code sells: so many base units of the item, at a price per unit."""

    item: CatalogItem
    quantity: Decimal
    unit_price: Decimal
    label: str


def find_pack(session: Session, codes: tuple[str, ...]) -> PackScan | None:
    """Return the pack the first of codes names, with its active product, else None."""
    for code in codes:
        pack = session.scalar(
            select(Pack)
            .join(Product, Product.id == Pack.product_id)
            .where(Pack.code == code, Product.active.is_(True))
        )
        if pack is None:
            continue
        item = product_item(session, pack.product_id)
        if item is None:
            continue
        unit_price = (pack.price / pack.quantity).quantize(
            UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP
        )
        return PackScan(
            # The line's catalog price is the pack's per-unit price, so it reads as no override.
            item=dataclasses.replace(item, price=unit_price, barcode=code),
            quantity=pack.quantity,
            unit_price=unit_price,
            label=pack.label,
        )
    return None
