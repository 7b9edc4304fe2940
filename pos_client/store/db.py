"""Open the till's SQLite file: WAL, synchronous=FULL, schema migrated on open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from pos_client.store.migrations import migrate


class LocalStore:
    """The till's database; every write transaction takes the write lock at BEGIN."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(f"sqlite:///{self.path}")
        _configure(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self.engine.begin() as conn:
            self.schema_version = migrate(conn)

    def session(self) -> Session:
        """Return a new session (the caller begins and ends its transactions)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Run a block in one durable transaction: it commits only if the block succeeds."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _configure(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not the driver, say when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a sale the cashier saw as complete survives a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: the sync thread and the till never
        # deadlock upgrading a read lock to a write lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
