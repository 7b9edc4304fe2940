"""Stored pricing rules: price lists and promotions, each a definition with a life."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, Timestamps, tenant_fk, utcnow


class PricingRule(TenantKeyed, Timestamps, Base):
    """A price list or a promotion; spec is its schema's JSON, the same the tills receive."""

    __tablename__ = "pricing_rules"
    __table_args__ = (
        Index("ix_pricing_rules_tenant_type_active", "tenant_id", "rule_type", "active"),
    )

    rule_type: Mapped[str] = mapped_column(String(16))  # "price_list" or "promotion"
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Coupon promotions keep their code in a column so a live duplicate is found by a query.
    coupon_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CouponRedemption(TenantKeyed, Base):
    """One use of a coupon code on one sale, as the server learned of it."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sale_uuid", "code"),
        tenant_fk("promotion_id", "pricing_rules"),
    )

    promotion_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    code: Mapped[str] = mapped_column(String(40))
    sale_uuid: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    # False: the use was beyond a limit (a dead letter says so to the managers).
    within_limit: Mapped[bool] = mapped_column(default=True)
    redeemed_at: Mapped[datetime] = mapped_column(default=utcnow)
