"""Wire shapes of a customer's credit account: its summary and its ledger entries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from common.schemas.base import Amount, ReadSchema


class CreditEntryRead(ReadSchema):
    id: int
    customer_id: int
    kind: str
    amount: Amount
    open_amount: Amount
    reference_type: str
    reference_id: str
    method: str
    note: str
    due_date: date | None
    allocations: list[dict[str, Any]]
    actor: str
    created_at: datetime


class AccountRead(ReadSchema):
    customer_id: int
    name: str
    credit_limit: Amount
    balance_due: Amount
    available_credit: Amount
    total_purchases: Amount
    amount_paid: Amount
    last_payment_at: datetime | None
