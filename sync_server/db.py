"""Engine, sessions and the declarative base; SQLite and PostgreSQL behave alike here."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Select,
    Table,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, but INTEGER on SQLite so the column is the rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Return the current time in UTC, timezone-aware."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """NUMERIC(14,4) that comes back as Decimal on SQLite too (never a float)."""

    impl = Numeric(14, 4, asdecimal=True)
    cache_ok = True

    def process_bind_param(
        self, value: Decimal | int | str | float | None, dialect: Dialect
    ) -> Decimal | None:
        if isinstance(value, float):
            raise TypeError("money must not be a float")
        return None if value is None else Decimal(value)

    def process_result_value(
        self, value: Decimal | float | str | None, dialect: Dialect
    ) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class Qty(Money):
    """Quantities: NUMERIC(14,3), Decimal so weighed goods are exact."""

    impl = Numeric(14, 3, asdecimal=True)
    cache_ok = True


# A SELECT of any columns (SQLAlchemy types each select by its column types).
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"
SelectT = TypeVar("SelectT", bound=AnySelect)


class Base(DeclarativeBase):
    # Every model is mapped to one table: say so, so Core statements on it type-check.
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: Money()}


class TenantScoped:
    """Every business row belongs to one tenant; queries always filter on it."""

    tenant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )


class TenantKeyed(TenantScoped):
    """A tenant's row with an id of its own: keyed (id, tenant_id) in the table, id in the ORM.

    The table's primary key holds tenant_id, as a database distributed by tenant_id needs,
    and foreign keys between tenant tables (tenant_fk) name both columns, so a row can never
    point at another tenant's row. id leads the key so that its index still serves a
    lookup by id. The ORM's identity stays id alone (ids come from one sequence per table),
    so session.get(Model, id) and relationships work as before. On SQLite id stays the rowid
    (the only key SQLite numbers by itself) and (id, tenant_id) is a unique index beside it:
    see migration 0028_tenant_keys.
    """

    id: Mapped[int] = mapped_column(BigId, autoincrement=True)

    @classmethod
    def __table_cls__(cls, name: str, metadata: MetaData, *args: Any, **kw: Any) -> Table:
        return Table(name, metadata, *args, PrimaryKeyConstraint("id", "tenant_id"), **kw)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Declarative reads this once the class's table is made.
        table: Table = cls.__table__  # type: ignore[attr-defined]
        return {"primary_key": [table.c.id]}


def tenant_fk(column: str, target: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """Refer to a row of `target` in the same tenant: (column, tenant_id) -> (id, tenant_id).

    The referring column comes first so the constraint keeps the name a plain foreign key
    on it had (fk_<table>_<column>_<target>).
    """
    return ForeignKeyConstraint(
        [column, "tenant_id"], [f"{target}.id", f"{target}.tenant_id"], ondelete=ondelete
    )


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_APPENDS = "buffered_appends"
_UNSET = object()


@contextmanager
def buffered_appends(session: Session) -> Iterator[None]:
    """Collect the append-only rows added in the block; insert them set-based at its end.

    Audit entries and feed changes are written many per unit of work and never read back
    in it. Added one by one, each is an ORM INSERT of its own (SQLite cannot match RETURNING
    rows to objects); collected here, each table's rows go out as one executemany when the
    block ends. An exception drops what was collected: the caller's savepoint or transaction
    rolls back the rest. A nested block leaves the rows to the outer one.
    """
    if session.info.get(_APPENDS) is not None:
        yield
        return
    runs: dict[Table, list[tuple[tuple[str, ...], list[dict[str, Any]]]]] = {}
    session.info[_APPENDS] = runs
    try:
        yield
        # Table by table; within a table, rows in the order they were added (ids follow it,
        # as an ORM flush would number them).
        for table, table_runs in runs.items():
            for _keys, values in table_runs:
                session.execute(insert(table), values)
    finally:
        session.info.pop(_APPENDS, None)


_ONE_FLUSH = "one_flush_at_end"


@contextmanager
def one_flush_at_end(session: Session) -> Iterator[None]:
    """Mark a block of several documents that flushes once, at its end (a push's batch).

    Inside it, flush_document does nothing: a document's rows wait in the session for the
    block's one flush, where the ORM writes each table's rows together. Only a block that
    is dropped whole when any of its documents fails may use it (a constraint then fires
    at the end, not at the document that broke it).
    """
    outer = session.info.get(_ONE_FLUSH)
    session.info[_ONE_FLUSH] = True
    try:
        yield
        session.flush()
    finally:
        session.info[_ONE_FLUSH] = outer


def flush_document(session: Session) -> None:
    """Flush a document's rows now, so its constraints fire here, unless one_flush_at_end."""
    if not session.info.get(_ONE_FLUSH):
        session.flush()


def in_one_flush(session: Session) -> bool:
    """Say whether the session is in a one_flush_at_end block (a push's batch)."""
    return bool(session.info.get(_ONE_FLUSH))


def insert_returning_ids(
    session: Session, model: Any, rows: list[dict[str, Any]], *, key: str
) -> dict[Any, int]:
    """Insert rows as one plain statement at once; return their ids by the column `key`.

    Values are named as the model's attributes; the insert fills the rest from the same
    column defaults an ORM flush would. No ORM object is made and nothing is flushed (it
    runs on the session's connection, past autoflush), so the session's pending rows still
    wait for their one flush. `key` must be unique among the rows.
    """
    if not rows:
        return {}
    table = model.__table__
    statement = insert(table).returning(table.c[key], table.c.id)
    return {k: int(i) for k, i in session.connection().execute(statement, rows).all()}


def insert_rows_now(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows with the same columns as one plain executemany, at once (no autoflush)."""
    if rows:
        session.connection().execute(insert(model.__table__), rows)


def add_append_only(session: Session, obj: Any) -> None:
    """Add an append-only row: collected by buffered_appends when in one, else session.add.

    The row holds exactly the attributes the object was given, so the insert fills the
    rest from the same column defaults an ORM flush would.
    """
    runs = session.info.get(_APPENDS)
    if runs is None:
        session.add(obj)
        return
    mapper = obj.__mapper__
    state = obj.__dict__
    row = {}
    for prop in mapper.column_attrs:
        value = state.get(prop.key, _UNSET)
        if value is not _UNSET:
            row[prop.columns[0].key] = value
    _collect(runs, mapper.local_table, row)


def append_row(session: Session, model: Any, values: dict[str, Any]) -> None:
    """Add an append-only row given as its column values (named as the model's attributes).

    In buffered_appends no ORM object is made for it at all (building one costs more than
    inserting its row); outside, it is added as one, as add_append_only would.
    """
    runs = session.info.get(_APPENDS)
    if runs is None:
        session.add(model(**values))
        return
    _collect(runs, model.__table__, dict(values))


# A buffer of append-only rows: per table, runs of rows with the same columns, in order.
_Runs: TypeAlias = dict[Table, list[tuple[tuple[str, ...], list[dict[str, Any]]]]]


def _collect(runs: _Runs, table: Table, row: dict[str, Any]) -> None:
    keys = tuple(row)
    table_runs = runs.setdefault(table, [])
    if table_runs and table_runs[-1][0] == keys:
        table_runs[-1][1].append(row)
    else:
        table_runs.append((keys, [row]))


def is_sqlite(url_or_engine: str | Engine | Connection) -> bool:
    """Say whether the database is SQLite (a URL, an engine, or a session's bind)."""
    if isinstance(url_or_engine, str):
        return url_or_engine.startswith("sqlite")
    return url_or_engine.dialect.name == "sqlite"


# Connections a SQLite engine may open: one per request the server runs at once (the
# thread pool's 40, plus the limiter's lookups and the in-process worker). They are file
# handles, not server processes; fewer would make a burst queue twice (for a connection,
# then for the write lock) and answer late.
SQLITE_CONNECTIONS = 64


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    wait_s: float = 30,
    pgbouncer: bool = False,
) -> Engine:
    """Create an engine with the pragmas and locking StockPilot relies on.

    ``wait_s`` bounds how long a caller waits for a pooled connection and, on SQLite, for
    the write lock. Commands keep the long default (they may wait for the server); the
    server passes Settings.db_wait_seconds so a burst is refused promptly instead.
    ``pgbouncer`` turns off psycopg's server-side prepared statements, which PgBouncer's
    transaction pooling (1.18, Debian 12) cannot carry from one transaction to the next.
    """
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"timeout": wait_s, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=max(SQLITE_CONNECTIONS - pool_size, max_overflow),
            pool_timeout=wait_s,
        )
        _configure_sqlite(engine, wait_s=wait_s)
        return engine
    connect_args: dict[str, object] = {"connect_timeout": max(2, int(wait_s) + 1)}
    if pgbouncer:
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=wait_s,
        connect_args=connect_args,
    )
    _ping_when_idle(engine)
    _CAPACITY[engine] = pool_size + max(max_overflow, 0)
    return engine


# How many connections each engine's pool may hold at once, as make_engine configured it.
_CAPACITY: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def pool_capacity(engine: Engine) -> int:
    """Return how many connections the engine's pool may open at once (its size + overflow).

    Known for the PostgreSQL engines make_engine builds; for another engine, the pool's own
    size (its public size(); 1 for a pool without one).
    """
    known = _CAPACITY.get(engine)
    if known is not None:
        return known
    size = getattr(engine.pool, "size", None)
    return int(size()) if callable(size) else 1


# A pooled connection that rested longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it has rested (pool_pre_ping, cheaper).

    A dead connection (the database restarted, a failover, an idle timeout) is found by a
    ping and replaced before a request uses it, as pool_pre_ping would; but a connection
    handed back moments ago, which is every one under load, goes out without the extra round
    trip on each request. One that dies within that second fails its request; the pool then
    replaces every connection older than the failure (SQLAlchemy's disconnect handling).
    """

    @event.listens_for(engine, "checkin")
    def rested_from(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_rested(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        rested = record.info.get("checked_in_at")
        if rested is None or time.monotonic() - rested < PING_AFTER_IDLE_S:
            return  # new, or back from use just now
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool opens a fresh connection instead
            raise DisconnectionError(str(exc)) from exc


# When the current request arrived (time.monotonic()), set by sync_server.retry.Arrival: a
# request queues for the write lock at most db_wait_seconds counted from its arrival, so
# time already spent queueing for a thread or a connection is not waited twice.
ARRIVED_AT: ContextVar[float | None] = ContextVar("stockpilot_arrived_at", default=None)


class _WriteGate:
    """This process's writers take SQLite's one write lock in turn, first come first served.

    Without it every waiting writer polls the file lock from SQLite's busy handler, sleeping
    up to 100 ms between tries: the lock sits idle between writers and whoever polls at the
    right moment wins, so the oldest request of a burst may wait longest. Here they queue
    (threading.Semaphore wakes waiters in order) and the next starts as the last commits.
    Other processes (commands, a second worker) still meet the busy timeout.
    """

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._turn = threading.Semaphore(1)

    def enter(self, conn: Connection) -> None:
        arrived = ARRIVED_AT.get()
        wait = self.wait_s if arrived is None else self.wait_s - (time.monotonic() - arrived)
        if not self._turn.acquire(timeout=max(wait, 0.001)):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError(
                    f"database is locked: other writers held it for {self.wait_s:g} s"
                ),
            )
        conn.info["write_turn"] = True

    def leave(self, conn: Connection) -> None:
        if conn.info.pop("write_turn", False):
            self._turn.release()


def _configure_sqlite(engine: Engine, *, wait_s: float) -> None:
    gate = _WriteGate(wait_s)
    busy_ms = int(wait_s * 1000)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE and SAVEPOINT work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: two read-then-write transactions can then
        # never deadlock or lose an update; read-only work asks for a deferred begin.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            gate.enter(conn)
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            gate.leave(conn)
            raise

    # Fired as the transaction ends (a savepoint's end is another event): the next writer
    # may begin; should the COMMIT itself still be writing, the busy timeout covers it.
    @event.listens_for(engine, "commit")
    def on_commit(conn: Connection) -> None:
        gate.leave(conn)

    @event.listens_for(engine, "rollback")
    def on_rollback(conn: Connection) -> None:
        gate.leave(conn)


# PostgreSQL's deadlock and serialisation failures: the transaction is gone, safe to rerun.
RETRY_STATES = frozenset({"40P01", "40001"})


def is_lock_conflict(exc: BaseException) -> bool:
    """Say whether the database gave up a transaction to break a deadlock (safe to retry)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRY_STATES


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory; sessions keep objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], *, readonly: bool = False) -> Iterator[Session]:
    """Open a session inside one transaction that commits on success."""
    with factory() as session, session.begin():
        if readonly and is_sqlite(session.get_bind()):
            # The connection is procured here, so the option applies to its BEGIN.
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        yield session


def lock_for_update(stmt: SelectT, session: Session) -> SelectT:
    """Lock rows to change them: FOR NO KEY UPDATE on PostgreSQL; SQLite holds the write lock.

    NO KEY because we never change a key: rows inserted meanwhile that refer to the locked
    row (its foreign keys take a key-share lock) then need not wait for it, and cannot join
    a deadlock with whoever holds it.
    """
    if is_sqlite(session.get_bind()):
        return stmt
    return stmt.with_for_update(key_share=True)
