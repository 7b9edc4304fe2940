"""Sales requests (B2B orders) and their lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import Base, BigId, Qty, TenantKeyed, Timestamps, tenant_fk


class SalesRequest(TenantKeyed, Timestamps, Base):
    __tablename__ = "sales_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # Invoice numbers never repeat within a tenant (NULL until approved).
        UniqueConstraint("tenant_id", "invoice_number"),
        Index("ix_sales_requests_tenant_status", "tenant_id", "status"),
        Index("ix_sales_requests_tenant_customer", "tenant_id", "customer_id"),
        tenant_fk("customer_id", "customers"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("credit_entry_id", "credit_entries"),
    )

    number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(BigId)
    branch_id: Mapped[int] = mapped_column(BigId)
    # pending_approval | approved | rejected | cancelled
    status: Mapped[str] = mapped_column(String(24), default="pending_approval")
    payment_terms: Mapped[str] = mapped_column(String(16), default="cash")  # cash | account
    order_discount_percent: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    gross_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    discount_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(120), default="")
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_by_name: Mapped[str] = mapped_column(String(120), default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_comment: Mapped[str] = mapped_column(String(1000), default="")
    invoice_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    invoiced_at: Mapped[datetime | None] = mapped_column(nullable=True)
    credit_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)

    lines: Mapped[list[SalesRequestLine]] = relationship(
        foreign_keys="SalesRequestLine.sales_request_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SalesRequestLine.id",
    )


class SalesRequestLine(TenantKeyed, Base):
    __tablename__ = "sales_request_lines"
    __table_args__ = (
        tenant_fk("sales_request_id", "sales_requests", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
    )

    sales_request_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_price: Mapped[Decimal]
    discount_percent: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # What the pricing engine's promotions took off (before discount_percent, which is manual).
    promo_discount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # gross = quantity x price; net = gross less line and (its share of) order discount.
    gross: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    net: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # Taxable value and components for the place of supply (common.tax), and the HSN code.
    tax_detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    hsn: Mapped[str] = mapped_column(String(8), default="", server_default="")
