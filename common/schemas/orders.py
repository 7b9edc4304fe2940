"""Wire shapes of online orders and their returns, as the server answers with them and the
back office reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from common.schemas.base import Amount, Quantity, ReadSchema


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
