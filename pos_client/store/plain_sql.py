"""Plain SQL for the till's critical paths, with values bound and read as the ORM does.

A durable sale must cost little more than the disk's fsync (DESIGN: ≤ 3× a bare SQLite
transaction). Building ORM objects or Core statements for every row costs more than writing
them, so the few statements of a sale are prepared once as SQL text and run on the driver's
own connection, inside the transaction SQLAlchemy began (sqlite3 caches the prepared
statement by its text). Each value still goes through its column type's own bind processor
(DecimalText, UtcDateTime, JSON), so what is stored is byte for byte what the ORM would have
stored and reads back the same way; a driver error is raised as SQLAlchemy's own exception
(IntegrityError…), as if SQLAlchemy had run the statement. A scan's lookup is read the
same way (`PreparedRead`): building, cache-keying and running ORM queries (the product,
then its stock, five of them for a case's code) cost ~380 µs a scan over 200k products,
against ~8 µs for the indexed lookup itself; one prepared statement, ~45 µs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.exc import DBAPIError

Processor = Callable[[Any], Any] | None


def run_sql(
    connection: Connection, sql: str, params: Sequence[Any] = (), *, many: bool = False
) -> Any:
    """Run SQL text on the driver's connection in the current transaction; return the cursor."""
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in a transaction is checked out and open
    try:
        if many:
            return driver.executemany(sql, params)
        return driver.execute(sql, params)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, params, exc, connection.dialect.loaded_dbapi.Error, dialect=connection.dialect
        ) from exc


class PreparedWrite:
    """One INSERT or UPDATE of chosen columns, its SQL built once, its values bound by type."""

    def __init__(
        self,
        table: Table,
        *,
        columns: Sequence[str],
        key: str | None = None,
        conflict: Sequence[str] = (),
        update: Sequence[str] = (),
    ) -> None:
        """Prepare an INSERT (an upsert on `conflict` setting `update`), or an UPDATE by key."""
        self.table = table
        self.columns = tuple(columns)
        self.key = key
        if key is None:
            marks = ", ".join("?" for _ in self.columns)
            self.sql = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({marks})"
            if conflict:
                sets = ", ".join(f"{c} = excluded.{c}" for c in update)
                self.sql += f" ON CONFLICT ({', '.join(conflict)}) DO " + (
                    f"UPDATE SET {sets}" if update else "NOTHING"
                )
            self._bound = self.columns
        else:
            sets = ", ".join(f"{c} = ?" for c in self.columns)
            self.sql = f"UPDATE {table.name} SET {sets} WHERE {key} = ?"
            self._bound = (*self.columns, key)
        self._processors: dict[str, tuple[Processor, ...]] = {}

    def _for(self, connection: Connection) -> tuple[Processor, ...]:
        dialect = connection.dialect
        found = self._processors.get(dialect.name)
        if found is None:
            # The dialect's own type (SQLite's DATETIME, not the generic DateTime) formats
            # values as SQLAlchemy stores them; the generic one would leave the driver's
            # deprecated default adapters to do it, differently.
            found = tuple(
                self.table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
                for c in self._bound
            )
            self._processors[dialect.name] = found
        return found

    def run(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Write the rows (one statement, executed once per row by the driver)."""
        if not rows:
            return
        processors = self._for(connection)
        params = [
            tuple(
                row[c] if p is None or row[c] is None else p(row[c])
                for c, p in zip(self._bound, processors, strict=True)
            )
            for row in rows
        ]
        if len(params) == 1:
            run_sql(connection, self.sql, params[0])
        else:
            run_sql(connection, self.sql, params, many=True)


class PreparedRead:
    """One SELECT, its SQL written once, each column read back by its column type.

    `columns` are the model columns the SELECT list names, in order: each value goes through
    the result processor SQLAlchemy would use for that column (DecimalText, JSON), so a row
    reads as the ORM would have read it.
    """

    def __init__(self, sql: str, *, columns: Sequence[Column[Any]]) -> None:
        """Prepare the statement; `columns` say how to read each selected value."""
        self.sql = sql
        self.columns = tuple(columns)
        self._processors: dict[str, tuple[Processor, ...]] = {}

    def _for(self, connection: Connection) -> tuple[Processor, ...]:
        dialect = connection.dialect
        found = self._processors.get(dialect.name)
        if found is None:
            found = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.columns
            )
            self._processors[dialect.name] = found
        return found

    def first(self, connection: Connection, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """Return the first row, each value read by its column's type, or None."""
        processors = self._for(connection)
        row = run_sql(connection, self.sql, params).fetchone()
        if row is None:
            return None
        return tuple(
            value if p is None else p(value) for value, p in zip(row, processors, strict=True)
        )
