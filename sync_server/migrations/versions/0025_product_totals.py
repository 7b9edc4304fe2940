"""reports: product totals at each month start; a partial index of sales not completed

Revision ID: 0025_product_totals
Revises: 0024_po_tax_supplier_prices

The summary keeper builds the totals from the product day summary after the upgrade, one
month per transaction; until then best sellers read the day summary as before. Reports find
the summed sales voided since through the partial index (about one sale in a hundred)
instead of walking every sale header of the range. The stock snapshots lose their index of
the tenant alone, which their primary key leads with.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_product_totals"
down_revision: str | Sequence[str] | None = "0024_po_tax_supplier_prices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOT_COMPLETED = "status <> 'completed'"


def upgrade() -> None:
    # Keyed (and on SQLite stored) in the order the reports read it: see reports/models.py.
    op.create_table(
        "report_product_totals",
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("is_return", sa.Integer(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_report_product_totals_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_report_product_totals_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "as_of",
            "product_id",
            "channel",
            "is_return",
            name=op.f("pk_report_product_totals"),
        ),
        sqlite_with_rowid=False,
    )
    # The snapshots' primary key leads with the tenant: SQLite read a month of them through
    # this index, one primary-key lookup per row, instead of sweeping the key's range.
    op.drop_index(op.f("ix_report_stock_snapshots_tenant_id"), table_name="report_stock_snapshots")
    op.create_index(
        "ix_sales_not_completed",
        "sales",
        ["tenant_id", "occurred_at"],
        unique=False,
        sqlite_where=sa.text(NOT_COMPLETED),
        postgresql_where=sa.text(NOT_COMPLETED),
    )
    with op.batch_alter_table("report_summary_state") as batch:
        batch.add_column(sa.Column("totals_from", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("totals_through", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_summary_state") as batch:
        batch.drop_column("totals_through")
        batch.drop_column("totals_from")
    op.drop_index("ix_sales_not_completed", table_name="sales")
    op.create_index(
        op.f("ix_report_stock_snapshots_tenant_id"),
        "report_stock_snapshots",
        ["tenant_id"],
        unique=False,
    )
    op.drop_table("report_product_totals")
