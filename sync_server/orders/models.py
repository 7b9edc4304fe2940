"""Online orders, their lines, returns, and the idempotency record of order requests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.schemas import orders as statuses
from common.schemas.orders import OrderStatusName as OrderStatusName
from sync_server.db import (
    Base,
    BigId,
    Qty,
    TenantKeyed,
    Timestamps,
    tenant_fk,
    utcnow,
)


class OrderStatus:
    """An order's statuses (common.schemas.orders holds them and the allowed steps)."""

    PENDING_PAYMENT = statuses.PENDING_PAYMENT
    CONFIRMED = statuses.CONFIRMED
    PICKING = statuses.PICKING
    PACKED = statuses.PACKED
    SHIPPED = statuses.SHIPPED
    DELIVERED = statuses.DELIVERED
    CANCELLED = statuses.CANCELLED
    EXPIRED = statuses.EXPIRED


class Order(TenantKeyed, Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_number"),
        Index("ix_orders_tenant_status_reserved", "tenant_id", "status", "reserved_until"),
        Index("ix_orders_tenant_created", "tenant_id", "created_at"),
        tenant_fk("customer_id", "customers"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("api_key_id", "api_keys"),
    )

    external_number: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="online")
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    branch_id: Mapped[int] = mapped_column(BigId, index=True)
    api_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    paid_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    payment_reference: Mapped[str] = mapped_column(String(120), default="")
    refunded_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    shipping_address: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(String(1000), default="")
    carrier: Mapped[str] = mapped_column(String(80), default="")
    tracking_number: Mapped[str] = mapped_column(String(120), default="")
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    # Unpaid orders hold their reservation until then; the expiry worker releases it.
    reserved_until: Mapped[datetime | None] = mapped_column(nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    lines: Mapped[list[OrderLine]] = relationship(
        foreign_keys="OrderLine.order_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderLine.id",
    )
    returns: Mapped[list[OrderReturn]] = relationship(
        foreign_keys="OrderReturn.order_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderReturn.id",
    )


class OrderLine(TenantKeyed, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        tenant_fk("order_id", "orders", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
    )

    order_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_price: Mapped[Decimal]
    # What promotions took off this line (line_total is after it).
    discount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    line_total: Mapped[Decimal]
    # The tax inside line_total (online prices include tax) and its components (common.tax).
    tax: Mapped[Decimal] = mapped_column(default=Decimal("0"), server_default="0")
    tax_detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    returned_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))


class OrderReturn(TenantKeyed, Base):
    """A customer's return of delivered lines: requested, then received."""

    __tablename__ = "order_returns"
    __table_args__ = (tenant_fk("order_id", "orders", ondelete="CASCADE"),)

    order_id: Mapped[int] = mapped_column(BigId, index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    reason: Mapped[str] = mapped_column(String(500), default="")
    refund_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime | None] = mapped_column(nullable=True)

    lines: Mapped[list[OrderReturnLine]] = relationship(
        foreign_keys="OrderReturnLine.return_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderReturnLine.id",
    )


class OrderReturnLine(TenantKeyed, Base):
    __tablename__ = "order_return_lines"
    __table_args__ = (
        tenant_fk("return_id", "order_returns", ondelete="CASCADE"),
        tenant_fk("order_line_id", "order_lines"),
        tenant_fk("product_id", "products"),
    )

    return_id: Mapped[int] = mapped_column(BigId, index=True)
    order_line_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[Decimal] = mapped_column(Qty())
    restocked_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    written_off_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    write_off_reason: Mapped[str] = mapped_column(String(32), default="")
    # The tax given back (positive) and the credit's figures (negative, common.tax).
    tax: Mapped[Decimal] = mapped_column(default=Decimal("0"), server_default="0")
    tax_detail: Mapped[Any] = mapped_column(JSON, nullable=True)


class IdempotencyRecord(TenantKeyed, Base):
    """The answer given to one Idempotency-Key, replayed when the same request comes again."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
