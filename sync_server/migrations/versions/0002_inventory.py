"""inventory: stock movements, levels, branch thresholds, transfers, counts

Revision ID: 0002_inventory
Revises: 0001_core
Create Date: 2026-11-21 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_inventory"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "category_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_stock_counts_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name=op.f("fk_stock_counts_category_id_categories")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_counts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
    )
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_counts_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_counts_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "stock_transfers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source_branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "destination_branch_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_branch_id"],
            ["branches.id"],
            name=op.f("fk_stock_transfers_destination_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["source_branch_id"],
            ["branches.id"],
            name=op.f("fk_stock_transfers_source_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_transfers_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfers")),
    )
    with op.batch_alter_table("stock_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_transfers_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_transfers_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "branch_product_settings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("low_stock_threshold", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("reorder_quantity", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_branch_product_settings_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_branch_product_settings_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_branch_product_settings_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branch_product_settings")),
        sa.UniqueConstraint(
            "tenant_id",
            "branch_id",
            "product_id",
            name=op.f("uq_branch_product_settings_tenant_id_branch_id_product_id"),
        ),
    )
    with op.batch_alter_table("branch_product_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_branch_product_settings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "stock_count_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("count_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("counted", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("expected", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["count_id"],
            ["stock_counts.id"],
            name=op.f("fk_stock_count_lines_count_id_stock_counts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_count_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_count_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lines")),
        sa.UniqueConstraint(
            "count_id", "product_id", name=op.f("uq_stock_count_lines_count_id_product_id")
        ),
    )
    with op.batch_alter_table("stock_count_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_count_lines_count_id"), ["count_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_count_lines_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "stock_levels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("on_hand", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("reserved", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_stock_levels_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_levels_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_levels_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_levels")),
        sa.UniqueConstraint(
            "tenant_id",
            "branch_id",
            "product_id",
            name=op.f("uq_stock_levels_tenant_id_branch_id_product_id"),
        ),
    )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_levels_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_levels_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_levels_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_stock_movements_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_stock_movements_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_movements_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("uuid", name=op.f("uq_stock_movements_uuid")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stock_movements_level", ["tenant_id", "branch_id", "product_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_stock_movements_reference",
            ["tenant_id", "reference_type", "reference_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_stock_movements_tenant_occurred", ["tenant_id", "occurred_at"], unique=False
        )

    op.create_table(
        "stock_transfer_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("received_quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("discrepancy", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_transfer_lines_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_stock_transfer_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["stock_transfers.id"],
            name=op.f("fk_stock_transfer_lines_transfer_id_stock_transfers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_transfer_lines")),
        sa.UniqueConstraint(
            "transfer_id", "product_id", name=op.f("uq_stock_transfer_lines_transfer_id_product_id")
        ),
    )
    with op.batch_alter_table("stock_transfer_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_transfer_lines_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_transfer_lines_transfer_id"), ["transfer_id"], unique=False
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("stock_transfer_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_transfer_lines_transfer_id"))
        batch_op.drop_index(batch_op.f("ix_stock_transfer_lines_tenant_id"))

    op.drop_table("stock_transfer_lines")
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_tenant_occurred")
        batch_op.drop_index(batch_op.f("ix_stock_movements_tenant_id"))
        batch_op.drop_index("ix_stock_movements_reference")
        batch_op.drop_index("ix_stock_movements_level")

    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_levels_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_stock_levels_product_id"))
        batch_op.drop_index(batch_op.f("ix_stock_levels_branch_id"))

    op.drop_table("stock_levels")
    with op.batch_alter_table("stock_count_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_count_lines_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_stock_count_lines_count_id"))

    op.drop_table("stock_count_lines")
    with op.batch_alter_table("branch_product_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branch_product_settings_tenant_id"))

    op.drop_table("branch_product_settings")
    with op.batch_alter_table("stock_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_transfers_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_stock_transfers_status"))

    op.drop_table("stock_transfers")
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_counts_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_stock_counts_branch_id"))

    op.drop_table("stock_counts")
