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


class TenantCreate(Schema):
    """A new business with its first admin (and, unless told otherwise, its first branch)."""

    name: str = Field(min_length=1, max_length=120)
    currency: str = Field(default="INR", pattern=r"^[A-Z]{3}$")
    admin_username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    admin_password: str = Field(min_length=8, max_length=256)
    admin_pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")
    branch_name: str | None = Field(default="Main store", min_length=1, max_length=120)
    branch_code: str = Field(default="MAIN", min_length=1, max_length=16, pattern=r"^[A-Z0-9-]+$")


class TenantRead(ReadSchema):
    id: int
    name: str
    currency: str
    created_at: datetime


class TenantProvisioned(ReadSchema):
    """What provisioning made: the business, its admin's login and its first branch."""

    tenant: TenantRead
    admin_username: str
    branch_id: int | None
