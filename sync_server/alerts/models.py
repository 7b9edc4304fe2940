"""Alerts: one open row per (kind, branch, product) until it clears."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantScoped, utcnow


class Alert(TenantScoped, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_tenant_kind_status", "tenant_id", "kind", "status"),
        Index("ix_alerts_subject", "tenant_id", "branch_id", "product_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("branches.id"), nullable=True)
    product_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("products.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
