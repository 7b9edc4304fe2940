"""Wire shapes of click-and-collect: the order as the till sees it, and its collection."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from common.schemas.base import Amount, NonNegativePrice, Schema


class PickupLine(BaseModel):
    sku: str
    name: str
    quantity: Amount
    line_total: Amount


class PickupRead(BaseModel):
    order_id: int
    number: str
    branch_id: int
    customer: str
    status: str  # the order's
    pickup_status: str  # awaiting | ready | collected
    total: Amount
    paid: Amount
    due: Amount
    ready_at: datetime | None
    collected_at: datetime | None
    lines: list[PickupLine]


class PickupCollect(Schema):
    # What the till takes now: the amount still due (0 for an order paid online).
    amount: NonNegativePrice = Decimal("0")
    method: str = Field(default="cash", min_length=1, max_length=16)
    reference: str = Field(default="", max_length=120)
