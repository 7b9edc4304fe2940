"""Categories, products and their barcodes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import Base, BigId, Qty, TenantScoped, Timestamps


class Category(TenantScoped, Timestamps, Base):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("categories.id"), nullable=True)


class Product(TenantScoped, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_products_tenant_name", "tenant_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("categories.id"), nullable=True, index=True
    )
    supplier_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("suppliers.id"), nullable=True, index=True
    )
    price: Mapped[Decimal]
    cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # The class decides the components (CGST/SGST/IGST/cess...); tax_rate is its rate today.
    tax_class_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tax_classes.id"), nullable=True, index=True
    )
    hsn: Mapped[str] = mapped_column(String(8), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    low_stock_threshold: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    reorder_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)

    barcode_rows: Mapped[list[ProductBarcode]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProductBarcode.id"
    )
    category: Mapped[Category | None] = relationship(lazy="joined")

    @property
    def barcodes(self) -> list[str]:
        return [row.code for row in self.barcode_rows]

    @property
    def category_name(self) -> str | None:
        return self.category.name if self.category else None


class ProductBarcode(TenantScoped, Base):
    __tablename__ = "product_barcodes"
    # A code names one product per tenant: the constraint, not a search, keeps it so.
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(48))


class BarcodeSequence(TenantScoped, Base):
    """The next number for generated in-store EAN-13 codes, one row per tenant."""

    __tablename__ = "barcode_sequences"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class ProductSearchDoc(TenantScoped, Base):
    """The text a product is found by (name, SKU, barcodes, category, attributes).

    Kept in step by the catalog service. On SQLite an FTS5 trigram index shadows it; on
    PostgreSQL a pg_trgm GIN index serves the same substring queries (migration 0008).
    """

    __tablename__ = "product_search_docs"

    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    document: Mapped[str] = mapped_column(String(8000))
