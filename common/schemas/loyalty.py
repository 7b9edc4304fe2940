"""Wire shapes of a customer's loyalty points and their statement."""

from __future__ import annotations

from datetime import datetime

from common.schemas.base import Amount, ReadSchema


class LoyaltyEntryRead(ReadSchema):
    id: int
    kind: str
    points: int
    balance_after: int
    reference_type: str
    reference_id: str
    channel: str
    overdrawn: bool
    created_at: datetime


class LoyaltyRead(ReadSchema):
    customer_id: int
    name: str
    points: int
    value: Amount
    point_value: Amount
    entries: list[LoyaltyEntryRead]
