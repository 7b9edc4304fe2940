"""Wire shapes of sales requests and invoices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from common.schemas.base import (
    Amount,
    Id,
    NonNegativePrice,
    Percent,
    PositiveQuantity,
    ReadSchema,
    Schema,
)
from common.schemas.wholesale import RequestLineRead
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
