"""Quantities as people read them: no trailing zeros, the unit where it is not a piece."""

from __future__ import annotations

from decimal import Decimal

from common.codes import Unit


def format_quantity(quantity: Decimal | int, unit: str | None = None) -> str:
    """Return "2", "1.25" or "1.25 kg": a quantity without trailing zeros or exponent."""
    text = format(Decimal(quantity).normalize(), "f")
    if text in ("-0", "0"):
        text = "0"
    if unit and unit != Unit.PIECE.value:
        return f"{text} {unit}"
    return text
