"""Wire schemas of the stock API, shared by the server and the back office (requests are strict,
quantities and money are strings)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from common.codes import AdjustReason
from common.schemas.base import (
    Amount,
    Id,
    NonNegativeAmount,
    PositiveQuantity,
    Quantity,
    ReadSchema,
    Schema,
)

StockStatus = Literal["in_stock", "low", "out", "negative"]


class StockLevelRead(ReadSchema):
    branch_id: int
    product_id: int
    sku: str
    name: str
    on_hand: Quantity
    reserved: Quantity
    available: Quantity
    threshold: Quantity
    reorder_quantity: Quantity
    status: StockStatus
    unit_cost: Amount
    updated_at: datetime | None = None
    on_order: Quantity = Field(
        default=Decimal("0"),
        description="Ordered but not yet received on open purchase orders for this branch",
    )
    expected_at: date | None = Field(
        default=None, description="Earliest date an open purchase order is due to bring it"
    )


class MovementRead(ReadSchema):
    id: int
    uuid: str
    branch_id: int
    product_id: int
    code: str
    quantity: Quantity
    unit_cost: Amount | None
    reason: str | None
    reference_type: str
    reference_id: str
    actor_id: int | None
    actor: str
    device_id: str | None
    occurred_at: datetime
    recorded_at: datetime


class LotFields(Schema):
    """The lot of received goods: typed, or read from the GS1 label on them."""

    lot_number: str | None = Field(default=None, min_length=1, max_length=20)
    expiry: date | None = None
    gs1: str | None = Field(
        default=None,
        max_length=120,
        description="A GS1 label scanned off the goods: lot (AI 10) and expiry (AI 17) from it",
    )


class ReceiptLine(LotFields):
    product_id: Id
    quantity: PositiveQuantity
    unit_cost: NonNegativeAmount


class ReceiptCreate(Schema):
    branch_id: Id
    reference: str = Field(default="", max_length=64, description="e.g. the supplier's invoice")
    lines: list[ReceiptLine] = Field(min_length=1, max_length=500)


class AdjustmentCreate(Schema):
    branch_id: Id
    product_id: Id
    quantity: Quantity = Field(description="Signed: negative takes stock out")
    reason: AdjustReason
    reference: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentCreate:
        if self.quantity == 0:
            raise ValueError("quantity must not be zero")
        return self


class ValuationLine(ReadSchema):
    product_id: int
    sku: str
    name: str
    on_hand: Quantity
    unit_cost: Amount
    value: Amount


class ValuationRead(ReadSchema):
    branch_id: int | None
    total_value: Amount
    items: list[ValuationLine]


class ThresholdUpdate(Schema):
    low_stock_threshold: Quantity | None = Field(
        default=None, ge=0, description="None: use the product's default"
    )
    reorder_quantity: Quantity | None = Field(default=None, ge=0)


class ThresholdRead(ReadSchema):
    branch_id: int
    product_id: int
    low_stock_threshold: Quantity | None
    reorder_quantity: Quantity | None
    effective_threshold: Quantity


class TransferLineIn(Schema):
    product_id: Id
    quantity: PositiveQuantity


class TransferCreate(Schema):
    source_branch_id: Id
    destination_branch_id: Id
    note: str = Field(default="", max_length=500)
    lines: list[TransferLineIn] = Field(min_length=1, max_length=500)


class TransferReceive(Schema):
    lines: list[TransferLineIn] = Field(default_factory=list, max_length=500)
    close: bool = Field(
        default=False, description="Close now: what has not arrived is recorded as discrepancy"
    )


class TransferLineRead(ReadSchema):
    product_id: int
    quantity: Quantity
    received_quantity: Quantity
    discrepancy: Quantity


class TransferRead(ReadSchema):
    id: int
    source_branch_id: int
    destination_branch_id: int
    status: str
    note: str
    created_by: int | None
    created_at: datetime
    dispatched_at: datetime | None
    received_at: datetime | None
    closed_at: datetime | None
    lines: list[TransferLineRead]


class CountCreate(Schema):
    branch_id: Id
    category_id: Id | None = None
    note: str = Field(default="", max_length=500)


class CountLineIn(Schema):
    barcode: str | None = Field(default=None, max_length=64)
    product_id: Id | None = None
    quantity: Quantity | None = Field(
        default=None, ge=0, description="Default: 1, or the weight a scale label carries"
    )
    replace: bool = Field(default=False, description="Set the count instead of adding to it")
    lot_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Count this lot of the product (a product counted by lot is counted whole)",
    )

    @model_validator(mode="after")
    def _one_key(self) -> CountLineIn:
        if (self.barcode is None) == (self.product_id is None):
            raise ValueError("give either barcode or product_id")
        return self


class CountLineRead(ReadSchema):
    product_id: int
    sku: str
    name: str
    counted: Quantity
    expected: Quantity
    difference: Quantity
    unit_cost: Amount
    value: Amount


class CountRead(ReadSchema):
    id: int
    branch_id: int
    category_id: int | None
    status: str
    note: str
    created_at: datetime
    posted_at: datetime | None
    lines: list[CountLineRead]
    difference_value: Amount


class CountPost(Schema):
    zero_uncounted: bool = Field(
        default=False,
        description="Also set every product of the count's scope (its branch, and its category "
        "if it has one) that has stock and was not counted to zero",
    )


class UncountedRead(ReadSchema):
    scope: str
    lines: list[CountLineRead]
    difference_value: Amount


class IncomingRead(ReadSchema):
    """What is on order for a branch, per product (GET /stock/incoming)."""

    branch_id: int
    product_id: int
    on_order: Quantity
    purchase_orders: int
    first_due: date | None


class LotLevelRead(ReadSchema):
    lot_id: int
    product_id: int
    branch_id: int
    lot_number: str
    expiry: date | None
    days_left: int | None
    expired: bool
    on_hand: Quantity
    reserved: Quantity
    suggested_markdown_percent: Quantity | None = None
