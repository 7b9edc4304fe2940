"""Pack barcodes at the till: a case's code puts its pieces in the cart at the case's price."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from pos_client.services.queries import (
    ITEM_COLUMNS,
    ITEM_JOINS,
    ITEM_SELECT,
    item_from_row,
    plain_reads,
)
from pos_client.services.till import CatalogItem
from pos_client.store.models import Pack
from pos_client.store.plain_sql import PreparedRead

# Sale lines carry unit prices to 4 places: 12 x 8.3333 still rounds to the case's 100.00.
UNIT_PRICE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class PackScan:
    """What a pack's code sells: so many base units of the item, at a price per unit."""

    item: CatalogItem
    quantity: Decimal
    unit_price: Decimal
    label: str


# A case's code: the pack and its active product (with stock and tax class) in one statement.
_BY_PACK_CODE = PreparedRead(
    f"SELECT k.quantity, k.price, k.label, {ITEM_SELECT} FROM packs k "
    f"JOIN products p ON p.id = k.product_id {ITEM_JOINS} WHERE k.code = ? AND p.active IS 1",
    columns=(
        Pack.__table__.c.quantity,
        Pack.__table__.c.price,
        Pack.__table__.c.label,
        *ITEM_COLUMNS,
    ),
)


def find_pack(session: Session, codes: tuple[str, ...]) -> PackScan | None:
    """Return the pack the first of codes names, with its active product, else None."""
    connection = plain_reads(session)
    for code in codes:
        row = _BY_PACK_CODE.first(connection, (code,))
        if row is None:
            continue
        quantity, price, label = row[:3]
        item = item_from_row(row[3:], barcode=None)
        unit_price = (price / quantity).quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP)
        return PackScan(
            # The line's catalog price is the pack's per-unit price, so it reads as no override.
            item=dataclasses.replace(item, price=unit_price, barcode=code),
            quantity=quantity,
            unit_price=unit_price,
            label=label,
        )
    return None
