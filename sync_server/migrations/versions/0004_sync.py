"""sync: tills (devices, enrolment codes), pushed events, dead letters, till sales documents

Revision ID: 0004_sync
Revises: 0003_notifications
Create Date: 2026-11-21 07:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sync"
down_revision: str | Sequence[str] | None = "0003_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "sync_dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_note", sa.String(length=500), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sync_dead_letters_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_dead_letters")),
    )
    op.create_index(
        op.f("ix_sync_dead_letters_tenant_id"), "sync_dead_letters", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_sync_dead_letters_tenant_resolved",
        "sync_dead_letters",
        ["tenant_id", "resolved_at"],
        unique=False,
    )
    op.create_table(
        "sync_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sync_events_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_events")),
        sa.UniqueConstraint(
            "tenant_id", "event_id", name=op.f("uq_sync_events_tenant_id_event_id")
        ),
    )
    op.create_index(op.f("ix_sync_events_device_id"), "sync_events", ["device_id"], unique=False)
    op.create_index(op.f("ix_sync_events_tenant_id"), "sync_events", ["tenant_id"], unique=False)
    op.create_table(
        "device_enrolment_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_device_enrolment_codes_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_device_enrolment_codes_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_enrolment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_device_enrolment_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_device_enrolment_codes_tenant_id"),
        "device_enrolment_codes",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt_prefix", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_devices_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_devices_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint(
            "tenant_id", "receipt_prefix", name=op.f("uq_devices_tenant_id_receipt_prefix")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
    )
    op.create_index(op.f("ix_devices_branch_id"), "devices", ["branch_id"], unique=False)
    op.create_index(op.f("ix_devices_tenant_id"), "devices", ["tenant_id"], unique=False)
    op.create_table(
        "sale_returns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("original_sale_uuid", sa.String(length=36), nullable=True),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("shift_uuid", sa.String(length=36), nullable=True),
        sa.Column("cashier_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("total", sa.Numeric(14, 4), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("refunds", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_sale_returns_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sale_returns_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sale_returns_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_returns")),
        sa.UniqueConstraint(
            "tenant_id", "receipt_number", name=op.f("uq_sale_returns_tenant_id_receipt_number")
        ),
        sa.UniqueConstraint("tenant_id", "uuid", name=op.f("uq_sale_returns_tenant_id_uuid")),
    )
    op.create_index(
        op.f("ix_sale_returns_original_sale_uuid"),
        "sale_returns",
        ["original_sale_uuid"],
        unique=False,
    )
    op.create_index(op.f("ix_sale_returns_tenant_id"), "sale_returns", ["tenant_id"], unique=False)
    op.create_table(
        "sales",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("shift_uuid", sa.String(length=36), nullable=True),
        sa.Column("cashier_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("subtotal", sa.Numeric(14, 4), nullable=False),
        sa.Column("discount_total", sa.Numeric(14, 4), nullable=False),
        sa.Column("tax_total", sa.Numeric(14, 4), nullable=False),
        sa.Column("total", sa.Numeric(14, 4), nullable=False),
        sa.Column("change_due", sa.Numeric(14, 4), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_sales_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sales_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint(
            "tenant_id", "receipt_number", name=op.f("uq_sales_tenant_id_receipt_number")
        ),
        sa.UniqueConstraint("tenant_id", "uuid", name=op.f("uq_sales_tenant_id_uuid")),
    )
    op.create_index(op.f("ix_sales_customer_id"), "sales", ["customer_id"], unique=False)
    op.create_index(
        "ix_sales_tenant_branch_occurred",
        "sales",
        ["tenant_id", "branch_id", "occurred_at"],
        unique=False,
    )
    op.create_index(op.f("ix_sales_tenant_id"), "sales", ["tenant_id"], unique=False)
    op.create_table(
        "sync_customer_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("local_id", sa.String(length=36), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sync_customer_links_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sync_customer_links_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_customer_links")),
        sa.UniqueConstraint(
            "tenant_id", "local_id", name=op.f("uq_sync_customer_links_tenant_id_local_id")
        ),
    )
    op.create_index(
        op.f("ix_sync_customer_links_tenant_id"), "sync_customer_links", ["tenant_id"], unique=False
    )
    op.create_table(
        "till_cash_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("shift_uuid", sa.String(length=36), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(14, 4), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("cashier_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_till_cash_movements_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_till_cash_movements_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_till_cash_movements")),
        sa.UniqueConstraint(
            "tenant_id", "uuid", name=op.f("uq_till_cash_movements_tenant_id_uuid")
        ),
    )
    op.create_index(
        op.f("ix_till_cash_movements_tenant_id"), "till_cash_movements", ["tenant_id"], unique=False
    )
    op.create_table(
        "till_shifts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("cashier_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opening_float", sa.Numeric(14, 4), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counted_cash", sa.Numeric(14, 4), nullable=True),
        sa.Column("expected_cash", sa.Numeric(14, 4), nullable=True),
        sa.Column("variance", sa.Numeric(14, 4), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_till_shifts_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_till_shifts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_till_shifts")),
        sa.UniqueConstraint("tenant_id", "uuid", name=op.f("uq_till_shifts_tenant_id_uuid")),
    )
    op.create_index(op.f("ix_till_shifts_tenant_id"), "till_shifts", ["tenant_id"], unique=False)
    op.create_table(
        "sale_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("unit_price", sa.Numeric(14, 4), nullable=False),
        sa.Column("discount", sa.Numeric(14, 4), nullable=False),
        sa.Column("tax_rate", sa.Numeric(14, 4), nullable=False),
        sa.Column("tax", sa.Numeric(14, 4), nullable=False),
        sa.Column("total", sa.Numeric(14, 4), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sale_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_sale_lines_sale_id_sales")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sale_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_lines")),
    )
    op.create_index(op.f("ix_sale_lines_product_id"), "sale_lines", ["product_id"], unique=False)
    op.create_index(op.f("ix_sale_lines_sale_id"), "sale_lines", ["sale_id"], unique=False)
    op.create_index(op.f("ix_sale_lines_tenant_id"), "sale_lines", ["tenant_id"], unique=False)
    op.create_table(
        "sale_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sale_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payment_uuid", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.Numeric(14, 4), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sales.id"], name=op.f("fk_sale_payments_sale_id_sales")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sale_payments_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_payments")),
    )
    op.create_index(op.f("ix_sale_payments_sale_id"), "sale_payments", ["sale_id"], unique=False)
    op.create_index(
        op.f("ix_sale_payments_tenant_id"), "sale_payments", ["tenant_id"], unique=False
    )
    op.create_table(
        "sale_return_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "return_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_uuid", sa.String(length=36), nullable=False),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("amount", sa.Numeric(14, 4), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sale_return_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["sale_returns.id"],
            name=op.f("fk_sale_return_lines_return_id_sale_returns"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sale_return_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_return_lines")),
    )
    op.create_index(
        op.f("ix_sale_return_lines_return_id"), "sale_return_lines", ["return_id"], unique=False
    )
    op.create_index(
        op.f("ix_sale_return_lines_tenant_id"), "sale_return_lines", ["tenant_id"], unique=False
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_sale_return_lines_tenant_id"), table_name="sale_return_lines")
    op.drop_index(op.f("ix_sale_return_lines_return_id"), table_name="sale_return_lines")
    op.drop_table("sale_return_lines")
    op.drop_index(op.f("ix_sale_payments_tenant_id"), table_name="sale_payments")
    op.drop_index(op.f("ix_sale_payments_sale_id"), table_name="sale_payments")
    op.drop_table("sale_payments")
    op.drop_index(op.f("ix_sale_lines_tenant_id"), table_name="sale_lines")
    op.drop_index(op.f("ix_sale_lines_sale_id"), table_name="sale_lines")
    op.drop_index(op.f("ix_sale_lines_product_id"), table_name="sale_lines")
    op.drop_table("sale_lines")
    op.drop_index(op.f("ix_till_shifts_tenant_id"), table_name="till_shifts")
    op.drop_table("till_shifts")
    op.drop_index(op.f("ix_till_cash_movements_tenant_id"), table_name="till_cash_movements")
    op.drop_table("till_cash_movements")
    op.drop_index(op.f("ix_sync_customer_links_tenant_id"), table_name="sync_customer_links")
    op.drop_table("sync_customer_links")
    op.drop_index(op.f("ix_sales_tenant_id"), table_name="sales")
    op.drop_index("ix_sales_tenant_branch_occurred", table_name="sales")
    op.drop_index(op.f("ix_sales_customer_id"), table_name="sales")
    op.drop_table("sales")
    op.drop_index(op.f("ix_sale_returns_tenant_id"), table_name="sale_returns")
    op.drop_index(op.f("ix_sale_returns_original_sale_uuid"), table_name="sale_returns")
    op.drop_table("sale_returns")
    op.drop_index(op.f("ix_devices_tenant_id"), table_name="devices")
    op.drop_index(op.f("ix_devices_branch_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_index(op.f("ix_device_enrolment_codes_tenant_id"), table_name="device_enrolment_codes")
    op.drop_table("device_enrolment_codes")
    op.drop_index(op.f("ix_sync_events_tenant_id"), table_name="sync_events")
    op.drop_index(op.f("ix_sync_events_device_id"), table_name="sync_events")
    op.drop_table("sync_events")
    op.drop_index("ix_sync_dead_letters_tenant_resolved", table_name="sync_dead_letters")
    op.drop_index(op.f("ix_sync_dead_letters_tenant_id"), table_name="sync_dead_letters")
    op.drop_table("sync_dead_letters")
