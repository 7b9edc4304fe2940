"""Wire shapes of purchase orders, their goods receipts and e-mails, supplier prices, vendor
accounts and reorder suggestions, as the server answers with them and the back office reads
them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from common.schemas.base import Amount, Quantity, ReadSchema

# A purchase order's statuses, and which of them each step may start from; the server
# refuses any other (409, nothing changed) and the back office offers only these.
DRAFT = "draft"
PENDING = "pending_approval"
APPROVED = "approved"
SENT = "sent"
CONFIRMED = "confirmed"
SHIPPED = "shipped"
REJECTED = "rejected"
PARTIAL = "partially_received"
RECEIVED = "received"
CLOSED = "closed"
CANCELLED = "cancelled"

# What each action may start from; anything else is a 409 that changes nothing.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "edit": frozenset({DRAFT}),
    "submit": frozenset({DRAFT}),
    "approve": frozenset({PENDING}),
    "reject": frozenset({PENDING}),
    "send": frozenset({APPROVED}),
    "confirm": frozenset({SENT, CONFIRMED}),
    "ship": frozenset({SENT, CONFIRMED}),
    "receive": frozenset({APPROVED, SENT, CONFIRMED, SHIPPED, PARTIAL}),
    "close": frozenset({PARTIAL, RECEIVED}),
    "cancel": frozenset({DRAFT, PENDING, APPROVED, SENT, CONFIRMED}),
}


class POLineRead(ReadSchema):
    id: int
    product_id: int
    quantity: Quantity
    unit_cost: Amount
    tax_rate: Amount
    line_total: Amount
    received_quantity: Quantity
    confirmed_quantity: Quantity | None = None
    purchase_unit: str | None = None
    units_per: Quantity = Decimal("1")
    tax_class_id: int | None = None
    taxable: Amount = Field(description="Quantity x unit cost, rounded: the value before tax")
    tax_amount: Amount = Field(description="The line's tax; line_total = taxable + tax_amount")


class PORead(ReadSchema):
    id: int
    number: str
    supplier_id: int
    branch_id: int
    status: str
    expected_date: date | None
    notes: str
    subtotal: Amount
    tax_total: Amount
    total: Amount
    received_value: Amount
    paid_amount: Amount
    created_by: int | None
    created_by_name: str
    submitted_at: datetime | None
    decided_by: int | None
    decided_by_name: str
    decided_at: datetime | None
    decision_comment: str
    received_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    sent_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_date: date | None = None
    shipped_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    expected_arrival: date | None = None
    created_at: datetime
    lines: list[POLineRead]


class ReceiptLineRead(ReadSchema):
    id: int
    po_line_id: int
    product_id: int
    quantity: Quantity
    unit_cost: Amount
    tax_rate: Amount
    value: Amount


class ReceiptRead(ReadSchema):
    id: int
    purchase_order_id: int
    supplier_id: int
    branch_id: int
    value: Amount
    note: str
    actor: str
    received_at: datetime
    lines: list[ReceiptLineRead]


class SupplierPriceRead(ReadSchema):
    supplier_id: int
    product_id: int
    unit_cost: Amount
    source: str = Field(description="manual, or receipt when the last goods receipt set it")
    updated_at: datetime


class POEmailRead(ReadSchema):
    id: int
    event: str
    recipient: str
    subject: str
    state: Literal["queued", "sent", "failed"] = Field(
        description="queued: waiting or being retried; sent: the mail server took it; "
        "failed: given up after every retry (see error)"
    )
    attempts: int
    error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None


class POEmailsRead(ReadSchema):
    email_configured: bool = Field(
        description="Whether this server has an SMTP server to send e-mail through"
    )
    emails: list[POEmailRead]


class VendorEntryRead(ReadSchema):
    id: int
    supplier_id: int
    kind: str
    amount: Amount
    purchase_order_id: int | None
    receipt_id: int | None
    method: str
    reference: str
    occurred_at: datetime
    actor: str


class VendorAccountRead(ReadSchema):
    supplier_id: int
    name: str
    total_supplied: Amount
    total_paid: Amount
    balance_due: Amount
    last_payment_at: datetime | None
    open_purchase_orders: int


class SuggestionLine(ReadSchema):
    product_id: int
    sku: str
    name: str
    on_hand: Quantity
    threshold: Quantity
    daily_sales: Quantity
    quantity: Quantity
    unit_cost: Amount
    # Filled by the forecast method only.
    on_order: Quantity | None = None
    reorder_point: Quantity | None = None
    order_up_to: Quantity | None = None
    reasoning: str | None = None


class SupplierSuggestion(ReadSchema):
    supplier_id: int | None
    supplier_name: str
    lines: list[SuggestionLine]


class SuggestionsRead(ReadSchema):
    branch_id: int
    days_of_sales: int
    cover_days: int
    method: str = "threshold"
    suppliers: list[SupplierSuggestion]
