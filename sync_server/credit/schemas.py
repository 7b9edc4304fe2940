"""Wire shapes of customer accounts, payments and statements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from common.schemas.base import Amount, Price, ReadSchema, Schema
from common.schemas.credit import AccountRead, CreditEntryRead

# Well inside NUMERIC(14,4), so a balance plus one payment can never overflow the column.
MAX_AMOUNT = Decimal("1000000000")


# The account and its entries are read by the back office too, so they live in common/.
__all__ = [
    "MAX_AMOUNT",
    "AccountRead",
    "AdjustmentCreate",
    "CreditEntryRead",
    "PaymentCreate",
    "StatementLine",
    "StatementRead",
]


class PaymentCreate(Schema):
    amount: Price = Field(gt=0, le=MAX_AMOUNT)
    method: str = Field(default="cash", min_length=1, max_length=32)
    reference: str = Field(default="", max_length=200)
    allocate_to: str | None = Field(
        default=None,
        max_length=64,
        description="Invoice number, sale id or entry id to settle first; else oldest first",
    )


class AdjustmentCreate(Schema):
    amount: Price = Field(
        ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Positive raises what the customer owes"
    )
    note: str = Field(min_length=1, max_length=200)


class StatementLine(ReadSchema):
    at: datetime
    kind: str
    reference_type: str
    reference_id: str
    description: str
    debit: Amount
    credit: Amount
    balance: Amount


class StatementRead(ReadSchema):
    customer_id: int
    name: str
    start: date
    end: date
    opening_balance: Amount
    closing_balance: Amount
    lines: list[StatementLine]
