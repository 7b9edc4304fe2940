"""A customer's loyalty points and their ledger; the balance is the sum of the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class LoyaltyAccount(TenantKeyed, Base):
    __tablename__ = "loyalty_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id"),
        tenant_fk("customer_id", "customers"),
    )

    customer_id: Mapped[int] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class LoyaltyEntry(TenantKeyed, Base):
    """Points earned (positive) or burned (negative) on one document."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        Index("ix_loyalty_entries_tenant_customer", "tenant_id", "customer_id", "id"),
        UniqueConstraint("tenant_id", "customer_id", "kind", "reference_id"),
        tenant_fk("customer_id", "customers"),
    )

    customer_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # earn | burn | adjust
    points: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="in_store")
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    overdrawn: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
