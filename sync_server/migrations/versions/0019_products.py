"""products as shops stock them: pack barcodes, purchase units, lots with expiry

Revision ID: 0019_products
Revises: 0018_pricing

Every existing product keeps its unit and is bought in it (purchase_units_per = 1); every
existing product is its own one-variant product (no template); every
existing PO line is in the product's base unit (units_per = 1); no product has packs, and no
stock has a lot (it is untracked: the product level minus what lots hold).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_products"
down_revision: str | Sequence[str] | None = "0018_pricing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QTY = sa.Numeric(precision=14, scale=3)
MONEY = sa.Numeric(precision=14, scale=4)


def upgrade() -> None:
    op.create_table(
        "product_templates",
        sa.Column("id", BigId, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        _fk("product_templates", "tenant_id", "tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_templates")),
        sa.UniqueConstraint("tenant_id", "sku", name=op.f("uq_product_templates_tenant_id_sku")),
    )
    with op.batch_alter_table("product_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_templates_tenant_id"), ["tenant_id"])
    # Plain ALTER TABLE ADD COLUMN on both engines: a batch copy of products on SQLite
    # would drop a table every sale, movement and order line points at.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE products ADD COLUMN template_id INTEGER "
            "CONSTRAINT fk_products_template_id_product_templates "
            "REFERENCES product_templates (id)"
        )
    else:
        op.add_column("products", sa.Column("template_id", BigId, nullable=True))
        op.create_foreign_key(
            op.f("fk_products_template_id_product_templates"),
            "products",
            "product_templates",
            ["template_id"],
            ["id"],
        )
    op.add_column("products", sa.Column("variant", sa.JSON(), nullable=True))
    op.create_index(op.f("ix_products_template_id"), "products", ["template_id"])
    op.add_column("products", sa.Column("purchase_unit", sa.String(length=16), nullable=True))
    op.add_column(
        "products", sa.Column("purchase_units_per", QTY, nullable=False, server_default="1")
    )
    op.add_column(
        "purchase_order_lines", sa.Column("purchase_unit", sa.String(length=16), nullable=True)
    )
    op.add_column(
        "purchase_order_lines", sa.Column("units_per", QTY, nullable=False, server_default="1")
    )
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

    _lots()


def _fk(
    table: str, column: str, target: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _lots() -> None:
    op.create_table(
        "stock_lots",
        sa.Column("id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("lot_number", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        _fk("stock_lots", "product_id", "products"),
        _fk("stock_lots", "tenant_id", "tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_lots")),
        sa.UniqueConstraint(
            "tenant_id",
            "product_id",
            "lot_number",
            name=op.f("uq_stock_lots_tenant_id_product_id_lot_number"),
        ),
    )
    with op.batch_alter_table("stock_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_lots_product_id"), ["product_id"])
        batch_op.create_index(batch_op.f("ix_stock_lots_tenant_id"), ["tenant_id"])
    op.create_table(
        "lot_levels",
        sa.Column("id", BigId, nullable=False),
        sa.Column("branch_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("lot_id", BigId, nullable=False),
        sa.Column("on_hand", QTY, nullable=False),
        sa.Column("reserved", QTY, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        _fk("lot_levels", "branch_id", "branches"),
        _fk("lot_levels", "product_id", "products"),
        _fk("lot_levels", "lot_id", "stock_lots"),
        _fk("lot_levels", "tenant_id", "tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_levels")),
        sa.UniqueConstraint(
            "tenant_id",
            "branch_id",
            "lot_id",
            name=op.f("uq_lot_levels_tenant_id_branch_id_lot_id"),
        ),
    )
    with op.batch_alter_table("lot_levels", schema=None) as batch_op:
        batch_op.create_index("ix_lot_levels_product", ["tenant_id", "branch_id", "product_id"])
        batch_op.create_index(batch_op.f("ix_lot_levels_lot_id"), ["lot_id"])
        batch_op.create_index(batch_op.f("ix_lot_levels_tenant_id"), ["tenant_id"])
    op.create_table(
        "lot_movements",
        sa.Column("id", BigId, nullable=False),
        sa.Column("movement_uuid", sa.String(length=36), nullable=False),
        sa.Column("lot_id", BigId, nullable=False),
        sa.Column("branch_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        _fk("lot_movements", "lot_id", "stock_lots"),
        _fk("lot_movements", "branch_id", "branches"),
        _fk("lot_movements", "product_id", "products"),
        _fk("lot_movements", "tenant_id", "tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_movements")),
    )
    with op.batch_alter_table("lot_movements", schema=None) as batch_op:
        batch_op.create_index("ix_lot_movements_lot", ["tenant_id", "lot_id", "id"])
        batch_op.create_index(
            "ix_lot_movements_reference", ["tenant_id", "reference_type", "reference_id"]
        )
        batch_op.create_index(batch_op.f("ix_lot_movements_movement_uuid"), ["movement_uuid"])
        batch_op.create_index(batch_op.f("ix_lot_movements_tenant_id"), ["tenant_id"])
    op.create_table(
        "stock_count_lots",
        sa.Column("id", BigId, nullable=False),
        sa.Column("count_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("lot_id", BigId, nullable=False),
        sa.Column("counted", QTY, nullable=False),
        sa.Column("tenant_id", BigId, nullable=False),
        _fk("stock_count_lots", "count_id", "stock_counts", ondelete="CASCADE"),
        _fk("stock_count_lots", "product_id", "products"),
        _fk("stock_count_lots", "lot_id", "stock_lots"),
        _fk("stock_count_lots", "tenant_id", "tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lots")),
        sa.UniqueConstraint("count_id", "lot_id", name=op.f("uq_stock_count_lots_count_id_lot_id")),
    )
    op.create_index(op.f("ix_stock_count_lots_count_id"), "stock_count_lots", ["count_id"])
    op.create_index(op.f("ix_stock_count_lots_tenant_id"), "stock_count_lots", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("stock_count_lots")
    op.drop_table("lot_movements")
    op.drop_table("lot_levels")
    op.drop_table("stock_lots")
    op.drop_table("product_packs")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_column("units_per")
        batch_op.drop_column("purchase_unit")
    op.drop_index(op.f("ix_products_template_id"), table_name="products")
    if op.get_bind().dialect.name == "sqlite":
        # Native DROP COLUMN, as the upgrade added them: a batch copy of products would drop
        # a table that every sale, movement and search document points at.
        for column in ("purchase_units_per", "purchase_unit", "variant", "template_id"):
            op.execute(f"ALTER TABLE products DROP COLUMN {column}")
    else:
        op.drop_constraint(
            op.f("fk_products_template_id_product_templates"), "products", type_="foreignkey"
        )
        for column in ("purchase_units_per", "purchase_unit", "variant", "template_id"):
            op.drop_column("products", column)
    op.drop_table("product_templates")
