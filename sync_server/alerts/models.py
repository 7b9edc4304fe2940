"""Alerts: one open row per (kind, branch, product) until it clears."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class Alert(TenantKeyed, Base):
    __tablename__ = "alerts"
    # A push's batch writes its changed rows in one UPDATE (db.write_changes_plainly).
    plain_updates: ClassVar[bool] = True
    __table_args__ = (
        Index("ix_alerts_tenant_kind_status", "tenant_id", "kind", "status"),
        Index("ix_alerts_subject", "tenant_id", "branch_id", "product_id", "status"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    product_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
