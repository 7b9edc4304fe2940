"""wholesale: sales requests and their lines

Revision ID: 0006_wholesale
Revises: 0005_purchasing
Create Date: 2026-11-21 08:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_wholesale"
down_revision: str | Sequence[str] | None = "0005_purchasing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "branch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("payment_terms", sa.String(length=16), nullable=False),
        sa.Column("order_discount_percent", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("gross_total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("discount_total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("tax_total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_by_name", sa.String(length=120), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_by_name", sa.String(length=120), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.String(length=1000), nullable=False),
        sa.Column("invoice_number", sa.String(length=40), nullable=True),
        sa.Column("invoiced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "credit_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_sales_requests_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["credit_entry_id"],
            ["credit_entries.id"],
            name=op.f("fk_sales_requests_credit_entry_id_credit_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_sales_requests_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sales_requests_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_requests")),
        sa.UniqueConstraint(
            "tenant_id", "invoice_number", name=op.f("uq_sales_requests_tenant_id_invoice_number")
        ),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_sales_requests_tenant_id_number")),
    )
    op.create_index(
        "ix_sales_requests_tenant_customer",
        "sales_requests",
        ["tenant_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_requests_tenant_id"), "sales_requests", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_sales_requests_tenant_status", "sales_requests", ["tenant_id", "status"], unique=False
    )
    op.create_table(
        "sales_request_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "sales_request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("discount_percent", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("tax_rate", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("gross", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("net", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("tax", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_sales_request_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["sales_request_id"],
            ["sales_requests.id"],
            name=op.f("fk_sales_request_lines_sales_request_id_sales_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sales_request_lines_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_request_lines")),
    )
    op.create_index(
        op.f("ix_sales_request_lines_product_id"),
        "sales_request_lines",
        ["product_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_request_lines_sales_request_id"),
        "sales_request_lines",
        ["sales_request_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_request_lines_tenant_id"), "sales_request_lines", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sales_request_lines_tenant_id"), table_name="sales_request_lines")
    op.drop_index(op.f("ix_sales_request_lines_sales_request_id"), table_name="sales_request_lines")
    op.drop_index(op.f("ix_sales_request_lines_product_id"), table_name="sales_request_lines")
    op.drop_table("sales_request_lines")
    op.drop_index("ix_sales_requests_tenant_status", table_name="sales_requests")
    op.drop_index(op.f("ix_sales_requests_tenant_id"), table_name="sales_requests")
    op.drop_index("ix_sales_requests_tenant_customer", table_name="sales_requests")
    op.drop_table("sales_requests")
