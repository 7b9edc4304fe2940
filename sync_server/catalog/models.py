"""Categories, products and their barcodes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.money import round_money
from sync_server.db import Base, BigId, Qty, TenantKeyed, TenantScoped, Timestamps, tenant_fk


class Category(TenantKeyed, Timestamps, Base):
    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        tenant_fk("parent_id", "categories"),
    )

    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class ProductTemplate(TenantKeyed, Timestamps, Base):
    """What variants share (a T-shirt), with the attributes they vary by (size, colour)."""

    __tablename__ = "product_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "sku"),)

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # {"size": ["S", "M"], "colour": ["Red"]}: names in order, each with its values.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Product(TenantKeyed, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_products_tenant_name", "tenant_id", "name"),
        tenant_fk("category_id", "categories"),
        tenant_fk("supplier_id", "suppliers"),
        tenant_fk("tax_class_id", "tax_classes"),
        tenant_fk("template_id", "product_templates"),
    )

    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    category_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    supplier_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    price: Mapped[Decimal]
    cost: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    tax_rate: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    # The class decides the components (CGST/SGST/IGST/cess...); tax_rate is its rate today.
    tax_class_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    hsn: Mapped[str] = mapped_column(String(8), default="", server_default="")
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    low_stock_threshold: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    reorder_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    # How suppliers sell it (e.g. "case") and how many base units one holds: a PO line
    # takes these as its default, and receiving turns them into base units.
    purchase_unit: Mapped[str | None] = mapped_column(String(16), nullable=True)
    purchase_units_per: Mapped[Decimal] = mapped_column(
        Qty(), default=Decimal("1"), server_default="1"
    )
    # A variant (size M, colour red) of a template; None: a product of its own.
    template_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    variant: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)

    barcode_rows: Mapped[list[ProductBarcode]] = relationship(
        foreign_keys="ProductBarcode.product_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ProductBarcode.id",
    )
    category: Mapped[Category | None] = relationship(
        foreign_keys="Product.category_id", lazy="joined"
    )
    template: Mapped[ProductTemplate | None] = relationship(
        foreign_keys="Product.template_id", lazy="select"
    )
    pack_rows: Mapped[list[ProductPack]] = relationship(
        foreign_keys="ProductPack.product_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ProductPack.id",
    )

    @property
    def barcodes(self) -> list[str]:
        return [row.code for row in self.barcode_rows]

    @property
    def category_name(self) -> str | None:
        return self.category.name if self.category else None

    @property
    def template_name(self) -> str | None:
        return self.template.name if self.template_id and self.template else None

    @property
    def variant_label(self) -> str | None:
        """Return the variant's values as a cashier reads them: "M / Red"."""
        return " / ".join(self.variant.values()) if self.variant else None

    @property
    def packs(self) -> list[dict[str, Any]]:
        """Return the pack barcodes as the API and the tills read them (price per pack)."""
        return [
            {
                "code": row.code,
                "label": row.label,
                "quantity": row.quantity,
                "price": row.price
                if row.price is not None
                else round_money(row.quantity * self.price),
            }
            for row in self.pack_rows
        ]


class ProductBarcode(TenantKeyed, Base):
    __tablename__ = "product_barcodes"
    # A code names one product per tenant: the constraint, not a search, keeps it so.
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        tenant_fk("product_id", "products", ondelete="CASCADE"),
    )

    product_id: Mapped[int] = mapped_column(BigId, index=True)
    code: Mapped[str] = mapped_column(String(48))


class ProductPack(TenantKeyed, Base):
    """A barcode on a pack of the product: scanning it sells ``quantity`` base units at once."""

    __tablename__ = "product_packs"
    # Pack codes share the product barcodes' namespace; the service refuses overlaps.
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        tenant_fk("product_id", "products", ondelete="CASCADE"),
    )

    product_id: Mapped[int] = mapped_column(BigId, index=True)
    code: Mapped[str] = mapped_column(String(48))
    label: Mapped[str] = mapped_column(String(32), default="pack")
    quantity: Mapped[Decimal] = mapped_column(Qty())
    # The pack's own price; None sells it at quantity x the product's price.
    price: Mapped[Decimal | None] = mapped_column(nullable=True)


class BarcodeSequence(TenantKeyed, Base):
    """The next number for generated in-store EAN-13 codes, one row per tenant."""

    __tablename__ = "barcode_sequences"

    next_value: Mapped[int] = mapped_column(default=1)


class ProductSearchDoc(TenantScoped, Base):
    """The text a product is found by (name, SKU, barcodes, category, attributes).

    Kept in step by the catalog service. On SQLite an FTS5 trigram index shadows it; on
    PostgreSQL a pg_trgm GIN index serves the same substring queries (migration 0008).
    """

    __tablename__ = "product_search_docs"
    __table_args__ = (
        PrimaryKeyConstraint("product_id", "tenant_id"),
        tenant_fk("product_id", "products", ondelete="CASCADE"),
    )

    product_id: Mapped[int] = mapped_column(BigId)
    document: Mapped[str] = mapped_column(String(8000))

    __mapper_args__ = {"primary_key": [product_id]}
