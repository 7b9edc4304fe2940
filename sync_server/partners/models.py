"""Suppliers and customers of a tenant."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed, Timestamps


class Supplier(TenantKeyed, Timestamps, Base):
    __tablename__ = "suppliers"
    __table_args__ = (Index("ix_suppliers_tenant_name", "tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    tax_number: Mapped[str] = mapped_column(String(40), default="")
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)


class Customer(TenantKeyed, Timestamps, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_tenant_name", "tenant_id", "name"),
        Index("ix_customers_tenant_phone", "tenant_id", "phone"),
        Index("ix_customers_tenant_email", "tenant_id", "email"),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    tax_number: Mapped[str] = mapped_column(String(40), default="")
    credit_limit: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # Kept in step with the credit ledger in the same transaction; the ledger is the truth.
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    active: Mapped[bool] = mapped_column(default=True)
    # The customer group whose price lists and promotions apply (retail, wholesale, staff…).
    price_group: Mapped[str | None] = mapped_column(String(40), nullable=True)
