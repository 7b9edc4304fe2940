"""File-level care of SQLite databases, shared by the till's and the server's backups."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from pathlib import Path

LOCK_TIMEOUT = 30.0
SQLITE_HEADER = b"SQLite format 3\x00"


def fsync_file(path: Path) -> None:
    """Flush a file (and on POSIX its directory entry) to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    if os.name == "posix":
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# SQLite 3.40.0 to 3.41.0 (Debian 12 ships 3.40.1) report "NULL value in T.C" for every
# NOT NULL column of a WITHOUT ROWID table whose primary key is declared in another order
# than its columns, although no such NULL exists (sqlite.org forum, 2023; fixed in 3.41.1).
_NULL_VALUE = re.compile(r"^NULL value in (?P<table>[^.]+)\.(?P<column>.+)$")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _holds_a_null(conn: sqlite3.Connection, table: str, column: str) -> bool:
    """Say whether a column really holds a NULL (typeof() is never optimised away)."""
    query = f"SELECT 1 FROM {_quoted(table)} WHERE typeof({_quoted(column)}) = 'null' LIMIT 1"
    return conn.execute(query).fetchone() is not None


def integrity_problems(conn: sqlite3.Connection, *, quick: bool = False) -> list[str]:
    """Run SQLite's integrity (or quick) check; return its real findings, [] when intact.

    A reported NULL in a NOT NULL column is looked up before it counts: this SQLite's
    check reports NULLs that are not there (see _NULL_VALUE above).
    """
    pragma = "quick_check" if quick else "integrity_check"
    found = [str(row[0]) for row in conn.execute(f"PRAGMA {pragma}")]
    if found == ["ok"]:
        return []
    problems = []
    for finding in dict.fromkeys(found):  # the check says it once per row
        null = _NULL_VALUE.match(finding)
        if null and not _holds_a_null(conn, null["table"], null["column"]):
            continue
        problems.append(finding)
    return problems


def is_healthy(path: Path) -> bool:
    """Say whether a database opens and passes SQLite's quick check, without changing it."""
    with open(path, "rb") as handle:
        # SQLite deletes the -wal of a file it cannot read when it closes it: look first.
        if handle.read(16) != SQLITE_HEADER:
            return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
        try:
            return not integrity_problems(conn, quick=True)
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def move_aside(target: Path, aside: Path) -> Path:
    """Rename a database file and its -wal/-shm companions to aside (+ the same suffixes)."""
    for suffix in ("-wal", "-shm", ""):
        companion = Path(f"{target}{suffix}")
        if companion.exists():
            os.replace(companion, Path(f"{aside}{suffix}"))
    return aside


DISK_FULL = "The till's disk is full"


def disk_full(error: BaseException) -> bool:
    """Say whether an error means the disk (or the store's size limit) is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", None) == (
            sqlite3.SQLITE_FULL
        ):
            return True
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        # SQLAlchemy keeps the driver's error in .orig; Python chains the rest.
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False
