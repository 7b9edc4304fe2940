"""Stable codes shared by both programs: movement kinds, reasons, units, tenders."""

from __future__ import annotations

from enum import StrEnum


class MovementCode(StrEnum):
    """Why stock moved; every stock change is one movement with one of these codes."""

    RECEIPT = "receipt"
    SALE = "sale"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RESERVATION = "reservation"
    RELEASE = "release"
    COMMIT = "commit"


class AdjustReason(StrEnum):
    DAMAGE = "damage"
    THEFT = "theft"
    EXPIRY = "expiry"
    CORRECTION = "correction"
    SAMPLE = "sample"
    INTERNAL_USE = "internal_use"
    FOUND = "found"
    WRITE_OFF = "write_off"


class Unit(StrEnum):
    PIECE = "piece"
    KG = "kg"


class BranchKind(StrEnum):
    STORE = "store"
    WAREHOUSE = "warehouse"


class Tender(StrEnum):
    CASH = "cash"
    CARD = "card"
    ACCOUNT = "account"
    VOUCHER = "voucher"
    GIFT_CARD = "gift_card"
    UPI = "upi"
    LOYALTY = "loyalty"


class Channel(StrEnum):
    IN_STORE = "in_store"
    ONLINE = "online"
    WHOLESALE = "wholesale"


# How many decimal places a quantity may carry, per unit (grams for kg).
QUANTITY_PLACES: dict[Unit, int] = {Unit.PIECE: 0, Unit.KG: 3}
