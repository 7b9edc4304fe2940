"""notifications: customers' SMS opt-ins

Revision ID: 0011_sms
Revises: 0010_ratelimit
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_sms"
down_revision: str | Sequence[str] | None = "0010_ratelimit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_opt_ins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sms_opt_ins_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sms_opt_ins_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_opt_ins")),
        sa.UniqueConstraint(
            "tenant_id", "customer_id", name=op.f("uq_sms_opt_ins_tenant_id_customer_id")
        ),
    )
    with op.batch_alter_table("sms_opt_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_opt_ins_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_opt_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_opt_ins_tenant_id"))
    op.drop_table("sms_opt_ins")
