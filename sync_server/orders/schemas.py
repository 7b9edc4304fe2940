"""Wire shapes of the online store API: catalog, orders, payments, shipping, returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from common.codes import AdjustReason
from common.schemas.base import (
    Amount,
    Id,
    NonNegativePrice,
    PositiveQuantity,
    Quantity,
    Schema,
)


class CustomerRef(Schema):
    """An existing customer by id, or one described inline (matched by email, then phone)."""

    id: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _identified(self) -> CustomerRef:
        if self.id is None and not self.name:
            raise ValueError("give the customer's id, or their name with an email or phone")
        if self.id is None and not (self.email or self.phone):
            raise ValueError("an inline customer needs an email or a phone")
        return self


class OrderLineCreate(Schema):
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    product_id: Id | None = None
    quantity: PositiveQuantity

    @model_validator(mode="after")
    def _one_product(self) -> OrderLineCreate:
        if (self.sku is None) == (self.product_id is None):
            raise ValueError("give either sku or product_id")
        return self


class OrderCreate(Schema):
    external_number: str = Field(min_length=1, max_length=64)
    customer: CustomerRef
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=200)
    branch_code: str | None = Field(default=None, min_length=1, max_length=16)
    branch_id: Id | None = None
    shipping_address: str = Field(default="", max_length=500)
    notes: str = Field(default="", max_length=1000)
    coupon_codes: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=5, description="Coupon codes the customer gave"
    )


class PaymentCreate(Schema):
    amount: NonNegativePrice
    reference: str = Field(default="", max_length=120)


class ShipmentCreate(Schema):
    carrier: str = Field(min_length=1, max_length=80)
    tracking_number: str = Field(min_length=1, max_length=120)


class CancelCreate(Schema):
    reason: str = Field(default="", max_length=500)


class ReturnLineCreate(Schema):
    line_id: Id
    quantity: PositiveQuantity


class ReturnCreate(Schema):
    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class ReturnLineReceive(Schema):
    line_id: Id = Field(description="The order line being returned")
    restock_quantity: Quantity = Field(default=Decimal("0"), ge=0)
    write_off_quantity: Quantity = Field(default=Decimal("0"), ge=0)
    write_off_reason: AdjustReason | None = None

    @model_validator(mode="after")
    def _reasoned(self) -> ReturnLineReceive:
        if self.write_off_quantity > 0 and self.write_off_reason is None:
            raise ValueError("a write-off needs a write_off_reason")
        return self


class ReturnReceive(Schema):
    lines: list[ReturnLineReceive] = Field(min_length=1, max_length=200)
    refund_amount: NonNegativePrice


class BranchAvailability(Schema):
    branch_id: Id
    branch_code: str
    available: Quantity


class CatalogItem(Schema):
    product_id: Id
    sku: str
    name: str
    description: str
    unit: str
    price: Amount
    barcodes: list[str]
    active: bool = True
    availability: list[BranchAvailability]


class PickingLine(Schema):
    order_id: Id
    external_number: str
    product_id: Id
    sku: str
    name: str
    quantity: Quantity


class PickingItem(Schema):
    product_id: Id
    sku: str
    name: str
    quantity: Quantity


class PickingList(Schema):
    branch_id: Id
    branch_code: str
    generated_at: datetime
    order_ids: list[Id]
    items: list[PickingItem]
    lines: list[PickingLine]
