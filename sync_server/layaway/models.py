"""A layaway: goods reserved at a branch for a customer who pays in parts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantScoped, utcnow


class Layaway(TenantScoped, Base):
    __tablename__ = "layaways"
    __table_args__ = (UniqueConstraint("tenant_id", "uuid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId, ForeignKey("branches.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id"))
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


class LayawayPayment(TenantScoped, Base):
    __tablename__ = "layaway_payments"
    __table_args__ = (UniqueConstraint("tenant_id", "payment_uuid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    layaway_id: Mapped[int] = mapped_column(BigId, ForeignKey("layaways.id"), index=True)
    payment_uuid: Mapped[str] = mapped_column(String(36))
    amount: Mapped[Decimal]
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
