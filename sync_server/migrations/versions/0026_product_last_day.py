"""reports: each product's last summed sale and return day, for movers

Revision ID: 0026_product_last_day
Revises: 0025_product_totals

Filled here from the product day summary (which holds every summed sale up to the
watermark), so movers reads it right after the upgrade; the summary keeper keeps it from
then on, in the same transaction as each step of the day summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_product_last_day"
down_revision: str | Sequence[str] | None = "0025_product_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_product_last_day",
        sa.Column("product_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("is_return", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_report_product_last_day_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_report_product_last_day_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "product_id",
            "channel",
            "is_return",
            name=op.f("pk_report_product_last_day"),
        ),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO report_product_last_day (tenant_id, product_id, channel, is_return, day) "
        "SELECT tenant_id, product_id, channel, is_return, max(day) FROM report_product_daily "
        "GROUP BY tenant_id, product_id, channel, is_return"
    )


def downgrade() -> None:
    op.drop_table("report_product_last_day")
