"""Wire shapes of deposits and layaway."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from common.schemas.base import Amount, Id, NonNegativePrice, PositiveQuantity, Schema


class LayawayLineCreate(Schema):
    product_id: Id
    quantity: PositiveQuantity
    unit_price: NonNegativePrice


class LayawayPaymentCreate(Schema):
    payment_id: str = Field(min_length=36, max_length=36)
    amount: NonNegativePrice = Field(gt=0)
    method: str = Field(default="cash", min_length=1, max_length=16)
    reference: str = Field(default="", max_length=120)


class LayawayCreate(Schema):
    layaway_id: str = Field(min_length=36, max_length=36)
    customer_id: Id
    lines: list[LayawayLineCreate] = Field(min_length=1, max_length=200)
    deposit: LayawayPaymentCreate
    branch_id: Id | None = None  # a user names it; a till's is its own


class LayawayCancel(Schema):
    # What happens to what was paid: given back, kept as store credit, or kept (forfeit).
    outcome: Literal["refunded", "store_credit", "kept"]


class LayawayRead(BaseModel):
    id: str
    branch_id: int
    customer_id: int
    status: str
    total: Amount
    paid: Amount
    due: Amount
    lines: list[dict[str, Any]]
    outcome: str
    credit_number: str | None
    created_at: datetime
    closed_at: datetime | None
