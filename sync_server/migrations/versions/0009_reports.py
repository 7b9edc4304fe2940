"""reports: the daily sales summary and how far it goes

Revision ID: 0009_reports
Revises: 0008_search
Create Date: 2026-11-21 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_reports"
down_revision: str | Sequence[str] | None = "0008_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_summary_state",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sale_id_through", sa.BigInteger(), nullable=False),
        sa.Column("return_id_through", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_report_summary_state_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_summary_state")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_report_summary_state_tenant_id")),
    )
    op.create_index(
        op.f("ix_report_summary_state_tenant_id"),
        "report_summary_state",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "report_sales_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("cashier_id", sa.BigInteger(), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("discounts", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("tax", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("cost", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("returns", sa.BigInteger(), nullable=False),
        sa.Column("returned_quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("returned_amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_report_sales_daily_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_report_sales_daily_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_sales_daily")),
        sa.UniqueConstraint(
            "tenant_id",
            "day",
            "branch_id",
            "channel",
            "cashier_id",
            name="uq_report_sales_daily_key",
        ),
    )
    op.create_index(
        op.f("ix_report_sales_daily_tenant_id"), "report_sales_daily", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_report_sales_daily_tenant_id"), table_name="report_sales_daily")
    op.drop_table("report_sales_daily")
    op.drop_index(op.f("ix_report_summary_state_tenant_id"), table_name="report_summary_state")
    op.drop_table("report_summary_state")
