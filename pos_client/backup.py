"""Back up and restore the till's local store with SQLite's online backup API.

The backup is a consistent snapshot taken while the till keeps selling: SQLite copies every
page under one read transaction, and in WAL mode that read never blocks the till's writes.
A restore writes through the same API into the live file, so a stale -wal file can never be
replayed over the restored pages (which copying the file over it would risk).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.cli import Subcommands
from common.sqlite_files import (
    DISK_FULL,
    LOCK_TIMEOUT,
    disk_full,
    fsync_file,
    integrity_problems,
    is_healthy,
    move_aside,
)

__all__ = [
    "BackupError",
    "BackupResult",
    "backup_store",
    "main_backup",
    "register_cli",
    "restore_store",
]

# Tables every till store has; a file without them is not a till backup.
TILL_TABLES = frozenset({"outbox", "sales", "staff", "sync_state"})
# A table only the server's database has (a backup of it given here by mistake).
SERVER_TABLE = "tenants"


class BackupError(Exception):
    """A backup or restore could not be made; the message says why, for the operator."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup or restore wrote: the file, its size and its tables with row counts."""

    path: Path
    size_bytes: int
    tables: dict[str, int]
    safety_copy: Path | None = None

    @property
    def rows(self) -> int:
        """Return the number of rows over all tables."""
        return sum(self.tables.values())


def _connect_existing(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open an existing database file; never create an empty one by mistake."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    mode = "ro" if readonly else "rw"
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=LOCK_TIMEOUT
        )
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from exc


def _check(conn: sqlite3.Connection, *, what: Path) -> dict[str, int]:
    """Verify a database is intact and return its tables with their row counts."""
    try:
        problems = integrity_problems(conn)
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in names
            # FTS shadow tables are counted through their main table.
            if not _is_virtual_shadow(conn, name)
        }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{what} is not a readable SQLite database: {exc}") from exc
    if problems:
        raise BackupError(f"{what} failed its integrity check: {'; '.join(problems[:3])}")
    return counts


def _is_virtual_shadow(conn: sqlite3.Connection, name: str) -> bool:
    """Say whether a table belongs to a virtual table (e.g. FTS5's name_data, name_idx)."""
    virtual = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
        )
    ]
    return any(name.startswith(f"{v}_") for v in virtual)


def backup_store(*, source: Path, target: Path) -> BackupResult:
    """Copy the live store at source into a standalone, verified file at target."""
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise BackupError("the backup file must not be the store itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = _connect_existing(source, readonly=False)
    try:
        dest = sqlite3.connect(partial)
        try:
            # pages=-1 copies everything in one step, i.e. one snapshot; stepping would let
            # the till's commits restart the copy again and again.
            src.backup(dest, pages=-1)
            # A backup is one self-contained file, whatever mode the live store runs in.
            dest.execute("PRAGMA journal_mode=DELETE")
            tables = _check(dest, what=partial)
        finally:
            dest.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(_failed(source=source, target=target, error=exc)) from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    try:
        fsync_file(partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(_failed(source=source, target=target, error=exc)) from exc
    return BackupResult(path=target, size_bytes=target.stat().st_size, tables=tables)


def _failed(*, source: Path, target: Path, error: BaseException) -> str:
    """Say why a backup was not written, plainly when the disk is full."""
    if disk_full(error):
        return (
            f"{DISK_FULL}: no backup was written to {target} (earlier backups are untouched); "
            "free some disk space and run it again"
        )
    return f"backup of {source} failed: {error}"


def restore_store(*, backup: Path, target: Path, keep_current: bool = True) -> BackupResult:
    """Replace the store at target with the verified backup; keep the current one beside it."""
    backup, target = Path(backup), Path(target)
    src = _connect_existing(backup, readonly=True)
    try:
        tables = _check(src, what=backup)
        _require_till_store(tables, what=backup)
        safety_copy = None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        if target.exists() and not is_healthy(target):
            # A damaged store can neither be copied page by page nor written over: move it
            # aside whole (never delete it: support may still recover unsynced sales from it).
            safety_copy = move_aside(target, aside)
        elif target.exists() and keep_current:
            safety_copy = backup_store(source=target, target=aside).path
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(target, timeout=LOCK_TIMEOUT)
        try:
            src.backup(dest, pages=-1)
            restored = _check(dest, what=target)
        finally:
            dest.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {target} failed: {exc}") from exc
    finally:
        src.close()
    if restored != tables:
        raise BackupError(f"restore into {target} does not match the backup")
    return BackupResult(
        path=target, size_bytes=target.stat().st_size, tables=restored, safety_copy=safety_copy
    )


def _require_till_store(tables: dict[str, int], *, what: Path) -> None:
    """Refuse a file that is not a till's store, before anything is written."""
    if SERVER_TABLE in tables:
        raise BackupError(
            f"{what} is a StockPilot server database, not a till backup "
            "(restore it with 'stockpilot-server restore'); nothing changed"
        )
    missing = sorted(TILL_TABLES - set(tables))
    if missing:
        raise BackupError(
            f"{what} is not a till backup (it has no {', '.join(missing)} table); nothing changed"
        )


def _resolve_store(data_dir: str | None) -> Path:
    """Return the store file of --data-dir, or of the default data folder."""
    from pos_client.paths import store_path

    return store_path(Path(data_dir).expanduser() if data_dir else None)


def _cmd_backup(args: argparse.Namespace) -> int:
    store = _resolve_store(args.data_dir)
    result = backup_store(source=store, target=Path(args.file))
    print(
        f"Backed up {store}\n  to {result.path} ({result.size_bytes} bytes, "
        f"{len(result.tables)} tables, {result.rows} rows, integrity ok)"
    )
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from pos_client.instance import InstanceLock, TillRunning

    store = _resolve_store(args.data_dir)
    try:
        # Held through the restore, so a till cannot start on a half-restored store either.
        lock = InstanceLock(store.parent).acquire()
    except TillRunning as exc:
        raise BackupError(f"{exc}; nothing changed") from None
    try:
        result = restore_store(
            backup=Path(args.file), target=store, keep_current=not args.no_safety_copy
        )
    finally:
        lock.release()
    print(
        f"Restored {args.file}\n  into {store} ({len(result.tables)} tables, "
        f"{result.rows} rows, integrity ok)"
    )
    if result.safety_copy:
        print(f"  the store as it was is kept at {result.safety_copy}")
    return 0


def register_cli(subparsers: Subcommands) -> None:
    """Add the backup and restore subcommands to the till's command line."""
    p = subparsers.add_parser(
        "backup", help="copy the local store to FILE (safe while the till runs)"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--data-dir", help="the till's data folder (default: the per-user one)")
    p.set_defaults(handler=_cmd_backup)
    p = subparsers.add_parser(
        "restore", help="replace the local store with the backup FILE (close the till first)"
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--data-dir", help="the till's data folder (default: the per-user one)")
    p.add_argument(
        "--no-safety-copy",
        action="store_true",
        help="do not keep the current store as till.db.before-restore-*",
    )
    p.set_defaults(handler=_cmd_restore)


def main_backup(argv: Sequence[str]) -> int:
    """Run `stockpilot-till backup|restore ...`; return the exit code."""
    from common.cli import CliError, OneLineParser, run_guarded

    parser = OneLineParser(
        prog="stockpilot-till", description="Back up or restore the till's local store."
    )
    register_cli(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(list(argv))

    def translate(exc: BaseException) -> CliError | None:
        return CliError(str(exc)) if isinstance(exc, BackupError | sqlite3.Error) else None

    return run_guarded(
        prog="stockpilot-till",
        body=lambda: args.handler(args),
        translate=translate,
        log_dirs=lambda: [Path(args.data_dir) / "logs"] if args.data_dir else [],
    )


if __name__ == "__main__":
    sys.exit(main_backup(sys.argv[1:]))
