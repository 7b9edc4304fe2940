"""Wire shapes of wholesale sales requests, as the server answers with them and the back
office reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from common.schemas.base import Amount, Quantity, ReadSchema

# A sales request's statuses, and which of them each step may start from; the server
# refuses any other (409, nothing changed) and the back office offers only these.
PENDING = "pending_approval"
APPROVED = "approved"
REJECTED = "rejected"
CANCELLED = "cancelled"
REQUEST_STATUSES: tuple[str, ...] = (PENDING, APPROVED, REJECTED, CANCELLED)
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "approve": frozenset({PENDING}),
    "reject": frozenset({PENDING}),
    "cancel": frozenset({PENDING}),
    "invoice": frozenset({APPROVED}),
}


class RequestLineRead(ReadSchema):
    id: int
    product_id: int
    sku: str
    name: str
    quantity: Quantity
    unit_price: Amount
    discount_percent: Amount
    promo_discount: Amount = Decimal("0")
    tax_rate: Amount
    gross: Amount
    net: Amount
    tax: Amount
    total: Amount
    # The line's HSN code and its taxable value and components (common.tax), when known.
    hsn: str = ""
    tax_detail: dict[str, Any] | None = None


class SalesRequestRead(ReadSchema):
    id: int
    number: str
    customer_id: int
    branch_id: int
    status: str
    payment_terms: str
    order_discount_percent: Amount
    notes: str
    gross_total: Amount
    discount_total: Amount
    tax_total: Amount
    total: Amount
    created_by: int | None
    created_by_name: str
    decided_by: int | None
    decided_by_name: str
    decided_at: datetime | None
    decision_comment: str
    invoice_number: str | None
    invoiced_at: datetime | None
    created_at: datetime
    lines: list[RequestLineRead]
