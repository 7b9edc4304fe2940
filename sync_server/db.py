"""Engine, sessions and the declarative base; SQLite and PostgreSQL behave alike here."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
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
    Text,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
    update,
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
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
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
    also: _Also = []
    session.info[_ALSO] = also
    try:
        yield
        write_appends(session, runs, also=also)
    finally:
        session.info.pop(_APPENDS, None)
        session.info.pop(_ALSO, None)


# session.info key: the updates that go out with the open buffered_appends block's rows,
# as (statement with %s placeholders, its parameters, the rows it must match).
_ALSO = "appends_also"
_Also = list[tuple[str, list[Any], int]]


def in_appends_block(session: Session) -> bool:
    """Say whether a buffered_appends block is open on the session."""
    return session.info.get(_ALSO) is not None


def update_with_appends(
    session: Session,
    table: Table,
    keys: tuple[str, ...],
    rows: list[list[Any]],
    *,
    as_given: frozenset[str] = frozenset(),
) -> None:
    """Update rows by (id, tenant_id) with the rows of the open buffered_appends block.

    `keys` starts with those two, the rest are the columns set; each row gives a value per
    key, passed through its column's bind processing unless the column is named in
    `as_given` (a value already as the driver takes it: JSON text made once). On PostgreSQL,
    inside a block, the UPDATE ... FROM (VALUES ...) goes out as one more clause of the
    block's one statement (a round trip less), and its match is checked there as
    update_rows checks it; anywhere else it runs now (update_rows).
    """
    if not rows:
        return
    also: _Also | None = session.info.get(_ALSO)
    if is_sqlite(session.get_bind()):
        # One row at a time, each checked (rows are few here: a key's answer).
        one_row = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.tenant_id == bindparam("b_tenant_id"))
            .values(
                {
                    key: bindparam(f"b_{key}", type_=Text)
                    if key in as_given
                    else bindparam(f"b_{key}")
                    for key in keys[2:]
                }
            )
        )
        for row in rows:
            named = {f"b_{key}": value for key, value in zip(keys, row, strict=True)}
            _check_matched(session.execute(one_row, named), 1, f"UPDATE {table.name} AS t")
        return
    if also is None:
        _update_by_key(session.connection(), table, list(keys), rows)
        return
    statement, params = _update_by_key_sql(
        session.connection().dialect, table, list(keys), rows, as_given=as_given
    )
    also.append((statement, params, len(rows)))


def changes_with_appends(session: Session) -> None:
    """Write the pending changes of loaded rows of opted-in models (as write_changes_plainly
    does) with the rows of the open buffered_appends block, in its one statement.

    The rows are clean for the ORM from here, as after a flush; a rollback of the
    (sub)transaction that changed them expires them. Without a block, or on SQLite, the
    session's next flush writes them, as before.
    """
    if session.info.get(_ALSO) is None or is_sqlite(session.get_bind()):
        return
    _write_plain_changes(session, queue=True)


def write_appends(
    session: Session, runs: _Runs, *, combined: bool | None = None, also: _Also | None = None
) -> None:
    """Insert collected append-only rows: table by table, each table's rows in the order
    they were added (ids follow it, as an ORM flush would number them).

    On PostgreSQL every table's rows go out in one statement (one INSERT per table, all but
    one as data-modifying WITH clauses of the statement), its text built once per shape
    and run on the driver's cursor through the connection (its events and error
    translation still apply): a compiled Core insert per table cost several times more CPU
    than the database's work for the few rows a request appends. A table's runs with other
    columns go in its one INSERT (the columns a row lacks take DEFAULT), so its ids still
    follow the order the rows were added: the clauses of one statement run in no set order.
    Values pass through each column's own bind processing, and a column a row does not
    give gets the Python-side default the Core insert would give it
    (tests/server/test_append_statement.py compares both ways). ``combined=False`` forces
    the Core way (what that test compares against); SQLite always takes it. ``also``: the
    updates queued with the rows (update_with_appends), run in the same statement.
    """
    if not runs and not also:
        return
    if combined is None:
        combined = not is_sqlite(session.get_bind())
    if not combined:
        for table, table_runs in runs.items():
            for _keys, values in table_runs:
                session.execute(insert(table), values)
        for statement, update_params, matched in also or ():
            result = _execute_numbered(session.connection(), statement, update_params)
            _check_matched(result, matched, statement)
        return
    connection = session.connection()
    dialect = connection.dialect
    parts: list[str] = []
    params: list[Any] = []
    for table, table_runs in runs.items():
        shape = _append_shape(dialect, table, tuple(keys for keys, _ in table_runs))
        rows: list[str] = []
        for keys, values in table_runs:
            sql_row, make = shape.row(keys)
            for row in values:
                if len(params) >= _MAX_PARAMS:  # psycopg's limit per statement is far above
                    if rows:
                        parts.append(shape.head + ", ".join(rows))
                    _run_appends(connection, parts, params)
                    parts, params, rows = [], [], []
                rows.append(sql_row)
                params.extend(make(row))
        parts.append(shape.head + ", ".join(rows))
    _run_appends(connection, parts, params, also=also)


def insert_with_children(
    session: Session,
    model: Any,
    rows: list[dict[str, Any]],
    *,
    key: str,
    children: list[tuple[Any, str, list[tuple[Any, dict[str, Any]]]]],
    combined: bool | None = None,
) -> None:
    """Insert parent rows and their children; each child row names its parent by `key`.

    ``children`` holds, per child table, (model, the column holding the parent's id, rows as
    (the parent's `key` value, the row's values)). On PostgreSQL all of them go out as one
    statement built as write_appends builds its own: the parents' INSERT ... RETURNING as a
    WITH clause, and each child's parent id read from it, so a sale with its lines and
    payments is one round trip instead of three. Elsewhere (or with ``combined=False``)
    the parents' ids come back from one insert and each child table takes one more.
    """
    if not rows:
        return
    if combined is None:
        combined = not is_sqlite(session.get_bind())
    uniform = all(tuple(row) == tuple(rows[0]) for row in rows) and all(
        tuple(row) == tuple(child_rows[0][1])
        for _, _, child_rows in children
        for _, row in child_rows
    )
    small = sum(len(child_rows) for _, _, child_rows in children) * 20 < _MAX_PARAMS
    if not (combined and uniform and small):
        ids = insert_returning_ids(session, model, rows, key=key)
        for child, column, child_rows in children:
            insert_rows_now(
                session, child, [{**row, column: ids[parent]} for parent, row in child_rows]
            )
        return
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer
    keys = tuple(rows[0])
    parent = _append_shape(dialect, model.__table__, (keys,))
    sql_row, make = parent.row(keys)
    params: list[Any] = []
    for row in rows:
        params.extend(make(row))
    key_column = quote.format_column(model.__table__.c[key])
    parts = [f"{parent.head}{', '.join([sql_row] * len(rows))} RETURNING id, {key_column}"]
    for child, column, child_rows in children:
        if not child_rows:
            continue
        child_keys = tuple(child_rows[0][1])
        shape = _append_shape(dialect, child.__table__, (child_keys,))
        child_row, child_make = shape.row(child_keys)
        head = shape.head.replace(" (", f" ({quote.format_column(child.__table__.c[column])}, ", 1)
        child_row = f"((SELECT id FROM a0 WHERE {key_column} = %s), {child_row[1:]}"
        parts.append(head + ", ".join([child_row] * len(child_rows)))
        for parent_key, row in child_rows:
            params.append(parent_key)
            params.extend(child_make(row))
    _run_appends(connection, parts, params)


def insert_parent_with_children(
    session: Session,
    table: Table,
    row: dict[str, Any],
    *,
    returning: tuple[str, ...],
    child_table: Table,
    column: str,
    child_rows: list[dict[str, Any]],
) -> tuple[Any, list[int]]:
    """Insert one parent row and its children (each given the parent's id in `column`) as
    one statement on PostgreSQL; return the parent's `returning` columns and the children's
    ids in the order the rows were given.

    Built as write_appends builds its statement (the text once per shape, values through
    each column's bind processing, Python-side defaults as the Core insert gives them):
    the parent's INSERT ... RETURNING as a WITH clause, each child naming its id from it.
    A multi-row VALUES inserts its rows in their order, so the children's ids, sorted, are
    theirs in that order. Rows of one shape only (each child gives the same keys).
    """
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer
    keys = tuple(row)
    parent = _append_shape(dialect, table, (keys,))
    sql_row, make = parent.row(keys)
    params = make(row)
    answer = ", ".join(f"a0.{quote.quote(name)}" for name in returning)
    parts = [f"{parent.head}{sql_row} RETURNING {', '.join(quote.quote(n) for n in returning)}"]
    if child_rows:
        child_keys = tuple(child_rows[0])
        shape = _append_shape(dialect, child_table, (child_keys,))
        child_row, child_make = shape.row(child_keys)
        head = shape.head.replace(" (", f" ({quote.format_column(child_table.c[column])}, ", 1)
        child_row = f"((SELECT id FROM a0), {child_row[1:]}"
        parts.append(f"{head}{', '.join([child_row] * len(child_rows))} RETURNING id")
        for child in child_rows:
            params.extend(child_make(child))
        answer += ", ARRAY(SELECT id FROM a1 ORDER BY id)"
    else:
        answer += ", ARRAY[]::BIGINT[]"
    clauses = ", ".join(f"a{n} AS ({part})" for n, part in enumerate(parts))
    found = _execute_numbered(connection, f"WITH {clauses} SELECT {answer} FROM a0", params).one()
    return found[: len(returning)], list(found[-1])


def select_plainly(session: Session, statement: Any, params: dict[str, Any]) -> Any:
    """Run a Core SELECT built once (PostgreSQL) as its SQL text, compiled once, positional.

    Connection.execute() looks a statement up in its compiled cache on every run by its
    cache key, whose hashing, for a read with several subqueries, costs more than the rest
    of its way in Python; compiled once here, it goes out through _execute_numbered (the
    connection's events and its errors' translation still apply). The values come back as
    the driver gives them: for columns with no result processing of their own (integers,
    text, booleans, JSON, arrays; not UTCDateTime), and parameters the driver takes as they
    are (tests/server/test_order_paths.py compares a read's answers with the ORM's).
    """
    connection = session.connection()
    plain = _PLAIN_SELECTS.get(id(statement))
    if plain is None or plain[0] is not statement:
        # The dialect's own class, positional: %s placeholders in the order of positiontup.
        positional: Any = type(connection.dialect)
        compiled = statement.compile(dialect=positional(paramstyle="format"))
        text = compiled.string
        if "%%" in text or compiled.positiontup is None:
            raise ValueError("select_plainly takes no literal % and needs positional binds")
        plain = (statement, text, tuple(compiled.positiontup), compiled)
        if len(_PLAIN_SELECTS) > 200:
            _PLAIN_SELECTS.clear()
        _PLAIN_SELECTS[id(statement)] = plain
    _, text, names, compiled = plain
    values = compiled.construct_params(params)
    return _execute_numbered(connection, text, [values[name] for name in names])


# id(statement) -> (the statement, its text, its positional names, its compiled form).
_PLAIN_SELECTS: dict[int, tuple[Any, str, tuple[str, ...], Any]] = {}


def insert_row_plainly(
    session: Session, table: Table, row: dict[str, Any], *, then: str = ""
) -> Any:
    """Insert one row as plain SQL on PostgreSQL, built as write_appends builds its rows (the
    text once per shape, values through each column's bind processing, Python-side defaults
    as the Core insert gives them); `then` follows the VALUES (ON CONFLICT, RETURNING).
    Returns the driver's result (its rows are what RETURNING gives)."""
    connection = session.connection()
    shape = _append_shape(connection.dialect, table, (tuple(row),))
    sql_row, make = shape.row(tuple(row))
    return _execute_numbered(connection, f"{shape.head}{sql_row}{then}", make(row))


# psycopg sends at most 65,535 parameters with a statement; a statement closes past this.
_MAX_PARAMS = 30_000


def _run_appends(
    connection: Connection, parts: list[str], params: list[Any], *, also: _Also | None = None
) -> None:
    if also:
        # Every part a WITH clause (PostgreSQL runs each data-modifying one, read or not);
        # the statement answers how many rows each update matched.
        first = len(parts)
        parts = [*parts, *(f"{statement} RETURNING 1" for statement, _, _ in also)]
        params = [*params, *(param for _, update_params, _ in also for param in update_params)]
        clauses = ", ".join(f"a{n} AS ({part})" for n, part in enumerate(parts))
        counts = ", ".join(f"(SELECT count(*) FROM a{first + n})" for n in range(len(also)))
        matched = _execute_numbered(connection, f"WITH {clauses} SELECT {counts}", params).one()
        for found, (statement, _, expected) in zip(matched, also, strict=True):
            if found != expected:
                raise StaleDataError(
                    f"{_updated(statement)} expected {expected} rows, matched {found}"
                )
        return
    *first_parts, last = parts
    if first_parts:
        clauses = ", ".join(f"a{n} AS ({part})" for n, part in enumerate(first_parts))
        last = f"WITH {clauses} {last}"
    _execute_numbered(connection, last, params)


# Statement texts with %s placeholders -> the same with $1, $2, ... (bounded).
_NUMBERED: dict[str, str] = {}


def _execute_numbered(connection: Connection, statement: str, params: list[Any]) -> Any:
    """Run a statement written with %s placeholders on PostgreSQL, numbered as $1, $2, ...

    psycopg parses a statement for its placeholders on every run, and caches the parse only
    for short statements with few parameters: for a push's appends that parse cost more
    than all the rest of the statement's way. Numbered once here, the statement goes out
    through a raw cursor, which sends it as it is (the connection's events and its errors'
    translation still apply: it runs through exec_driver_sql).
    """
    numbered = _NUMBERED.get(statement)
    if numbered is None:
        pieces = statement.split("%s")
        out = [pieces[0]]
        for n, piece in enumerate(pieces[1:], start=1):
            out.append(f"${n}")
            out.append(piece)
        numbered = "".join(out)
        if len(_NUMBERED) > 2_000:
            _NUMBERED.clear()
        _NUMBERED[statement] = numbered
    from psycopg import RawCursor  # PostgreSQL only: not loaded for SQLite

    driver = connection.connection.driver_connection
    factory = driver.cursor_factory  # type: ignore[union-attr]
    driver.cursor_factory = RawCursor  # type: ignore[union-attr]
    try:
        return connection.exec_driver_sql(numbered, tuple(params))
    finally:
        driver.cursor_factory = factory  # type: ignore[union-attr]


class _AppendShape:
    """How to insert a table's rows, given with some sets of keys, as plain SQL (PostgreSQL)."""

    def __init__(
        self, dialect: Dialect, table: Table, key_sets: tuple[tuple[str, ...], ...]
    ) -> None:
        named = list(dict.fromkeys(key for keys in key_sets for key in keys))
        columns = [table.c[key] for key in named] + [
            column
            for column in table.columns
            if column.key not in named and column.default is not None and not column.primary_key
        ]
        for column in columns:
            default: Any = column.default
            if default is not None and not (default.is_scalar or default.is_callable):
                raise ValueError(f"{table.name}.{column.key}: a default plain SQL cannot give")
        self.columns = columns
        self.processors = [column.type._cached_bind_processor(dialect) for column in columns]
        quote = dialect.identifier_preparer
        self.head = (
            f"INSERT INTO {quote.format_table(table)} "
            f"({', '.join(quote.format_column(column) for column in columns)}) VALUES "
        )
        self._rows: dict[tuple[str, ...], tuple[str, Callable[[dict[str, Any]], list[Any]]]] = {}

    def row(self, keys: tuple[str, ...]) -> tuple[str, Callable[[dict[str, Any]], list[Any]]]:
        """Return a row's SQL and the function making its parameters, for rows with `keys`."""
        found = self._rows.get(keys)
        if found is None:
            found = self._rows[keys] = self._make_row(keys)
        return found

    def _make_row(self, keys: tuple[str, ...]) -> tuple[str, Callable[[dict[str, Any]], list[Any]]]:
        given = set(keys)
        slots: list[str] = []
        # Per parameter: (key, None, processor) for a given value, (None, default, processor)
        # for a Python-side default; a column with neither takes DEFAULT in the SQL.
        makers: list[tuple[str | None, Any, Any]] = []
        for column, process in zip(self.columns, self.processors, strict=True):
            if column.key in given:
                slots.append("%s")
                makers.append((column.key, None, process))
            elif column.default is not None:
                slots.append("%s")
                makers.append((None, column.default, process))
            else:
                slots.append("DEFAULT")

        def make(row: dict[str, Any]) -> list[Any]:
            values = []
            for key, default, process in makers:
                if key is not None:
                    value = row[key]
                elif default.is_callable:
                    # The execution context SQLAlchemy would pass: none of ours reads it.
                    value = default.arg(None)
                else:
                    value = default.arg
                values.append(value if process is None else process(value))
            return values

        return "(" + ", ".join(slots) + ")", make


_SHAPES: dict[tuple[str, Table, tuple[tuple[str, ...], ...]], _AppendShape] = {}


def _append_shape(
    dialect: Dialect, table: Table, key_sets: tuple[tuple[str, ...], ...]
) -> _AppendShape:
    key = (dialect.name, table, key_sets)
    shape = _SHAPES.get(key)
    if shape is None:
        if len(_SHAPES) > 10_000:  # a bound, should shapes ever vary without end
            _SHAPES.clear()
        shape = _SHAPES[key] = _AppendShape(dialect, table, key_sets)
    return shape


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
        if not is_sqlite(session.get_bind()):
            write_changes_plainly(session)
        session.flush()
    finally:
        session.info[_ONE_FLUSH] = outer


# session.info key: [(the (sub)transaction, objects it wrote with write_changes_plainly)].
_PLAINLY_WRITTEN = "plainly_written"


def write_changes_plainly(session: Session) -> None:
    """Write the pending changes of loaded rows of opted-in models as one UPDATE per table.

    A model opts in with ``plain_updates = True`` (stock levels, alerts: a push's batch
    changes several of each). The ORM's flush would send one UPDATE per row through
    psycopg's pipeline; here each table's changed rows go out in one UPDATE ... FROM
    (VALUES ...) (rows changing other sets of columns in one more each), their values
    through each column's own bind processing, a column with an onupdate default given it
    as the flush would. The rows are then clean for the ORM, as after a flush, and a
    rollback of the (sub)transaction that wrote them expires them, as the ORM expires
    the rows it flushed there (tests/server/test_plain_updates.py). PostgreSQL only.
    """
    _write_plain_changes(session, queue=False)


def _write_plain_changes(session: Session, *, queue: bool) -> None:
    """write_changes_plainly; queue: as clauses of the open buffered_appends block's statement."""
    groups: dict[tuple[Table, tuple[str, ...]], list[Any]] = {}
    for obj in session.dirty:
        if not getattr(type(obj), "plain_updates", False):
            continue
        state = inspect(obj)
        changed = tuple(sorted(state.committed_state))
        mapper = state.mapper
        table = mapper.local_table
        if not changed or any(
            key not in mapper.columns or mapper.columns[key] is not table.c.get(key)
            for key in changed
        ):
            continue  # a relationship or anything else: the flush writes it
        groups.setdefault((table, changed), []).append(obj)
    if not groups:
        return
    connection = session.connection()
    written = session.info.setdefault(_PLAINLY_WRITTEN, [])
    transaction = session.get_nested_transaction() or session.get_transaction()
    for (table, changed), objects in groups.items():
        onupdate = [
            column.key
            for column in table.columns
            if column.onupdate is not None and column.key not in changed
        ]
        keys = ["id", "tenant_id", *changed, *onupdate]
        values_by_object = []
        for obj in objects:
            values = [getattr(obj, key) for key in keys[: 2 + len(changed)]]
            for key in onupdate:
                default: Any = table.c[key].onupdate
                values.append(default.arg(None) if default.is_callable else default.arg)
            values_by_object.append(values)
        if queue:
            statement, params = _update_by_key_sql(
                connection.dialect, table, keys, values_by_object
            )
            session.info[_ALSO].append((statement, params, len(values_by_object)))
        else:
            _update_by_key(connection, table, keys, values_by_object)
        for obj, values in zip(objects, values_by_object, strict=True):
            for key, value in zip(keys[2:], values[2:], strict=True):
                set_committed_value(obj, key, value)
            state = inspect(obj)
            if not state.committed_state:
                # Nothing of it is left to write: clean for the ORM, as a flush leaves what
                # it wrote (else the next flush still walks it, to find nothing to send).
                state._commit_all(state.dict, session.identity_map)
            written.append((transaction, obj))


def update_rows(
    session: Session, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """Set columns of rows found by (id, tenant_id): `keys` starts with those two, the rest
    are the columns set; each row gives every key. One UPDATE ... FROM (VALUES ...) on
    PostgreSQL (as write_changes_plainly sends), one executemany elsewhere."""
    if not rows:
        return
    if is_sqlite(session.get_bind()):
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.tenant_id == bindparam("b_tenant_id"))
            .values({key: bindparam(f"b_{key}") for key in keys[2:]})
        )
        session.execute(statement, [{f"b_{k}": row[k] for k in keys} for row in rows])
        return
    _update_by_key(
        session.connection(), table, list(keys), [[row[k] for k in keys] for row in rows]
    )


def _update_by_key(
    connection: Connection, table: Table, keys: list[str], rows: list[list[Any]]
) -> None:
    """One UPDATE ... FROM (VALUES ...) of rows by (id, tenant_id), the first two keys."""
    statement, params = _update_by_key_sql(connection.dialect, table, keys, rows)
    _check_matched(_execute_numbered(connection, statement, params), len(rows), statement)


def _check_matched(result: Any, expected: int, statement: str) -> None:
    if result.rowcount != expected:
        raise StaleDataError(
            f"{_updated(statement)} expected {expected} rows, matched {result.rowcount}"
        )


def _updated(statement: str) -> str:
    """'UPDATE of <table>' from an UPDATE ... AS t statement (for its error)."""
    return "UPDATE of " + statement.split(" AS t", 1)[0].removeprefix("UPDATE ")


def _update_by_key_sql(
    dialect: Dialect,
    table: Table,
    keys: list[str],
    rows: list[list[Any]],
    *,
    as_given: frozenset[str] = frozenset(),
) -> tuple[str, list[Any]]:
    """The UPDATE ... FROM (VALUES ...) of rows by (id, tenant_id), with its parameters."""
    quote = dialect.identifier_preparer
    columns = [table.c[key] for key in keys]
    casts = [column.type.compile(dialect=dialect) for column in columns]
    processors = [
        None if key in as_given else column.type._cached_bind_processor(dialect)
        for key, column in zip(keys, columns, strict=True)
    ]
    row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    names = ", ".join(quote.quote(key) for key in keys)
    sets = ", ".join(f"{quote.quote(key)} = v.{quote.quote(key)}" for key in keys[2:])
    statement = (
        f"UPDATE {quote.format_table(table)} AS t SET {sets} "
        f"FROM (VALUES {', '.join([row] * len(rows))}) AS v({names}) "
        "WHERE t.id = v.id AND t.tenant_id = v.tenant_id"
    )
    params: list[Any] = []
    for values in rows:
        params.extend(
            value if process is None else process(value)
            for value, process in zip(values, processors, strict=True)
        )
    return statement, params


@event.listens_for(Session, "after_soft_rollback")
def _expire_plainly_written(session: Session, previous_transaction: Any) -> None:
    """Expire what write_changes_plainly wrote in a (sub)transaction now rolled back."""
    written = session.info.get(_PLAINLY_WRITTEN)
    if not written:
        return
    kept = []
    for transaction, obj in written:
        current = transaction
        while current is not None and current is not previous_transaction:
            current = current.parent
        if current is None:
            kept.append((transaction, obj))
        elif obj in session:
            session.expire(obj)
    written[:] = kept


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
    # An executemany of INSERTs (a unit of work's audit entries, feed changes, movements)
    # goes out as one INSERT ... VALUES (...), (...) statement per page of rows, as it does
    # with RETURNING already: psycopg would otherwise send each row as a statement of its
    # own through its pipeline, which costs several times more CPU for the few rows a
    # request writes.
    engine.dialect.use_insertmanyvalues_wo_returning = True
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
