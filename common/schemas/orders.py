"""Wire shapes of online orders and their returns, as the server answers with them and the
back office reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from common.schemas.base import Amount, Quantity, ReadSchema

# An online order's statuses in the order of its life, and which of them each step may
# start from; the server refuses any other (409, nothing changed) and the back office
# offers only these.
PENDING_PAYMENT = "pending_payment"
CONFIRMED = "confirmed"
PICKING = "picking"
PACKED = "packed"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
EXPIRED = "expired"
ORDER_STATUSES: tuple[str, ...] = (
    PENDING_PAYMENT,
    CONFIRMED,
    PICKING,
    PACKED,
    SHIPPED,
    DELIVERED,
    CANCELLED,
    EXPIRED,
)
# The statuses a client may filter orders by (anything else is a 422, not an empty page).
OrderStatusName = Literal[
    "pending_payment",
    "confirmed",
    "picking",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
    "expired",
]
# Not yet shipped or ended: what the shop still has to do something about.
OPEN_STATUSES: tuple[str, ...] = (PENDING_PAYMENT, CONFIRMED, PICKING, PACKED)
# Ended without a sale.
ENDED_UNSOLD: frozenset[str] = frozenset({CANCELLED, EXPIRED})

ALLOWED_FROM: dict[str, frozenset[str]] = {
    "pay": frozenset({PENDING_PAYMENT}),
    "pick": frozenset({CONFIRMED}),
    "pack": frozenset({PICKING}),
    "ship": frozenset({PACKED}),
    "deliver": frozenset({SHIPPED}),
    "cancel": frozenset({PENDING_PAYMENT, CONFIRMED}),
    "expire": frozenset({PENDING_PAYMENT}),
    "collect": frozenset(OPEN_STATUSES),
    "return": frozenset({DELIVERED}),
}


def in_life_order(statuses: frozenset[str]) -> list[str]:
    """Return statuses in the order an order lives through them (for messages and menus)."""
    return [status for status in ORDER_STATUSES if status in statuses]


class OrderLineRead(ReadSchema):
    id: int
    product_id: int
    sku: str
    name: str
    unit: str
    quantity: Quantity
    unit_price: Amount
    discount: Amount = Decimal("0")
    line_total: Amount
    returned_quantity: Quantity


class ReturnLineRead(ReadSchema):
    id: int
    order_line_id: int
    product_id: int
    quantity: Quantity
    restocked_quantity: Quantity
    written_off_quantity: Quantity
    write_off_reason: str


class ReturnRead(ReadSchema):
    id: int
    order_id: int
    status: str
    reason: str
    refund_amount: Amount
    created_at: datetime
    received_at: datetime | None
    lines: list[ReturnLineRead]


class OrderRead(ReadSchema):
    id: int
    external_number: str
    channel: str
    status: str
    customer_id: int
    branch_id: int
    currency: str
    total: Amount
    paid_amount: Amount
    payment_reference: str
    refunded_amount: Amount
    shipping_address: str
    notes: str
    carrier: str
    tracking_number: str
    cancel_reason: str
    reserved_until: datetime | None
    confirmed_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineRead]
    returns: list[ReturnRead]
