"""Wire shapes of gift cards and store credit: issue, top up, redeem, balance, ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from common.schemas.base import Amount, Id, NonNegativePrice, Price, ReadSchema, Schema

CardKind = Literal["gift_card", "store_credit"]


class GiftCardIssue(Schema):
    amount: Price = Field(gt=0, le=Decimal("10000000"))
    kind: CardKind = "gift_card"
    # A pre-printed card's number; left out, the server makes one.
    number: str | None = Field(default=None, min_length=16, max_length=24)
    customer_id: Id | None = None
    pin: str | None = Field(default=None, min_length=4, max_length=12, pattern=r"^[0-9]+$")
    # How the card was paid for (cash, card, …) or why it was given (refund, goodwill).
    method: str = Field(default="cash", min_length=1, max_length=32)
    reference: str = Field(default="", max_length=64)


class GiftCardAmount(Schema):
    amount: Price = Field(gt=0, le=Decimal("10000000"))
    reference: str = Field(default="", max_length=64)
    pin: str | None = Field(default=None, max_length=12)


class GiftCardCheck(Schema):
    pin: str | None = Field(default=None, max_length=12)


class GiftCardLimits(Schema):
    # How much of this card a till may take while it cannot reach the server.
    offline_limit: NonNegativePrice | None = None
    status: Literal["active", "blocked"] | None = None


class GiftCardRead(ReadSchema):
    number: str
    kind: str
    balance: Amount
    status: str
    has_pin: bool
    customer_id: int | None
    offline_limit: Amount
    created_at: datetime


class GiftCardEntryRead(ReadSchema):
    id: int
    kind: str
    amount: Amount
    balance_after: Amount
    reference_type: str
    reference_id: str
    device_id: str | None
    note: str
    actor: str
    created_at: datetime
