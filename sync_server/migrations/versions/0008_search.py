"""search: product search documents with FTS5 (SQLite) or pg_trgm (PostgreSQL)

Revision ID: 0008_search
Revises: 0007_orders
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_search"
down_revision: str | Sequence[str] | None = "0007_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_search_docs",
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("document", sa.String(length=8000), nullable=False),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_search_docs_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_product_search_docs_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_search_docs")),
    )
    op.create_index(
        op.f("ix_product_search_docs_tenant_id"), "product_search_docs", ["tenant_id"], unique=False
    )
    if op.get_bind().dialect.name == "sqlite":
        # External-content FTS5 over the docs table; triggers keep it in step.
        op.execute(
            "CREATE VIRTUAL TABLE product_search_fts USING fts5(document, "
            "content='product_search_docs', content_rowid='product_id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER product_search_fts_ai AFTER INSERT ON product_search_docs BEGIN "
            "INSERT INTO product_search_fts(rowid, document) "
            "VALUES (new.product_id, new.document); END"
        )
        op.execute(
            "CREATE TRIGGER product_search_fts_ad AFTER DELETE ON product_search_docs BEGIN "
            "INSERT INTO product_search_fts(product_search_fts, rowid, document) "
            "VALUES ('delete', old.product_id, old.document); END"
        )
        op.execute(
            "CREATE TRIGGER product_search_fts_au AFTER UPDATE ON product_search_docs BEGIN "
            "INSERT INTO product_search_fts(product_search_fts, rowid, document) "
            "VALUES ('delete', old.product_id, old.document); "
            "INSERT INTO product_search_fts(rowid, document) "
            "VALUES (new.product_id, new.document); END"
        )
        barcodes = (
            "(SELECT group_concat(code, ' ') FROM product_barcodes b WHERE b.product_id = p.id)"
        )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_product_search_trgm ON product_search_docs "
            "USING gin (document gin_trgm_ops)"
        )
        barcodes = (
            "(SELECT string_agg(code, ' ') FROM product_barcodes b WHERE b.product_id = p.id)"
        )
    # Products that existed before this migration get their documents now.
    op.execute(
        "INSERT INTO product_search_docs (product_id, tenant_id, document) "
        "SELECT p.id, p.tenant_id, lower(p.name || ' ' || p.sku || ' ' || "
        f"coalesce({barcodes}, '') || ' ' || coalesce(c.name, '')) "
        "FROM products p LEFT JOIN categories c ON c.id = p.category_id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS product_search_fts")
    op.drop_table("product_search_docs")
