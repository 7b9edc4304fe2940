"""products as shops stock them: pack barcodes, purchase units on products and PO lines

Revision ID: 0017_products
Revises: 0016_audit_keys

Every existing product keeps its unit and is bought in it (purchase_units_per = 1); every
existing PO line is in the product's base unit (units_per = 1); no product has packs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_products"
down_revision: str | Sequence[str] | None = "0016_audit_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QTY = sa.Numeric(precision=14, scale=3)
MONEY = sa.Numeric(precision=14, scale=4)


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purchase_unit", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("purchase_units_per", QTY, nullable=False, server_default="1")
        )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purchase_unit", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("units_per", QTY, nullable=False, server_default="1"))
    op.create_table(
        "product_packs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("price", MONEY, nullable=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_packs_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_product_packs_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_packs")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_product_packs_tenant_id_code")),
    )
    with op.batch_alter_table("product_packs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_packs_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_product_packs_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_table("product_packs")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_column("units_per")
        batch_op.drop_column("purchase_unit")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("purchase_units_per")
        batch_op.drop_column("purchase_unit")
