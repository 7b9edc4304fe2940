"""Versioned local schema: PRAGMA user_version says which steps have run."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from pos_client.store import programs
from pos_client.store.models import LocalBase


def _v1(conn: Connection) -> None:
    LocalBase.metadata.create_all(conn)


def _v2(conn: Connection) -> None:
    # A store made by _v1 of this release already has the column (create_all uses the models).
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(sync_state)")}
    if "offline_since" not in columns:
        conn.exec_driver_sql("ALTER TABLE sync_state ADD COLUMN offline_since DATETIME")


def _v3(conn: Connection) -> None:
    # Customer programs: gift cards as last seen, held carts (new tables only).
    programs.create_tables(conn)


# Append a step for every schema change; never edit a step that has shipped.
STEPS: list[Callable[[Connection], None]] = [_v1, _v2, _v3]
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
