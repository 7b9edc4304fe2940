"""Products, barcodes and categories."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from common.barcodes import BarcodeError, normalize
from common.codes import Unit
from common.schemas.base import (
    Amount,
    Id,
    JsonObject,
    NonNegativeAmount,
    NonNegativePrice,
    Percent,
    PositiveQuantity,
    Quantity,
    ReadSchema,
    Schema,
)


def _clean_barcodes(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    cleaned: list[str] = []
    for raw in values:
        try:
            code = normalize(raw)
        except BarcodeError as exc:
            raise ValueError(str(exc)) from exc
        if code in cleaned:
            raise ValueError(f"barcode {code} is listed twice")
        cleaned.append(code)
    return cleaned


class CategoryCreate(Schema):
    name: str = Field(min_length=1, max_length=120)
    parent_id: Id | None = None


class CategoryUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    parent_id: Id | None = None


class CategoryRead(ReadSchema):
    id: int
    name: str
    parent_id: int | None


class PackIn(Schema):
    """A barcode on a pack: scanning it sells ``quantity`` base units at the pack's price."""

    code: str = Field(min_length=1, max_length=48)
    label: str = Field(default="pack", min_length=1, max_length=32)
    quantity: PositiveQuantity
    price: NonNegativePrice | None = Field(
        default=None, description="The whole pack's price; left out, quantity x the unit price"
    )

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        try:
            return normalize(value)
        except BarcodeError as exc:
            raise ValueError(str(exc)) from exc


class PackRead(ReadSchema):
    code: str
    label: str
    quantity: Quantity
    price: Amount


def _clean_packs(values: list[PackIn] | None) -> list[PackIn] | None:
    if values is not None:
        codes = [pack.code for pack in values]
        for code in codes:
            if codes.count(code) > 1:
                raise ValueError(f"pack barcode {code} is listed twice")
    return values


class ProductCreate(Schema):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    category_id: Id | None = None
    supplier_id: Id | None = None
    price: NonNegativePrice
    cost: NonNegativeAmount = Decimal("0")
    tax_rate: Percent = Decimal("0")
    # A tax class (GST components) sets the rate; HSN (goods) or SAC (services) code.
    tax_class_id: Id | None = None
    hsn: str = Field(default="", pattern=r"^([0-9]{4,8})?$")
    unit: Unit = Unit.PIECE
    low_stock_threshold: Quantity = Decimal("0")
    reorder_quantity: Quantity = Decimal("0")
    attributes: JsonObject = Field(default_factory=dict)
    barcodes: list[str] = Field(default_factory=list, max_length=20)
    generate_barcode: bool = False
    packs: list[PackIn] = Field(default_factory=list, max_length=10)
    purchase_unit: str | None = Field(default=None, min_length=1, max_length=16)
    purchase_units_per: PositiveQuantity = Decimal("1")

    _barcodes = field_validator("barcodes")(_clean_barcodes)
    _packs = field_validator("packs")(_clean_packs)


class ProductUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    category_id: Id | None = None
    supplier_id: Id | None = None
    price: NonNegativePrice | None = None
    cost: NonNegativeAmount | None = None
    tax_rate: Percent | None = None
    tax_class_id: Id | None = None
    hsn: str | None = Field(default=None, pattern=r"^([0-9]{4,8})?$")
    unit: Unit | None = None
    low_stock_threshold: Quantity | None = None
    reorder_quantity: Quantity | None = None
    attributes: JsonObject | None = None
    barcodes: list[str] | None = Field(default=None, max_length=20)
    active: bool | None = None
    packs: list[PackIn] | None = Field(default=None, max_length=10)
    purchase_unit: str | None = Field(default=None, min_length=1, max_length=16)
    purchase_units_per: PositiveQuantity | None = None

    _barcodes = field_validator("barcodes")(_clean_barcodes)
    _packs = field_validator("packs")(_clean_packs)


class ProductRead(ReadSchema):
    id: int
    sku: str
    name: str
    description: str
    category_id: int | None
    category_name: str | None = None
    supplier_id: int | None
    price: Amount
    cost: Amount
    tax_rate: Percent
    tax_class_id: int | None = None
    hsn: str = ""
    unit: Unit
    low_stock_threshold: Quantity
    reorder_quantity: Quantity
    attributes: dict[str, Any]
    barcodes: list[str]
    active: bool
    packs: list[PackRead] = []
    purchase_unit: str | None = None
    purchase_units_per: Quantity = Decimal("1")
    template_id: int | None = None
    variant: dict[str, str] | None = None
    created_at: datetime
    updated_at: datetime


class BarcodeLookupRead(ReadSchema):
    """A product found by a scanned code, with what the code itself carried."""

    scanned: str
    matched_code: str
    product: ProductRead
    quantity: Quantity | None = None
    embedded_price: Amount | None = None
    pack: PackRead | None = Field(default=None, description="Set when the code is a pack's")


def _clean_attributes(values: dict[str, list[str]]) -> dict[str, list[str]]:
    if not 1 <= len(values) <= 3:
        raise ValueError("give one to three attributes (e.g. size, colour)")
    count = 1
    for name, options in values.items():
        if not name.strip() or len(name) > 40:
            raise ValueError("attribute names are 1 to 40 characters")
        if not 1 <= len(options) <= 30 or len(set(options)) != len(options):
            raise ValueError(f"'{name}' needs 1 to 30 different values")
        if any(not option.strip() or len(option) > 40 for option in options):
            raise ValueError(f"values of '{name}' are 1 to 40 characters")
        if not all(text.isprintable() for text in (name, *options)):
            raise ValueError(f"'{name}' and its values must be printable text")
        count *= len(options)
    if count > 200:
        raise ValueError(f"{count} variants is too many; at most 200")
    return values


class TemplateCreate(Schema):
    """A template and the attributes its variants vary by; every combination is created."""

    sku: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    name: str = Field(min_length=1, max_length=150)
    category_id: Id | None = None
    price: NonNegativePrice
    tax_rate: Percent = Decimal("0")
    unit: Unit = Unit.PIECE
    attributes: dict[str, list[str]]
    prices: dict[str, NonNegativePrice] = Field(
        default_factory=dict,
        max_length=200,
        description='Prices of single variants by label, e.g. {"XL / Red": "499"}',
    )
    generate_barcodes: bool = True

    _attributes = field_validator("attributes")(_clean_attributes)


class VariantRead(ReadSchema):
    id: int
    sku: str
    name: str
    variant: dict[str, str] | None
    price: Amount
    barcodes: list[str]
    active: bool


class TemplateRead(ReadSchema):
    id: int
    sku: str
    name: str
    attributes: dict[str, list[str]]
    variants: list[VariantRead]
