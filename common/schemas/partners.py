"""Suppliers and customers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from common.schemas.base import Amount, NonNegativeAmount, ReadSchema, Schema


class SupplierCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    contact_name: str = Field(default="", max_length=120)
    email: str | None = Field(default=None, max_length=254)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=500)
    tax_number: str = Field(default="", max_length=40)
    payment_terms_days: int = Field(default=30, ge=0, le=365)


class SupplierUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    contact_name: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    tax_number: str | None = Field(default=None, max_length=40)
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    active: bool | None = None


class SupplierRead(ReadSchema):
    id: int
    name: str
    contact_name: str
    email: str | None
    phone: str
    address: str
    tax_number: str
    payment_terms_days: int
    active: bool
    created_at: datetime


class CustomerCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=500)
    tax_number: str = Field(default="", max_length=40)
    credit_limit: NonNegativeAmount = Decimal("0")
    price_group: str | None = Field(default=None, min_length=1, max_length=40)


class CustomerUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    tax_number: str | None = Field(default=None, max_length=40)
    credit_limit: NonNegativeAmount | None = None
    active: bool | None = None
    price_group: str | None = Field(default=None, min_length=1, max_length=40)


class CustomerRead(ReadSchema):
    id: int
    name: str
    email: str | None
    phone: str
    address: str
    tax_number: str
    credit_limit: Amount
    balance: Amount = Decimal("0")
    active: bool
    price_group: str | None = None
    created_at: datetime
