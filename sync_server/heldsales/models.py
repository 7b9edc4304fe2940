"""A cart parked at a till, kept so any till of its branch may recall it while online."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class HeldSale(TenantKeyed, Base):
    __tablename__ = "held_sales"
    __table_args__ = (
        UniqueConstraint("tenant_id", "hold_id"),
        Index("ix_held_sales_tenant_branch_status", "tenant_id", "branch_id", "status"),
        tenant_fk("branch_id", "branches"),
    )

    hold_id: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(80), default="")
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    cashier_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cart: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="held")  # | recalled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recalled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    recalled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
