"""Run Alembic migrations from code: the schema is created only by migrations."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.schema import SchemaItem

from sync_server.migrations.heads import is_at_head
from sync_server.partitions import PARTITION_NAME, PER_RANGE_CONSTRAINTS

HERE = Path(__file__).resolve().parent

# Indexes made by hand in migrations, unknown to the models: engine-specific search indexes,
# and expression indexes (lower(email) for online orders' customer match).
UNMODELLED_PREFIXES = (
    "product_search_fts",
    "ix_product_search_trgm",
    "ix_customers_tenant_lower_email",
)
# On SQLite a tenant row's key (id, tenant_id) is a unique index named tk_<table> (id stays
# the rowid primary key); the models declare it as the primary key, as PostgreSQL has it.
SQLITE_TENANT_KEY_PREFIX = "tk_"


def include_object(
    obj: SchemaItem,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: SchemaItem | None,
) -> bool:
    """Tell Alembic's comparison to leave the hand-made search indexes alone.

    On SQLite the tenant key of a row is a unique index beside the rowid (migration
    0028_tenant_keys), where the models and PostgreSQL have a primary key.
    On PostgreSQL the unique keys without id of the range-partitioned tables are one unique
    index per range (sync_server/partitions.py), so the models' constraints are absent there;
    the ranges themselves are not modelled tables.
    """
    if type_ == "table" and PARTITION_NAME.match(name or ""):
        return False
    if type_ == "index" and (name or "").startswith(SQLITE_TENANT_KEY_PREFIX):
        return False  # SQLite's (id, tenant_id) key beside the rowid: the models' primary key
    if type_ == "unique_constraint" and compare_to is None and not reflected:
        return name not in PER_RANGE_CONSTRAINTS
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def alembic_config(url: str) -> Config:
    """Return an Alembic config pointing at our scripts and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# Before one linear history, each domain migrated on its own branch. These were the parents
# (and dependencies) of that graph; a database made then records one version per branch.
_BRANCHED_PARENTS: dict[str, tuple[str, ...]] = {
    "0001_core": (),
    "0002_inventory": ("0001_core",),
    "0003_credit": ("0001_core",),
    "0003_notifications": ("0001_core",),
    "0004_sync": ("0001_core",),
    "0005_purchasing": ("0003_credit", "0002_inventory"),
    "0006_wholesale": ("0005_purchasing", "0002_inventory"),
    "0007_orders": ("0001_core", "0002_inventory"),
    "0008_search": ("0001_core",),
    "0009_reports": ("0001_core",),
    "0010_ratelimit": ("0001_core",),
    "0011_sms": ("0003_notifications",),
    "0012_po_shipping": ("0005_purchasing",),
    "0013_notification_attachments": ("0003_notifications",),
    "0014_feed_sequencer": ("0001_core",),
}


class BranchedHistoryError(RuntimeError):
    """A database made on the old branched history that cannot be placed on the line."""


def _linear_position(recorded: tuple[str, ...], linear: list[str]) -> str:
    """Return the newest linear revision a branched database has applied, with all before it."""
    applied: set[str] = set()
    todo = list(recorded)
    while todo:
        rev = todo.pop()
        if rev not in applied:
            applied.add(rev)
            todo.extend(_BRANCHED_PARENTS[rev])
    prefix = 0
    while prefix < len(linear) and linear[prefix] in applied:
        prefix += 1
    beyond = applied - set(linear[:prefix])
    if prefix == 0 or beyond:
        raise BranchedHistoryError(
            f"the database applied {sorted(beyond)} without {linear[prefix]}; "
            "upgrade it with the StockPilot release that made it first"
        )
    return linear[prefix - 1]


def _unbranch(cfg: Config, connection: Connection) -> None:
    """Record a database made on the branched history at its place on the linear one."""
    recorded = tuple(MigrationContext.configure(connection).get_current_heads())
    if len(recorded) <= 1 or not set(recorded) <= set(_BRANCHED_PARENTS):
        return
    script = ScriptDirectory.from_config(cfg)
    linear = [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]
    command.stamp(cfg, _linear_position(recorded, linear), purge=True)


class ForeignKeyCheckError(RuntimeError):
    """An upgrade would leave rows pointing at rows that do not exist; nothing was changed."""


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    # The pragma is a no-op inside a transaction, so it goes to the driver's connection
    # (autocommit: the engine takes transaction control from pysqlite) before BEGIN.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise ForeignKeyCheckError(
            f"the upgrade would leave {len(broken)} row(s) in {', '.join(tables)} pointing at "
            "rows that do not exist; the database was left as it was"
        )


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema (one linear history, one head).

    On SQLite the migrations run with foreign keys off, SQLite's own procedure for schema
    changes: a batch migration rebuilds a table by copying it and dropping the old one, and
    with foreign keys on that drop would delete the rows of its ON DELETE CASCADE children.
    Every foreign key is checked before the upgrade commits; a dangling one rolls it back.
    """
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                _unbranch(cfg, connection)
                command.upgrade(cfg, "head")
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _code_scripts() -> ScriptDirectory:
    """Return the migrations in the code, read once a process (~40 ms of CPU a read).

    They change only with a new release, which starts new processes; /health asks on every
    probe whether the database is at their head.
    """
    return _scripts_at(str(HERE))


@functools.cache
def _scripts_at(location: str) -> ScriptDirectory:
    cfg = alembic_config("sqlite://")
    cfg.set_main_option("script_location", location)
    return ScriptDirectory.from_config(cfg)


def expected_heads() -> tuple[str, ...]:
    """Return the head revision in the code (one: the history is linear)."""
    return tuple(_code_scripts().get_heads())


def current_heads(engine: Engine) -> tuple[str, ...]:
    """Return the revisions the database is at."""
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def is_up_to_date(engine: Engine) -> bool:
    """Say whether every migration in the code has been applied to the database."""
    if is_at_head(engine):
        return True  # the common case, answered without reading the scripts
    script = _code_scripts()
    heads = current_heads(engine)
    if not heads:
        return False
    # A revision another one depends on is not recorded as a head, so walk down from the
    # recorded heads (following dependencies too) to everything that has been applied.
    applied = {rev.revision for rev in script.revision_map.iterate_revisions(heads, "base")}
    return set(script.get_heads()) <= applied
