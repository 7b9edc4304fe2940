"""Wire shapes of purchase orders, receipts, vendor accounts and reorder suggestions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from common.schemas.base import (
    Amount,
    Id,
    NonNegativeAmount,
    Percent,
    PositiveQuantity,
    Quantity,
    ReadSchema,
    Schema,
)
from common.schemas.inventory import LotFields
from sync_server.credit.schemas import MAX_AMOUNT


class LineIn(Schema):
    product_id: Id
    quantity: PositiveQuantity
    unit_cost: Annotated[NonNegativeAmount, Field(le=MAX_AMOUNT)]
    tax_rate: Percent = Field(
        default=Decimal("0"), description="Tax in percent; the class's rate when it names one"
    )
    tax_class_id: Id | None = Field(
        default=None,
        description="The tax class the line is taxed under (its components, e.g. CGST+SGST)",
    )
    free: bool = Field(
        default=False, description="The supplier gives these free; only then may the cost be 0"
    )
    purchase_unit: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="The unit quantity and cost are in (e.g. case); the product's by default",
    )
    units_per: PositiveQuantity | None = Field(
        default=None, description="Base units in one purchase unit; the product's by default"
    )


class POCreate(Schema):
    supplier_id: Id
    branch_id: Id
    expected_date: date | None = None
    notes: str = Field(default="", max_length=2000)
    lines: list[LineIn] = Field(min_length=1, max_length=500)


class POUpdate(Schema):
    expected_date: date | None = None
    notes: str | None = Field(default=None, max_length=2000)
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)


class Decision(Schema):
    comment: str = Field(default="", max_length=1000)


class Rejection(Schema):
    comment: str = Field(min_length=1, max_length=1000, description="Why it was rejected")


class Cancellation(Schema):
    reason: str = Field(default="", max_length=1000)


class ConfirmedLine(Schema):
    line_id: Id
    quantity: Quantity = Field(ge=0)


class Confirmation(Schema):
    """The supplier's answer: the delivery date, and any line quantities that differ."""

    delivery_date: date
    lines: list[ConfirmedLine] = Field(default_factory=list, max_length=500)


class Shipment(Schema):
    carrier: str = Field(min_length=1, max_length=80)
    tracking_number: str = Field(min_length=1, max_length=120)
    expected_arrival: date


class ReceiptLineIn(LotFields):
    line_id: Id
    quantity: PositiveQuantity
    unit: Literal["purchase", "base"] = Field(
        default="purchase",
        description="Whether quantity counts the line's purchase units or base units (pieces)",
    )
    unit_cost: Annotated[NonNegativeAmount, Field(le=MAX_AMOUNT)] | None = Field(
        default=None, description="Actual unit cost; the ordered cost when left out"
    )


class ReceiptCreate(Schema):
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=500)


class VendorPaymentCreate(Schema):
    amount: Amount = Field(gt=0, le=MAX_AMOUNT)
    method: str = Field(default="bank", min_length=1, max_length=32)
    reference: str = Field(default="", max_length=200)
    paid_on: date | None = Field(default=None, description="Day paid; today when left out")
    purchase_order_id: Id | None = None


class VendorStatementLine(ReadSchema):
    at: datetime
    kind: str
    description: str
    debit: Amount
    credit: Amount
    balance: Amount


class VendorStatementRead(ReadSchema):
    supplier_id: int
    name: str
    start: date
    end: date
    opening_balance: Amount
    closing_balance: Amount
    lines: list[VendorStatementLine]


class POHistoryRow(ReadSchema):
    id: int
    number: str
    status: str
    total: Amount
    received_value: Amount
    ordered_at: datetime | None
    received_at: datetime | None
    lead_time_days: float | None = Field(description="Approval to full receipt, in days")
    fill_rate: Decimal = Field(description="Received ÷ ordered quantity, 0 to 1 (or above)")


class PriceChange(ReadSchema):
    product_id: int
    at: datetime
    old_cost: Amount
    new_cost: Amount


class SupplierHistoryRead(ReadSchema):
    supplier_id: int
    purchase_orders: list[POHistoryRow]
    average_lead_time_days: float | None
    overall_fill_rate: Decimal | None
    price_changes: list[PriceChange]


class SuggestionsApply(Schema):
    branch_id: Id
    days_of_sales: int = Field(default=30, ge=1, le=365)
    cover_days: int = Field(default=14, ge=0, le=365)
    method: Literal["threshold", "forecast"] = "threshold"
    service_level: float = Field(default=0.95, ge=0.5, le=0.999)
    supplier_ids: list[Id] | None = Field(
        default=None, description="Make POs only for these suppliers; all when left out"
    )


class SupplierPriceIn(Schema):
    unit_cost: Annotated[Amount, Field(gt=0, le=MAX_AMOUNT)] = Field(
        description="What the supplier charges for one base unit (piece, kg) of the product"
    )


class StartingCost(ReadSchema):
    product_id: int
    unit_cost: Amount = Field(description="Per base unit (piece, kg)")
    source: Literal["supplier_price", "last_cost", "none"]
