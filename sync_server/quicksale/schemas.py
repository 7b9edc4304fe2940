"""Wire shapes of the scanner-station API."""

from __future__ import annotations

from typing import Literal

from common.schemas.base import Amount, PositiveQuantity, Quantity, ReadSchema, Schema


class ScanRead(ReadSchema):
    """What a scan names at a branch: the product, its price and the stock there."""

    branch_id: int
    scanned: str
    matched_code: str
    product_id: int
    sku: str
    name: str
    unit: str
    unit_price: Amount
    tax_rate: Quantity
    quantity: Quantity
    amount: Amount
    on_hand: Quantity
    available: Quantity


class QuickSaleCreate(Schema):
    """Optional details of a quick sale; the scan alone sells one unit (or the label's weight)."""

    quantity: PositiveQuantity | None = None
    tender: Literal["cash", "card"] = "cash"


class QuickSaleRead(ReadSchema):
    """The sale document a quick sale made."""

    sale_id: str
    receipt_number: str
    branch_id: int
    product_id: int
    sku: str
    name: str
    quantity: Quantity
    unit_price: Amount
    tax: Amount
    total: Amount
    tender: str
    available_after: Quantity
