"""purchase order lines carry their tax class and tax; supplier prices

Revision ID: 0024_po_tax_supplier_prices
Revises: 0023_pending_work

A PO line names the tax class it is taxed under and keeps its tax amount, so the PO shows
taxable value, tax and total per line and in all. Existing lines get their tax back from
what they stored (line total - quantity x cost, rounded to 2 places as every tenant's
currency so far was priced). supplier_prices holds what a supplier charges for a product.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_po_tax_supplier_prices"
down_revision: str | Sequence[str] | None = "0023_pending_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(14, 4)


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both engines: a batch copy would rebuild a table
    # that goods receipts point at.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE purchase_order_lines ADD COLUMN tax_class_id INTEGER "
            "CONSTRAINT fk_purchase_order_lines_tax_class_id_tax_classes "
            "REFERENCES tax_classes (id)"
        )
    else:
        op.add_column("purchase_order_lines", sa.Column("tax_class_id", BIG, nullable=True))
        op.create_foreign_key(
            op.f("fk_purchase_order_lines_tax_class_id_tax_classes"),
            "purchase_order_lines",
            "tax_classes",
            ["tax_class_id"],
            ["id"],
        )
    op.add_column(
        "purchase_order_lines",
        sa.Column("tax_amount", MONEY, nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE purchase_order_lines SET tax_amount = "
        "line_total - ROUND(quantity * unit_cost, 2) WHERE tax_rate <> 0"
    )
    op.create_table(
        "supplier_prices",
        sa.Column("id", BIG, nullable=False),
        sa.Column("supplier_id", BIG, nullable=False),
        sa.Column("product_id", BIG, nullable=False),
        sa.Column("unit_cost", MONEY, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", BIG, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_supplier_prices_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_supplier_prices_supplier_id_suppliers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_supplier_prices_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_prices")),
        sa.UniqueConstraint(
            "tenant_id",
            "supplier_id",
            "product_id",
            name=op.f("uq_supplier_prices_tenant_id_supplier_id_product_id"),
        ),
    )
    op.create_index(op.f("ix_supplier_prices_tenant_id"), "supplier_prices", ["tenant_id"])
    op.create_index(op.f("ix_supplier_prices_product_id"), "supplier_prices", ["product_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_supplier_prices_product_id"), table_name="supplier_prices")
    op.drop_index(op.f("ix_supplier_prices_tenant_id"), table_name="supplier_prices")
    op.drop_table("supplier_prices")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column a foreign key names: copy the table without them.
        with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
            batch_op.drop_column("tax_amount")
            batch_op.drop_column("tax_class_id")
        return
    op.drop_constraint(
        op.f("fk_purchase_order_lines_tax_class_id_tax_classes"),
        "purchase_order_lines",
        type_="foreignkey",
    )
    op.drop_column("purchase_order_lines", "tax_amount")
    op.drop_column("purchase_order_lines", "tax_class_id")
