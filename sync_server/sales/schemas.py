"""Wire shapes of the sales journal: till sales and returns as the back office reads them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from common.schemas.base import Amount, Quantity, ReadSchema


class SalePaymentRead(ReadSchema):
    id: int
    method: str
    # What the tender paid towards the sale: for cash, what the drawer kept (net of change).
    amount: Amount
    reference: str | None
    # Cash handed over by the customer when change was given; otherwise None.
    tendered: Amount | None = None


class SaleLineRead(ReadSchema):
    id: int
    line_uuid: str
    product_id: int
    sku: str
    name: str
    quantity: Quantity
    unit_price: Amount
    discount: Amount
    tax_rate: Quantity
    tax: Amount
    total: Amount
    returned_quantity: Quantity = Field(description="Already brought back on till returns")
    returnable_quantity: Quantity = Field(description="What may still be returned")


class SaleRead(ReadSchema):
    """A till sale as listed in the journal."""

    id: int
    uuid: str
    receipt_number: str
    channel: str
    status: str
    branch_id: int
    device_id: str | None
    shift_uuid: str | None
    cashier_id: int | None
    cashier_name: str
    customer_id: int | None
    customer_name: str
    subtotal: Amount
    discount_total: Amount
    tax_total: Amount
    total: Amount
    change_due: Amount
    line_count: int
    payments: list[SalePaymentRead]
    occurred_at: datetime
    recorded_at: datetime
    voided_at: datetime | None


class ReturnBrief(ReadSchema):
    """A return seen from the sale it refers to."""

    id: int
    receipt_number: str
    total: Amount
    reason: str
    occurred_at: datetime


class SaleDetail(SaleRead):
    """One till sale with its lines (and what is still returnable), payments and returns."""

    lines: list[SaleLineRead]
    returns: list[ReturnBrief]
    returned_total: Amount


class RefundRead(ReadSchema):
    method: str
    amount: Amount
    reference: str | None = None


class ReturnLineRead(ReadSchema):
    id: int
    line_uuid: str
    product_id: int
    sku: str
    name: str
    quantity: Quantity
    amount: Amount
    restock: bool


class ReturnRead(ReadSchema):
    """A till return as listed in the journal."""

    id: int
    uuid: str
    receipt_number: str
    original_sale_uuid: str | None
    original_sale_id: int | None = Field(description="None while the sale is not on the server")
    original_receipt_number: str | None
    branch_id: int
    device_id: str | None
    shift_uuid: str | None
    cashier_id: int | None
    cashier_name: str
    customer_id: int | None
    customer_name: str
    total: Amount
    reason: str
    refunds: list[RefundRead]
    occurred_at: datetime
    recorded_at: datetime


class ReturnDetail(ReturnRead):
    """One till return with its lines."""

    lines: list[ReturnLineRead]
