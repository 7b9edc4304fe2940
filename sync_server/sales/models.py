"""Server copies of till documents; ids made on the till are kept as uuid columns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Index,
    String,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import Base, BigId, Qty, TenantKeyed, tenant_fk, utcnow

ZERO = Decimal("0")


# Written out, not bound: SQLite uses a partial index only for a query that repeats its WHERE.
NOT_COMPLETED = "status <> 'completed'"


def not_completed() -> ColumnElement[bool]:
    """The condition of ix_sales_not_completed, as a query must spell it to use the index."""
    return Sale.status != literal_column("'completed'")


class Sale(TenantKeyed, Base):
    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("tenant_id", "uuid"),
        # Receipt numbers made offline stay unique by this constraint, not by a search.
        UniqueConstraint("tenant_id", "receipt_number"),
        Index("ix_sales_tenant_branch_occurred", "tenant_id", "branch_id", "occurred_at"),
        # Voided (not completed) sales are about one in a hundred: reports find the ones voided
        # after the summaries summed them through this small index (reports/rollups.py).
        Index(
            "ix_sales_not_completed",
            "tenant_id",
            "occurred_at",
            sqlite_where=text(NOT_COMPLETED),
            postgresql_where=text(NOT_COMPLETED),
        ),
        tenant_fk("branch_id", "branches"),
        tenant_fk("customer_id", "customers"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    receipt_number: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16), default="in_store")
    status: Mapped[str] = mapped_column(String(12), default="completed")
    branch_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    shift_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    subtotal: Mapped[Decimal]
    discount_total: Mapped[Decimal] = mapped_column(default=ZERO)
    tax_total: Mapped[Decimal] = mapped_column(default=ZERO)
    total: Mapped[Decimal]
    change_due: Mapped[Decimal] = mapped_column(default=ZERO)
    # A business buyer's GSTIN and state (place of supply); empty for a walk-in sale.
    buyer_gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    buyer_state: Mapped[str] = mapped_column(String(2), default="", server_default="")
    overrides: Mapped[Any] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(nullable=True)

    lines: Mapped[list[SaleLine]] = relationship(
        foreign_keys="SaleLine.sale_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SaleLine.id",
    )
    payments: Mapped[list[SalePayment]] = relationship(
        foreign_keys="SalePayment.sale_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="SalePayment.id",
    )


class SaleLine(TenantKeyed, Base):
    __tablename__ = "sale_lines"
    __table_args__ = (
        tenant_fk("sale_id", "sales"),
        tenant_fk("product_id", "products"),
    )

    sale_id: Mapped[int] = mapped_column(BigId, index=True)
    line_uuid: Mapped[str] = mapped_column(String(36))
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(default=ZERO)
    tax_rate: Mapped[Decimal] = mapped_column(default=ZERO)
    tax: Mapped[Decimal] = mapped_column(default=ZERO)
    total: Mapped[Decimal]
    # The line's taxable value and each tax component, as common.tax.LineTax.to_wire gives.
    tax_detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    hsn: Mapped[str] = mapped_column(String(8), default="", server_default="")


class SalePayment(TenantKeyed, Base):
    __tablename__ = "sale_payments"
    __table_args__ = (tenant_fk("sale_id", "sales"),)

    sale_id: Mapped[int] = mapped_column(BigId, index=True)
    payment_uuid: Mapped[str] = mapped_column(String(36))
    method: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal]
    reference: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Return(TenantKeyed, Base):
    __tablename__ = "sale_returns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "uuid"),
        UniqueConstraint("tenant_id", "receipt_number"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("customer_id", "customers"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    receipt_number: Mapped[str] = mapped_column(String(40))
    # The sale may come from another till that has not synced yet: kept as its uuid.
    original_sale_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    branch_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    shift_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    total: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(200), default="")
    refunds: Mapped[Any] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[ReturnLine]] = relationship(
        foreign_keys="ReturnLine.return_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ReturnLine.id",
    )


class ReturnLine(TenantKeyed, Base):
    __tablename__ = "sale_return_lines"
    __table_args__ = (
        tenant_fk("return_id", "sale_returns"),
        tenant_fk("product_id", "products"),
    )

    return_id: Mapped[int] = mapped_column(BigId, index=True)
    line_uuid: Mapped[str] = mapped_column(String(36))
    product_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[Decimal] = mapped_column(Qty())
    amount: Mapped[Decimal]
    restock: Mapped[bool] = mapped_column(default=True)
    # The tax this return credits (negative figures), as common.tax.LineTax.to_wire gives,
    # and the tax given back as one positive figure for the reports.
    tax_detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    tax: Mapped[Decimal] = mapped_column(default=ZERO, server_default="0")


class Shift(TenantKeyed, Base):
    __tablename__ = "till_shifts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "uuid"),
        tenant_fk("branch_id", "branches"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cashier_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(nullable=True)
    opening_float: Mapped[Decimal] = mapped_column(default=ZERO)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    counted_cash: Mapped[Decimal | None] = mapped_column(nullable=True)
    expected_cash: Mapped[Decimal | None] = mapped_column(nullable=True)
    variance: Mapped[Decimal | None] = mapped_column(nullable=True)
    totals: Mapped[Any] = mapped_column(JSON, default=dict)


class CashMovement(TenantKeyed, Base):
    __tablename__ = "till_cash_movements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "uuid"),
        tenant_fk("branch_id", "branches"),
    )

    uuid: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    shift_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    direction: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(200), default="")
    cashier_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column()
