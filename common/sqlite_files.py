"""File-level care of SQLite databases, shared by the till's and the server's backups."""

from __future__ import annotations

import errno
import os
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


def is_healthy(path: Path) -> bool:
    """Say whether a database opens and passes SQLite's quick check, without changing it."""
    with open(path, "rb") as handle:
        # SQLite deletes the -wal of a file it cannot read when it closes it: look first.
        if handle.read(16) != SQLITE_HEADER:
            return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_TIMEOUT)
        try:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
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
