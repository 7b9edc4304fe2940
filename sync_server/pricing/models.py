"""Stored pricing rules: price lists and promotions, each a definition with a life."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantScoped, Timestamps


class PricingRule(TenantScoped, Timestamps, Base):
    """A price list or a promotion; spec is its schema's JSON, the same the tills receive."""

    __tablename__ = "pricing_rules"
    __table_args__ = (
        Index("ix_pricing_rules_tenant_type_active", "tenant_id", "rule_type", "active"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_type: Mapped[str] = mapped_column(String(16))  # "price_list" or "promotion"
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Coupon promotions keep their code in a column so a live duplicate is found by a query.
    coupon_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
