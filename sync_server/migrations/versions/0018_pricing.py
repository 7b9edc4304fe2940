"""pricing rules: price lists and promotions; promotion discounts on order and request lines

Revision ID: 0018_pricing
Revises: 0017_tax
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_pricing"
down_revision: str | Sequence[str] | None = "0017_tax"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pricing_rules",
        sa.Column("id", _ID, nullable=False),
        sa.Column("rule_type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("coupon_code", sa.String(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pricing_rules_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pricing_rules")),
    )
    with op.batch_alter_table("pricing_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pricing_rules_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "ix_pricing_rules_tenant_type_active",
            ["tenant_id", "rule_type", "active"],
            unique=False,
        )
    op.create_table(
        "coupon_redemptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("promotion_id", _ID, nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("sale_uuid", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("within_limit", sa.Boolean(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["pricing_rules.id"],
            name=op.f("fk_coupon_redemptions_promotion_id_pricing_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_coupon_redemptions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_redemptions")),
        sa.UniqueConstraint(
            "tenant_id",
            "sale_uuid",
            "code",
            name=op.f("uq_coupon_redemptions_tenant_id_sale_uuid_code"),
        ),
    )
    with op.batch_alter_table("coupon_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coupon_redemptions_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_coupon_redemptions_promotion_id"), ["promotion_id"], unique=False
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price_group", sa.String(length=40), nullable=True))
    # Lines written before the engine had no promotions: their discount is zero.
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discount", sa.Numeric(14, 4), nullable=False, server_default="0")
        )
    with op.batch_alter_table("sales_request_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("promo_discount", sa.Numeric(14, 4), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("price_group")
    with op.batch_alter_table("sales_request_lines", schema=None) as batch_op:
        batch_op.drop_column("promo_discount")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("discount")
    with op.batch_alter_table("coupon_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coupon_redemptions_promotion_id"))
        batch_op.drop_index(batch_op.f("ix_coupon_redemptions_tenant_id"))
    op.drop_table("coupon_redemptions")
    with op.batch_alter_table("pricing_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_pricing_rules_tenant_type_active")
        batch_op.drop_index(batch_op.f("ix_pricing_rules_tenant_id"))
    op.drop_table("pricing_rules")
