"""A layaway: goods reserved at a branch for a customer who pays in parts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class Layaway(TenantKeyed, Base):
    __tablename__ = "layaways"
    __table_args__ = (
        UniqueConstraint("tenant_id", "uuid"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("customer_id", "customers"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # completed | cancelled
    total: Mapped[Decimal]
    paid: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # [{"product_id", "sku", "name", "quantity", "unit_price", "line_total"}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # On cancellation: refunded | store_credit | kept, and the store credit's number.
    outcome: Mapped[str] = mapped_column(String(16), default="")
    credit_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LayawayPayment(TenantKeyed, Base):
    __tablename__ = "layaway_payments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "payment_uuid"),
        tenant_fk("layaway_id", "layaways"),
    )

    layaway_id: Mapped[int] = mapped_column(BigId, index=True)
    payment_uuid: Mapped[str] = mapped_column(String(36))
    amount: Mapped[Decimal]
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
