"""Pricing: price lists and promotions turning a cart into priced lines with reasons."""

from __future__ import annotations

from common.pricing.engine import Applied, PricedCart, PricedLine, Reason, price_cart
from common.pricing.rules import (
    Channel,
    Context,
    LineIn,
    PriceList,
    PriceListItem,
    PriceMode,
    PromoKind,
    Promotion,
    Rules,
    Stacking,
    Window,
)

__all__ = [
    "Applied",
    "Channel",
    "Context",
    "LineIn",
    "PriceList",
    "PriceListItem",
    "PriceMode",
    "PricedCart",
    "PricedLine",
    "PromoKind",
    "Promotion",
    "Reason",
    "Rules",
    "Stacking",
    "Window",
    "price_cart",
]
