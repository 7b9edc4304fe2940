"""purchasing: supplier confirmation and shipment of purchase orders

Revision ID: 0012_po_shipping
Revises: 0011_sms
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_po_shipping"
down_revision: str | Sequence[str] | None = "0011_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("expected_arrival", sa.Date(), nullable=True))
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirmed_quantity", sa.Numeric(precision=14, scale=3), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_column("confirmed_quantity")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        for column in (
            "expected_arrival",
            "tracking_number",
            "carrier",
            "shipped_at",
            "confirmed_date",
            "confirmed_at",
            "sent_at",
        ):
            batch_op.drop_column(column)
