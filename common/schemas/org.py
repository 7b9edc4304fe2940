"""Tenants and branches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field, model_validator

from common.codes import BranchKind
from common.schemas.base import ReadSchema, Schema
from common.tax import STATE_CODES, gstin_problem

BranchCode = str

StateCode = Field(default="", pattern=r"^([0-9]{2})?$", description="GST state code, e.g. 27")


class _TaxIdentity(Schema):
    """Check a branch's GSTIN and that it belongs to the branch's state."""

    @model_validator(mode="after")
    def _check_gstin(self) -> _TaxIdentity:
        raw = getattr(self, "gstin", None)
        state_code = getattr(self, "state_code", None)
        gstin = (raw or "").strip().upper()
        if raw is not None:
            self.gstin = gstin
        if gstin:
            problem = gstin_problem(gstin)
            if problem:
                raise ValueError(problem)
            if state_code and state_code != gstin[:2]:
                raise ValueError(
                    f"GSTIN {gstin} is registered in state {gstin[:2]} "
                    f"({STATE_CODES.get(gstin[:2], '?')}), not in state {state_code}."
                )
        return self


class BranchCreate(_TaxIdentity):
    name: str = Field(min_length=1, max_length=120)
    code: str = Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9-]+$")
    kind: BranchKind = BranchKind.STORE
    address: str = Field(default="", max_length=500)
    city: str = Field(default="", max_length=120)
    latitude: Decimal | None = Field(default=None, ge=-90, le=90)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    gstin: str = Field(default="", max_length=15, description="GSTIN of this branch")
    state: str = Field(default="", max_length=60)
    state_code: str = StateCode


class BranchUpdate(_TaxIdentity):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    kind: BranchKind | None = None
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=120)
    latitude: Decimal | None = Field(default=None, ge=-90, le=90)
    longitude: Decimal | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    gstin: str | None = Field(default=None, max_length=15, description="GSTIN of this branch")
    state: str | None = Field(default=None, max_length=60)
    state_code: str | None = Field(default=None, pattern=r"^([0-9]{2})?$")
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
    email: str = ""
    gstin: str = ""
    state: str = ""
    state_code: str = ""
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
