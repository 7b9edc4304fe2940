"""Tenants and branches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from common.codes import BranchKind
from common.schemas.base import ReadSchema, Schema

BranchCode = str


class BranchCreate(Schema):
    name: str = Field(min_length=1, max_length=120)
    code: str = Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9-]+$")
    kind: BranchKind = BranchKind.STORE
    address: str = Field(default="", max_length=500)
    city: str = Field(default="", max_length=120)
    latitude: Decimal | None = Field(default=None, ge=-90, le=90)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0)
    phone: str = Field(default="", max_length=40)


class BranchUpdate(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    kind: BranchKind | None = None
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=120)
    latitude: Decimal | None = Field(default=None, ge=-90, le=90)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0)
    phone: str | None = Field(default=None, max_length=40)
    active: bool | None = None


class BranchRead(ReadSchema):
    id: int
    name: str
    code: str
    kind: BranchKind
    address: str
    city: str
    latitude: Decimal | None
    longitude: Decimal | None
    capacity: int | None
    phone: str
    active: bool
    created_at: datetime
