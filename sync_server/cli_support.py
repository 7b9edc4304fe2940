"""What every stockpilot-server command shares: the database, the business, one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import CliError, one_line, usage_error

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from sync_server.config import Settings
    from sync_server.org.models import Branch, Tenant

# SQLAlchemy and the database code are imported by the functions that use them, so a command
# (and the parser every command builds) starts without them until it opens the database.

PROG = "stockpilot-server"
NOT_INITIALISED = "The database is not initialised; run 'stockpilot-server init' first."


def load_models() -> None:
    """Import every domain's models, so foreign keys resolve in a fresh process."""
    import sync_server.models  # noqa: F401  (importing is the point)


def refuse_missing_database(settings: Settings) -> None:
    """Say "not initialised" for a missing SQLite file before the database code is imported.

    engine_for says the same; a command calls this first, so that it is refused without
    paying for SQLAlchemy, the settings' schemas and every model (about half a second of
    CPU). A URL this plain reading does not understand is left to engine_for.
    """
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///") or any(c in url for c in "?%"):
        return
    database = url.removeprefix("sqlite:///")
    if database and database != ":memory:" and not Path(database).exists():
        raise CliError(f"{NOT_INITIALISED} (no database at {database})")


def engine_for(settings: Settings, *, create: bool = False) -> Engine:
    """Return an engine; without create, a missing SQLite file is an error, not a new file."""
    from sqlalchemy.engine import make_url

    from sync_server.audit.keys import Keyring, attach
    from sync_server.db import is_sqlite, make_engine

    url = settings.resolved_database_url
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            if not create:
                raise CliError(f"{NOT_INITIALISED} (no database at {database})")
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Every model before the first query (foreign keys resolve in a fresh process); loaded
    # here, not at start-up, so a command that is refused first, or needs no database
    # (backup, restore), does not pay for it.
    load_models()
    engine = make_engine(url, pgbouncer=settings.db_pgbouncer)
    # Every command signs and checks the audit chain with the keys the settings name.
    attach(engine, Keyring.from_settings(settings))
    return engine


def sessions(settings: Settings) -> sessionmaker[Session]:
    """Return a session factory over an initialised database."""
    from sync_server.db import make_sessionmaker

    return make_sessionmaker(engine_for(settings))


def migrated_sessions(settings: Settings) -> sessionmaker[Session]:
    """Return a session factory over a database at this version's schema, or say what to run."""
    from sync_server.db import make_sessionmaker
    from sync_server.migrations.heads import is_at_head

    engine = engine_for(settings)
    if not is_at_head(engine) and not _is_up_to_date(engine):
        raise CliError(
            "The database is not initialised or has an older schema; run "
            "'stockpilot-server init' (a new database) or 'stockpilot-server serve' once "
            "(it migrates) first."
        )
    return make_sessionmaker(engine)


def _is_up_to_date(engine: Engine) -> bool:
    # Alembic is imported only when the cheap check cannot say "at the head" (~0.2 s of CPU
    # a command otherwise): an older database, or history it does not read plainly.
    from sync_server.migrations.runner import is_up_to_date

    return is_up_to_date(engine)


def require_initialised(session: Session) -> None:
    """Refuse to go on when init never ran on this database."""
    from sqlalchemy import inspect

    if not inspect(session.connection()).has_table("tenants"):
        raise CliError(NOT_INITIALISED)


def find_tenant(session: Session, name: str | None) -> Tenant:
    """Return the business named, or the only one; say what to do otherwise."""
    from sqlalchemy import select

    from sync_server.org.models import Tenant

    require_initialised(session)
    if name:
        tenant = session.scalar(select(Tenant).where(Tenant.name == name))
        if tenant is None:
            known = ", ".join(f"'{n}'" for n in session.scalars(select(Tenant.name).limit(5)))
            raise usage_error(f"No business named '{name}' (known: {known or 'none'}).")
        return tenant
    tenants = session.scalars(select(Tenant).order_by(Tenant.id).limit(2)).all()
    if not tenants:
        raise CliError(NOT_INITIALISED)
    if len(tenants) > 1:
        raise usage_error("Several businesses share this server; say which with --tenant NAME.")
    return tenants[0]


def translate_db_error(exc: BaseException) -> CliError | None:
    """Turn a database error that escaped a command into a message, or None if unknown."""
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

    runner = sys.modules.get("sync_server.migrations.runner")  # loaded if an upgrade ran
    if runner is not None and isinstance(
        exc, runner.ForeignKeyCheckError | runner.BranchedHistoryError
    ):
        return CliError(str(exc))
    if not isinstance(exc, DBAPIError):
        return None
    text = one_line(str(exc.orig) if exc.orig is not None else str(exc))
    if isinstance(exc, OperationalError | ProgrammingError) and (
        "no such table" in text or "does not exist" in text and "relation" in text
    ):
        return CliError(NOT_INITIALISED)
    if isinstance(exc, OperationalError):
        return CliError(f"cannot use the database: {text}")
    return None


def log_dirs(settings: Settings) -> list[Path]:
    """Return where unexpected errors are logged: the data dir's logs folder."""
    return [settings.data_dir / "logs"]


def add_business_options(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by init and tenant create: admin, currency, first branch."""
    parser.add_argument("--admin-username", default="admin", help="admin login (default: admin)")
    parser.add_argument("--admin-password", help="admin password; omit to generate and print one")
    parser.add_argument("--admin-pin", help="4-8 digit PIN for the admin at the till")
    parser.add_argument("--currency", default="INR", help="ISO 4217 code (default: INR)")
    parser.add_argument(
        "--branch-name", default="Main store", help="first branch (default: Main store)"
    )
    parser.add_argument("--branch-code", default="MAIN", help="its code (default: MAIN)")
    parser.add_argument(
        "--no-branch", action="store_true", help="create no branch (add them with 'branch add')"
    )


def print_business(*, name: str, admin: str, password: str | None, branch: Branch | None) -> None:
    """Print what was provisioned; a generated password is shown this once."""
    print(f"  business: {name}")
    print(f"  admin:    {admin}")
    if password:
        print(f"  password: {password}   (shown once)")
    if branch is not None:
        print(f"  branch:   {branch.name} (code {branch.code})")
    else:
        print(
            "  branch:   none yet; add one with "
            "'stockpilot-server branch add --code CODE --name NAME'"
        )
