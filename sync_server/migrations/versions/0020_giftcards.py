"""customer programs: gift cards and store credit, loyalty points (ledgers), held sales, e-receipt consents, order pickups, layaways

Revision ID: 0020_giftcards
Revises: 0019_products

New tables only, so it is self-contained and can be re-chained after any other 0017.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_giftcards"
down_revision: str | Sequence[str] | None = "0019_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipt_consents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("consent_text", sa.String(length=300), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("notification_id", sa.BigInteger(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_receipt_consents_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_consents")),
        sa.UniqueConstraint(
            "tenant_id", "request_id", name=op.f("uq_receipt_consents_tenant_id_request_id")
        ),
    )
    with op.batch_alter_table("receipt_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_receipt_consents_tenant_email", ["tenant_id", "email"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_receipt_consents_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "gift_cards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=True),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("offline_limit", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_gift_cards_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_gift_cards_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_cards")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_gift_cards_tenant_id_number")),
    )
    with op.batch_alter_table("gift_cards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gift_cards_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_gift_cards_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "held_sales",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hold_id", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("cashier_id", sa.BigInteger(), nullable=True),
        sa.Column("cart", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recalled_by", sa.String(length=64), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_held_sales_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_held_sales_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_sales")),
        sa.UniqueConstraint("tenant_id", "hold_id", name=op.f("uq_held_sales_tenant_id_hold_id")),
    )
    with op.batch_alter_table("held_sales", schema=None) as batch_op:
        batch_op.create_index(
            "ix_held_sales_tenant_branch_status", ["tenant_id", "branch_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_held_sales_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "gift_card_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("overdrawn", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["gift_cards.id"], name=op.f("fk_gift_card_entries_card_id_gift_cards")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_gift_card_entries_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_card_entries")),
        sa.UniqueConstraint(
            "tenant_id",
            "card_id",
            "kind",
            "reference_id",
            name=op.f("uq_gift_card_entries_tenant_id_card_id_kind_reference_id"),
        ),
    )
    with op.batch_alter_table("gift_card_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_gift_card_entries_tenant_card", ["tenant_id", "card_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_gift_card_entries_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "loyalty_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_accounts_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_loyalty_accounts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_accounts")),
        sa.UniqueConstraint(
            "tenant_id", "customer_id", name=op.f("uq_loyalty_accounts_tenant_id_customer_id")
        ),
    )
    with op.batch_alter_table("loyalty_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loyalty_accounts_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("reference_type", sa.String(length=32), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("overdrawn", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loyalty_entries_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_loyalty_entries_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "kind",
            "reference_id",
            name=op.f("uq_loyalty_entries_tenant_id_customer_id_kind_reference_id"),
        ),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_entries_tenant_customer", ["tenant_id", "customer_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_loyalty_entries_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "order_pickups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_by", sa.String(length=120), nullable=True),
        sa.Column("paid_at_till", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("payment_method", sa.String(length=16), nullable=False),
        sa.Column("payment_reference", sa.String(length=120), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_order_pickups_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_pickups_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_pickups_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_pickups")),
        sa.UniqueConstraint(
            "tenant_id", "order_id", name=op.f("uq_order_pickups_tenant_id_order_id")
        ),
    )
    with op.batch_alter_table("order_pickups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_pickups_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "layaways",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("paid", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("credit_number", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_layaways_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_layaways_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_layaways_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layaways")),
        sa.UniqueConstraint("tenant_id", "uuid", name=op.f("uq_layaways_tenant_id_uuid")),
    )
    with op.batch_alter_table("layaways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_layaways_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "layaway_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "layaway_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("payment_uuid", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["layaway_id"], ["layaways.id"], name=op.f("fk_layaway_payments_layaway_id_layaways")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_layaway_payments_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layaway_payments")),
        sa.UniqueConstraint(
            "tenant_id", "payment_uuid", name=op.f("uq_layaway_payments_tenant_id_payment_uuid")
        ),
    )
    with op.batch_alter_table("layaway_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_layaway_payments_layaway_id"), ["layaway_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_layaway_payments_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("layaway_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_layaway_payments_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_layaway_payments_layaway_id"))

    op.drop_table("layaway_payments")
    with op.batch_alter_table("layaways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_layaways_tenant_id"))

    op.drop_table("layaways")

    with op.batch_alter_table("order_pickups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_pickups_tenant_id"))

    op.drop_table("order_pickups")

    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_entries_tenant_id"))
        batch_op.drop_index("ix_loyalty_entries_tenant_customer")

    op.drop_table("loyalty_entries")
    with op.batch_alter_table("loyalty_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_accounts_tenant_id"))

    op.drop_table("loyalty_accounts")

    with op.batch_alter_table("gift_card_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gift_card_entries_tenant_id"))
        batch_op.drop_index("ix_gift_card_entries_tenant_card")

    op.drop_table("gift_card_entries")
    with op.batch_alter_table("held_sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_sales_tenant_id"))
        batch_op.drop_index("ix_held_sales_tenant_branch_status")

    op.drop_table("held_sales")
    with op.batch_alter_table("gift_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gift_cards_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_gift_cards_customer_id"))

    op.drop_table("gift_cards")
    with op.batch_alter_table("receipt_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_consents_tenant_id"))
        batch_op.drop_index("ix_receipt_consents_tenant_email")

    op.drop_table("receipt_consents")
