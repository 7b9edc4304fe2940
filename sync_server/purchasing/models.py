"""Purchase orders, goods receipts and the vendor ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import (
    Base,
    BigId,
    Qty,
    TenantKeyed,
    Timestamps,
    tenant_fk,
    utcnow,
)


class PurchaseOrder(TenantKeyed, Timestamps, Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_purchase_orders_tenant_status", "tenant_id", "status"),
        Index("ix_purchase_orders_tenant_supplier", "tenant_id", "supplier_id"),
        tenant_fk("supplier_id", "suppliers"),
        tenant_fk("branch_id", "branches"),
    )

    number: Mapped[str] = mapped_column(String(32))
    supplier_id: Mapped[int] = mapped_column(BigId)
    branch_id: Mapped[int] = mapped_column(BigId)
    # draft | pending_approval | approved | rejected | partially_received | received
    # | closed | cancelled
    status: Mapped[str] = mapped_column(String(24), default="draft")
    expected_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    subtotal: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # Kept in step with the receipts and vendor payments that name this PO.
    received_value: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    paid_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(120), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_by_name: Mapped[str] = mapped_column(String(120), default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    decision_comment: Mapped[str] = mapped_column(String(1000), default="")
    received_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The supplier's side: sent to them, their confirmation, the shipment on its way.
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    confirmed_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(nullable=True)
    carrier: Mapped[str | None] = mapped_column(String(80), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(120), nullable=True)
    expected_arrival: Mapped[date | None] = mapped_column(Date, nullable=True)

    lines: Mapped[list[PurchaseOrderLine]] = relationship(
        foreign_keys="PurchaseOrderLine.purchase_order_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="PurchaseOrderLine.id",
    )


class PurchaseOrderLine(TenantKeyed, Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        tenant_fk("purchase_order_id", "purchase_orders", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
        tenant_fk("tax_class_id", "tax_classes"),
    )

    purchase_order_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_cost: Mapped[Decimal]
    tax_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    line_total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    received_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    confirmed_quantity: Mapped[Decimal | None] = mapped_column(Qty(), nullable=True)
    # Quantity, cost and received quantity are in this unit (None: the product's base unit);
    # each holds units_per base units, the stock and its cost per piece derive from it.
    purchase_unit: Mapped[str | None] = mapped_column(String(16), nullable=True)
    units_per: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("1"), server_default="1")
    # The tax class the line is taxed under (its rate is tax_rate, fixed when the line was
    # written) and the tax it carries: line_total = taxable value + tax_amount.
    tax_class_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    tax_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"), server_default="0")

    @property
    def taxable(self) -> Decimal:
        """Return the line's value before tax."""
        return self.line_total - self.tax_amount


class GoodsReceipt(TenantKeyed, Base):
    """One delivery against a PO; its value is what the vendor is owed for it."""

    __tablename__ = "goods_receipts"
    __table_args__ = (
        tenant_fk("purchase_order_id", "purchase_orders"),
        tenant_fk("supplier_id", "suppliers"),
        tenant_fk("branch_id", "branches"),
    )

    purchase_order_id: Mapped[int] = mapped_column(BigId, index=True)
    supplier_id: Mapped[int] = mapped_column(BigId, index=True)
    branch_id: Mapped[int] = mapped_column(BigId)
    value: Mapped[Decimal]
    note: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[GoodsReceiptLine]] = relationship(
        foreign_keys="GoodsReceiptLine.receipt_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="GoodsReceiptLine.id",
    )


class GoodsReceiptLine(TenantKeyed, Base):
    __tablename__ = "goods_receipt_lines"
    __table_args__ = (
        tenant_fk("receipt_id", "goods_receipts", ondelete="CASCADE"),
        tenant_fk("po_line_id", "purchase_order_lines"),
        tenant_fk("product_id", "products"),
    )

    receipt_id: Mapped[int] = mapped_column(BigId, index=True)
    po_line_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_cost: Mapped[Decimal]
    tax_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    value: Mapped[Decimal]


class VendorEntry(TenantKeyed, Base):
    """One line of what the business owes a supplier: receipts add, payments subtract."""

    __tablename__ = "vendor_entries"
    __table_args__ = (
        Index("ix_vendor_entries_tenant_supplier_at", "tenant_id", "supplier_id", "occurred_at"),
        tenant_fk("supplier_id", "suppliers"),
        tenant_fk("purchase_order_id", "purchase_orders"),
        tenant_fk("receipt_id", "goods_receipts"),
    )

    supplier_id: Mapped[int] = mapped_column(BigId, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # receipt | payment
    amount: Mapped[Decimal]
    purchase_order_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    receipt_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    method: Mapped[str] = mapped_column(String(32), default="")
    reference: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupplierPrice(TenantKeyed, Base):
    """What a supplier charges for a product, per the product's base unit (piece, kg).

    A new PO line starts from it; each goods receipt from that supplier updates it to the
    cost actually paid.
    """

    __tablename__ = "supplier_prices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "supplier_id", "product_id"),
        tenant_fk("supplier_id", "suppliers"),
        tenant_fk("product_id", "products"),
    )

    supplier_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    unit_cost: Mapped[Decimal]
    # "manual" when someone typed it, "receipt" when the last goods receipt set it.
    source: Mapped[str] = mapped_column(String(16), default="manual")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
