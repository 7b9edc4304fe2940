"""An online order the customer collects at its branch instead of having it shipped."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class OrderPickup(TenantKeyed, Base):
    __tablename__ = "order_pickups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        tenant_fk("order_id", "orders"),
        tenant_fk("branch_id", "branches"),
    )

    order_id: Mapped[int] = mapped_column(BigId)
    branch_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(12), default="awaiting")  # ready | collected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(nullable=True)
    collected_at: Mapped[datetime | None] = mapped_column(nullable=True)
    collected_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    paid_at_till: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    payment_method: Mapped[str] = mapped_column(String(16), default="")
    payment_reference: Mapped[str] = mapped_column(String(120), default="")
