"""Online backup and restore of the embedded SQLite database, safe while the server runs.

The till has the same routine in pos_client/backup.py; the two programs never import each
other, and the copy is small enough not to deserve a place in common/.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.errors import InvalidState, ValidationFailed
from common.sqlite_files import (
    LOCK_TIMEOUT,
    fsync_file,
    integrity_problems,
    is_healthy,
    move_aside,
)

# How long to wait for the server's write lock before giving up (seconds).


@dataclass(frozen=True)
class SqliteBackup:
    """A verified SQLite copy: where it is, its size, its tables with row counts."""

    path: Path
    size_bytes: int
    tables: dict[str, int]
    safety_copy: Path | None = None

    @property
    def rows(self) -> int:
        """Return the number of rows over all tables."""
        return sum(self.tables.values())


def _open(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open an existing database file; never create an empty one by mistake."""
    if not path.is_file():
        raise ValidationFailed(f"{path} does not exist")
    mode = "ro" if readonly else "rw"
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=LOCK_TIMEOUT)


def inspect(conn: sqlite3.Connection, *, what: Path) -> dict[str, int]:
    """Verify a StockPilot server database and return its tables with their row counts."""
    try:
        problems = integrity_problems(conn)
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    except sqlite3.DatabaseError as exc:
        raise ValidationFailed(f"{what} is not a readable SQLite database: {exc}") from exc
    if problems:
        raise InvalidState(f"{what} failed its integrity check: {'; '.join(problems[:3])}")
    if "alembic_version" not in counts:
        raise ValidationFailed(f"{what} is not a StockPilot server database (no alembic_version)")
    return counts


def backup(*, source: Path, target: Path) -> SqliteBackup:
    """Copy the live database at source into a standalone, verified file at target."""
    if target.resolve() == source.resolve():
        raise ValidationFailed("the backup file must not be the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = _open(source, readonly=False)
    try:
        dest = sqlite3.connect(partial)
        try:
            # pages=-1 copies every page in one step, i.e. one snapshot under one read
            # transaction; in WAL mode the server keeps writing meanwhile.
            src.backup(dest, pages=-1)
            # A backup is one self-contained file, whatever mode the live database runs in.
            dest.execute("PRAGMA journal_mode=DELETE")
            tables = inspect(dest, what=source)
        finally:
            dest.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    fsync_file(partial)
    os.replace(partial, target)
    return SqliteBackup(path=target, size_bytes=target.stat().st_size, tables=tables)


def restore(*, backup_file: Path, target: Path, keep_current: bool = True) -> SqliteBackup:
    """Write the verified backup into the database at target; keep the current one beside it.

    The pages go in through the backup API under SQLite's own locks, so a -wal file left
    by the old database can never be replayed over the restored one.
    """
    src = _open(backup_file, readonly=True)
    try:
        tables = inspect(src, what=backup_file)
        safety_copy = None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        if target.exists() and not is_healthy(target):
            # A damaged database can neither be copied page by page nor written over: move
            # it aside whole, never delete it.
            safety_copy = move_aside(target, aside)
        elif target.exists() and keep_current:
            safety_copy = backup(source=target, target=aside).path
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(target, timeout=LOCK_TIMEOUT)
        try:
            src.backup(dest, pages=-1)
            restored = inspect(dest, what=target)
        finally:
            dest.close()
    finally:
        src.close()
    if restored != tables:
        raise InvalidState(f"restore into {target} does not match the backup")
    return SqliteBackup(
        path=target, size_bytes=target.stat().st_size, tables=restored, safety_copy=safety_copy
    )
