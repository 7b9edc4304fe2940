"""Plain SQL for the sale's critical path, with values bound exactly as the ORM binds them.

A durable sale must cost little more than the disk's fsync (DESIGN: ≤ 3× a bare SQLite
transaction). Building ORM objects or Core statements for every row costs more than writing
them, so the few statements of a sale are prepared once as SQL text. Each value still goes
through its column type's own bind processor (DecimalText, UtcDateTime, JSON), so what is
stored is byte for byte what the ORM would have stored and reads back the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table

Processor = Callable[[Any], Any] | None


class PreparedWrite:
    """One INSERT or UPDATE of chosen columns, its SQL built once, its values bound by type."""

    def __init__(self, table: Table, *, columns: Sequence[str], key: str | None = None) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.key = key
        if key is None:
            marks = ", ".join("?" for _ in self.columns)
            self.sql = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({marks})"
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
            found = tuple(self.table.c[c].type.bind_processor(dialect) for c in self._bound)
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
            connection.exec_driver_sql(self.sql, params[0])
        else:
            connection.exec_driver_sql(self.sql, params)
