"""tax: tax classes with components, HSN codes, branch tax identity, per-line tax detail

Revision ID: 0017_tax
Revises: 0016_audit_keys

Every product keeps the rate it had: each tenant gets one single-component class per rate
its products use ("TAX 18%", component TAX at 18% for every supply), and each product
points at its class. A manager later moves products to GST classes (CGST+SGST / IGST).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0017_tax"
down_revision: str | Sequence[str] | None = "0016_audit_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tax_classes",
        sa.Column("id", BIG, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", BIG, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tax_classes_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_classes")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_tax_classes_tenant_id_code")),
    )
    op.create_index(op.f("ix_tax_classes_tenant_id"), "tax_classes", ["tenant_id"])
    # Plain ALTER TABLE ADD COLUMN on both engines: a batch copy of products on SQLite
    # would drop a table every sale, movement and order line points at.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE products ADD COLUMN tax_class_id INTEGER "
            "CONSTRAINT fk_products_tax_class_id_tax_classes REFERENCES tax_classes (id)"
        )
    else:
        op.add_column("products", sa.Column("tax_class_id", BIG, nullable=True))
        op.create_foreign_key(
            op.f("fk_products_tax_class_id_tax_classes"),
            "products",
            "tax_classes",
            ["tax_class_id"],
            ["id"],
        )
    op.add_column(
        "products", sa.Column("hsn", sa.String(length=8), nullable=False, server_default="")
    )
    op.create_index(op.f("ix_products_tax_class_id"), "products", ["tax_class_id"])
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("gstin", sa.String(length=15), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("state", sa.String(length=60), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("state_code", sa.String(length=2), nullable=False, server_default="")
        )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("buyer_gstin", sa.String(length=15), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("buyer_state", sa.String(length=2), nullable=False, server_default="")
        )
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_detail", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("hsn", sa.String(length=8), nullable=False, server_default="")
        )
    with op.batch_alter_table("sale_return_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_detail", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tax", sa.Numeric(14, 4), nullable=False, server_default="0"))
    with op.batch_alter_table("order_return_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax", sa.Numeric(14, 4), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("tax_detail", sa.JSON(), nullable=True))
    with op.batch_alter_table("sales_request_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_detail", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("hsn", sa.String(length=8), nullable=False, server_default="")
        )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax", sa.Numeric(14, 4), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("tax_detail", sa.JSON(), nullable=True))
    _classes_for_existing_rates()


def _classes_for_existing_rates() -> None:
    """Give every rate a product uses a single-component class, and point products at it."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT DISTINCT tenant_id, tax_rate FROM products ORDER BY tenant_id, tax_rate")
    ).all()
    now = sa.func.now()
    classes = sa.table(
        "tax_classes",
        sa.column("tenant_id", BIG),
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("rates", sa.JSON),
        sa.column("active", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    for tenant_id, raw_rate in rows:
        rate = Decimal(str(raw_rate or 0)).normalize()
        text = f"{rate:f}"
        rates = [
            {
                "effective_from": "2000-01-01",
                "components": [{"code": "TAX", "rate": text, "scope": "always"}],
            }
        ]
        bind.execute(
            classes.insert().values(
                tenant_id=tenant_id,
                code=f"TAX{text}",
                name=f"Tax {text}%",
                rates=json.loads(json.dumps(rates)),
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
        class_id = bind.execute(
            sa.text("SELECT id FROM tax_classes WHERE tenant_id = :t AND code = :c"),
            {"t": tenant_id, "c": f"TAX{text}"},
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE products SET tax_class_id = :k WHERE tenant_id = :t AND tax_rate = :r"),
            {"k": class_id, "t": tenant_id, "r": raw_rate},
        )


def downgrade() -> None:
    with op.batch_alter_table("order_return_lines", schema=None) as batch_op:
        batch_op.drop_column("tax_detail")
        batch_op.drop_column("tax")
    with op.batch_alter_table("sales_request_lines", schema=None) as batch_op:
        batch_op.drop_column("hsn")
        batch_op.drop_column("tax_detail")
    with op.batch_alter_table("sale_return_lines", schema=None) as batch_op:
        batch_op.drop_column("tax")
        batch_op.drop_column("tax_detail")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("tax_detail")
        batch_op.drop_column("tax")
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.drop_column("hsn")
        batch_op.drop_column("tax_detail")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_column("buyer_state")
        batch_op.drop_column("buyer_gstin")
    with op.batch_alter_table("branches", schema=None) as batch_op:
        for column in ("state_code", "state", "gstin", "email"):
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_products_tax_class_id"), table_name="products")
    if op.get_bind().dialect.name == "sqlite":
        # Native DROP COLUMN, as the upgrade added them (see 0019_products).
        for column in ("hsn", "tax_class_id"):
            op.execute(f"ALTER TABLE products DROP COLUMN {column}")
    else:
        op.drop_constraint(
            op.f("fk_products_tax_class_id_tax_classes"), "products", type_="foreignkey"
        )
        for column in ("hsn", "tax_class_id"):
            op.drop_column("products", column)
    op.drop_index(op.f("ix_tax_classes_tenant_id"), table_name="tax_classes")
    op.drop_table("tax_classes")
