"""Wire shapes of sales requests and invoices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from common.schemas.base import (
    Amount,
    Id,
    NonNegativePrice,
    Percent,
    PositiveQuantity,
    Quantity,
    ReadSchema,
    Schema,
)
from sync_server.credit.schemas import MAX_AMOUNT


class RequestLineIn(Schema):
    product_id: Id
    quantity: PositiveQuantity
    unit_price: Annotated[NonNegativePrice, Field(le=MAX_AMOUNT)] | None = Field(
        default=None, description="The catalog price when left out"
    )
    discount_percent: Percent = Decimal("0")


class SalesRequestCreate(Schema):
    customer_id: Id
    branch_id: Id
    payment_terms: Literal["cash", "account"] = "cash"
    order_discount_percent: Percent = Decimal("0")
    notes: str = Field(default="", max_length=2000)
    lines: list[RequestLineIn] = Field(min_length=1, max_length=500)
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=5, description="Coupon codes the customer gave"
    )


class Decision(Schema):
    comment: str = Field(default="", max_length=1000)


class Rejection(Schema):
    comment: str = Field(min_length=1, max_length=1000)


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


class Party(ReadSchema):
    id: int
    name: str
    address: str
    tax_number: str


class InvoiceRead(ReadSchema):
    invoice_number: str
    invoiced_at: datetime
    sales_request_id: int
    currency: str
    seller: Party
    branch: str
    customer: Party
    payment_terms: str
    lines: list[RequestLineRead]
    gross_total: Amount
    discount_total: Amount
    tax_total: Amount
    total: Amount
