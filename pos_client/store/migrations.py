"""Versioned local schema: PRAGMA user_version says which steps have run."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from pos_client.store import programs, sent_log
from pos_client.store.models import LineTaxRow, LocalBase, Pack, TaxDocument


def _v1(conn: Connection) -> None:
    LocalBase.metadata.create_all(conn)


def _v2(conn: Connection) -> None:
    # A store made by _v1 of this release already has the column (create_all uses the models).
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(sync_state)")}
    if "offline_since" not in columns:
        conn.exec_driver_sql("ALTER TABLE sync_state ADD COLUMN offline_since DATETIME")


def _v3(conn: Connection) -> None:
    # The acknowledged events a restored server may need again (see store/sent_log.py).
    sent_log.SentEvent.__table__.create(conn, checkfirst=True)


def _v4(conn: Connection) -> None:
    # Tax: the product's class and HSN, a customer's GSTIN, and the tax of each document.
    for table, column, ddl in (
        ("products", "tax_class_id", "INTEGER"),
        ("products", "hsn", "VARCHAR(8) NOT NULL DEFAULT ''"),
        ("customers", "tax_number", "VARCHAR(40) NOT NULL DEFAULT ''"),
    ):
        columns = {row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")}
        if column not in columns:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
    LocalBase.metadata.create_all(conn, tables=[TaxDocument.__table__, LineTaxRow.__table__])


def _v5(conn: Connection) -> None:
    # Pack barcodes (a case of 12) and variants' templates; products pulled before have
    # none until the server sends them again.
    Pack.__table__.create(conn, checkfirst=True)
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(products)")}
    for name, kind in (
        ("template_id", "INTEGER"),
        ("template_name", "VARCHAR(200)"),
        ("variant", "VARCHAR(200)"),
    ):
        if name not in columns:
            conn.exec_driver_sql(f"ALTER TABLE products ADD COLUMN {name} {kind}")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_products_template_id ON products (template_id)"
    )


def _v6(conn: Connection) -> None:
    # Customer programs: gift cards as last seen, held carts (new tables only).
    programs.create_tables(conn)


# Append a step for every schema change; never edit a step that has shipped.
STEPS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6]
SCHEMA_VERSION = len(STEPS)


def migrate(conn: Connection) -> int:
    """Run the steps this file has not seen yet, in the caller's transaction."""
    current = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
    if current > SCHEMA_VERSION:
        raise RuntimeError(
            f"The local store has schema {current}, newer than this till ({SCHEMA_VERSION})."
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        STEPS[version - 1](conn)
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
    return SCHEMA_VERSION
