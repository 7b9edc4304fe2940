"""stockpilot-server backup FILE / restore FILE."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import CliError, Subcommands
from common.errors import DomainError

if TYPE_CHECKING:
    from sync_server.config import Settings

# SQLAlchemy (behind the URL helpers and pg_dump's command line) is imported when a command runs.


def _sqlite_file(settings: Settings) -> Path:
    """Return the file of the embedded database."""
    from sqlalchemy.engine import make_url

    database = make_url(settings.resolved_database_url).database
    if not database or database == ":memory:":
        raise DomainError("an in-memory database cannot be backed up")
    return Path(database)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.backup import postgres
    from sync_server.backup import sqlite as sqlite_backup
    from sync_server.db import is_sqlite

    target = Path(args.file)
    url = settings.resolved_database_url
    if is_sqlite(url):
        result = sqlite_backup.backup(source=_sqlite_file(settings), target=target)
        print(
            f"Backed up {_sqlite_file(settings)}\n  to {result.path} ({result.size_bytes} "
            f"bytes, {len(result.tables)} tables, {result.rows} rows, integrity ok)"
        )
        return 0
    command, env = postgres.dump_command(url=url, target=target, bin_dir=args.pg_bin)
    print(postgres.shown(command, env), flush=True)
    if args.print_only:
        return 0
    code = postgres.run(command, env)
    if code == 0:
        print(
            f"Backed up to {target} (pg_dump custom format; restore with "
            f"'stockpilot-server restore {target}')"
        )
    return code


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.backup import postgres
    from sync_server.backup import sqlite as sqlite_backup
    from sync_server.db import is_sqlite

    source = Path(args.file)
    url = settings.resolved_database_url
    if is_sqlite(url):
        target = _sqlite_file(settings)
        result = sqlite_backup.restore(
            backup_file=source, target=target, keep_current=not args.no_safety_copy
        )
        print(
            f"Restored {source}\n  into {target} ({len(result.tables)} tables, {result.rows} "
            "rows, integrity ok); 'serve' migrates it if the backup is older than the code."
        )
        if result.safety_copy:
            print(f"  the database as it was is kept at {result.safety_copy}")
        return 0
    if not source.is_file():
        raise DomainError(f"{source} does not exist")
    command, env = postgres.restore_command(url=url, source=source, bin_dir=args.pg_bin)
    print(postgres.shown(command, env), flush=True)
    if args.print_only:
        return 0
    return postgres.run(command, env)


Handler = Callable[[argparse.Namespace, "Settings"], int]


def _refusals_fail(handler: Handler) -> Handler:
    """A file that is no backup makes the command fail (exit 1), as the till's restore does."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except DomainError as exc:
            raise CliError(exc.detail) from None

    return run


def register(subparsers: Subcommands) -> None:
    """Add the backup and restore subcommands."""
    for name, handler, help_text in (
        (
            "backup",
            cmd_backup,
            "copy the database to FILE: SQLite online backup (safe while "
            "serving) or pg_dump in custom format",
        ),
        (
            "restore",
            cmd_restore,
            "replace the database with FILE (stop the server first); "
            "SQLite keeps the current file beside it",
        ),
    ):
        p = subparsers.add_parser(name, help=help_text)
        p.add_argument("file", metavar="FILE")
        p.add_argument("--pg-bin", help="folder of pg_dump/pg_restore (PostgreSQL only)")
        p.add_argument(
            "--print-only",
            action="store_true",
            help="PostgreSQL: print the pg_dump/pg_restore command, do not run it",
        )
        if name == "restore":
            p.add_argument(
                "--no-safety-copy",
                action="store_true",
                help="SQLite: do not keep the current database as *.before-restore-*",
            )
        p.set_defaults(handler=_refusals_fail(handler))
