"""Tenants (businesses), their branches and their settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Branch(TenantKeyed, Base):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="store")
    address: Mapped[str] = mapped_column(String(500), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6), nullable=True)
    capacity: Mapped[int | None] = mapped_column(nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    # The branch's tax identity: GST registration is per state, so per branch.
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    state: Mapped[str] = mapped_column(String(60), default="", server_default="")
    state_code: Mapped[str] = mapped_column(String(2), default="", server_default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantSetting(TenantKeyed, Base):
    """A per-tenant setting (e.g. PO approval threshold); values are JSON."""

    __tablename__ = "tenant_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        tenant_fk("branch_id", "branches"),
    )

    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[Any] = mapped_column(JSON)
    branch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
