"""reports: product and tender day summaries and monthly stock snapshots, kept by the server

Revision ID: 0022_report_rollups
Revises: 0021_order_lookups

The two new summaries share the daily sales summary's watermark, so the watermark goes
back to zero and the daily summary is emptied: the server's summary keeper sums every
sale again, all three tables together, in short steps after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_report_rollups"
down_revision: str | Sequence[str] | None = "0021_order_lookups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _common(table: str, key: tuple[str, ...] = ("id",)) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f(f"fk_{table}_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    # Keyed (and on SQLite stored) in the order reports read them: see reports/models.py.
    op.create_table(
        "report_product_daily",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("is_return", sa.Integer(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=4), nullable=False),
        *_common(
            "report_product_daily",
            ("tenant_id", "day", "branch_id", "product_id", "channel", "is_return"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_report_product_daily_product_id_products"),
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_report_product_daily_tenant_id"),
        "report_product_daily",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "report_tender_daily",
        sa.Column("id", ID, nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("cashier_id", sa.BigInteger(), nullable=False),
        sa.Column("tender", sa.String(length=16), nullable=False),
        sa.Column("payments", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=4), nullable=False),
        *_common("report_tender_daily"),
        sa.UniqueConstraint(
            "tenant_id",
            "day",
            "branch_id",
            "channel",
            "cashier_id",
            "tender",
            name="uq_report_tender_daily_key",
        ),
    )
    op.create_index(
        op.f("ix_report_tender_daily_tenant_id"),
        "report_tender_daily",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "report_stock_snapshots",
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("receipt_quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("receipt_value", sa.Numeric(precision=14, scale=4), nullable=False),
        *_common("report_stock_snapshots", ("tenant_id", "as_of", "branch_id", "product_id")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_report_stock_snapshots_product_id_products"),
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_report_stock_snapshots_tenant_id"),
        "report_stock_snapshots",
        ["tenant_id"],
        unique=False,
    )
    with op.batch_alter_table("report_summary_state") as batch:
        batch.add_column(
            sa.Column("movement_id_through", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("snapshot_from", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("snapshot_through", sa.DateTime(timezone=True), nullable=True))
    # Start every tenant's summaries again from the first sale (see the module doc).
    op.execute("DELETE FROM report_sales_daily")
    op.execute("UPDATE report_summary_state SET sale_id_through = 0, return_id_through = 0")


def downgrade() -> None:
    with op.batch_alter_table("report_summary_state") as batch:
        batch.drop_column("snapshot_through")
        batch.drop_column("snapshot_from")
        batch.drop_column("movement_id_through")
    for table in ("report_stock_snapshots", "report_tender_daily", "report_product_daily"):
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        op.drop_table(table)
