"""credit: the customer credit ledger

Revision ID: 0003_credit
Revises: 0002_inventory
Create Date: 2026-11-21 07:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_credit"
down_revision: str | Sequence[str] | None = "0002_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("open_amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("allocations", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credit_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_credit_entries_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entries")),
    )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_entries_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_credit_entries_tenant_customer_created",
            ["tenant_id", "customer_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_credit_entries_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_credit_entries_tenant_reference",
            ["tenant_id", "reference_type", "reference_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_entries_tenant_reference")
        batch_op.drop_index(batch_op.f("ix_credit_entries_tenant_id"))
        batch_op.drop_index("ix_credit_entries_tenant_customer_created")
        batch_op.drop_index(batch_op.f("ix_credit_entries_customer_id"))

    op.drop_table("credit_entries")
