"""online orders: find a returning customer by e-mail through an index

Revision ID: 0021_order_lookups
Revises: 0020_giftcards

An online order matches its customer by lower(email) within the tenant; the plain
(tenant_id, email) index cannot serve a lower() comparison, so each order read every customer
of the tenant. An expression index, on both engines; the models do not know it (like the
search indexes), so sync_server/migrations/runner.py leaves it out of the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_order_lookups"
down_revision: str | Sequence[str] | None = "0020_giftcards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_customers_tenant_lower_email", "customers", ["tenant_id", sa.text("lower(email)")]
    )


def downgrade() -> None:
    op.drop_index("ix_customers_tenant_lower_email", table_name="customers")
