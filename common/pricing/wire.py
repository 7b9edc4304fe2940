"""Rules as they travel and are stored (JSON dicts) turned into the engine's plain data.

The server stores a rule's definition as the JSON of its schema and sends the same JSON to
tills through the change feed, so both ends build identical rules with these functions
(no pydantic needed on the till's hot path).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from common.pricing.rules import (
    Channel,
    PriceList,
    PriceListItem,
    PriceMode,
    PromoKind,
    Promotion,
    Stacking,
    Window,
)

Data = dict[str, Any]


def _stamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _clock(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def _dec(value: str | int | None, default: str = "0") -> Decimal:
    return Decimal(default if value is None else str(value))


def window_from_data(data: Data | None) -> Window:
    """Build a window from its JSON form."""
    data = data or {}
    return Window(
        valid_from=_stamp(data.get("valid_from")),
        valid_to=_stamp(data.get("valid_to")),
        weekdays=frozenset(data.get("weekdays") or ()),
        time_from=_clock(data.get("time_from")),
        time_to=_clock(data.get("time_to")),
        branch_ids=frozenset(data.get("branch_ids") or ()),
        channels=frozenset(Channel(c) for c in data.get("channels") or ()),
        customer_groups=frozenset(data.get("customer_groups") or ()),
    )


def price_list_from_data(*, rule_id: int, name: str, spec: Data) -> PriceList:
    """Build a price list from its stored JSON."""
    return PriceList(
        id=rule_id,
        name=name,
        priority=int(spec.get("priority") or 0),
        tax_inclusive=bool(spec.get("tax_inclusive", True)),
        window=window_from_data(spec.get("window")),
        items=tuple(
            PriceListItem(
                mode=PriceMode(item["mode"]),
                value=_dec(item.get("value")),
                product_id=item.get("product_id"),
                category_id=item.get("category_id"),
                min_quantity=_dec(item.get("min_quantity"), "1"),
            )
            for item in spec.get("items") or ()
        ),
    )


def promotion_from_data(*, rule_id: int, name: str, spec: Data) -> Promotion:
    """Build a promotion from its stored JSON."""
    return Promotion(
        id=rule_id,
        name=name,
        kind=PromoKind(spec["kind"]),
        priority=int(spec.get("priority") or 0),
        stacking=Stacking(spec.get("stacking") or Stacking.STACKABLE),
        window=window_from_data(spec.get("window")),
        product_ids=frozenset(spec.get("product_ids") or ()),
        category_ids=frozenset(spec.get("category_ids") or ()),
        get_product_ids=frozenset(spec.get("get_product_ids") or ()),
        percent=_dec(spec.get("percent")),
        amount=_dec(spec.get("amount")),
        price=_dec(spec.get("price")),
        buy_qty=int(spec.get("buy_qty") or 0),
        get_qty=int(spec.get("get_qty") or 0),
        bundle_qty=int(spec.get("bundle_qty") or 0),
        min_spend=_dec(spec.get("min_spend")),
        coupon_code=spec.get("coupon_code"),
    )
