"""What every report is made of: typed columns, rows, the filters it ran with, a chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Numeric,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import BindParameter, UnaryExpression

from common.errors import PermissionDenied, ValidationFailed
from common.schemas.base import money_str, plain_str
from sync_server.db import AnySelect, Money, Qty, UTCDateTime, is_sqlite, utcnow
from sync_server.foundation.principal import Principal

ZERO = Decimal("0")
MONEY_PLACES = Decimal("0.01")
QTY_PLACES = Decimal("0.001")
RATIO_PLACES = Decimal("0.1")
# The longest range a report may cover: bounds the work one request can ask for.
MAX_RANGE_DAYS = 3 * 366
DEFAULT_RANGE_DAYS = 30
# A literal 0 written into the SQL, not bound: PostgreSQL sees a GROUP BY expression and the
# same expression in the SELECT as one only when no two bind parameters differ.
ZERO_SQL: ColumnClause[Any] = literal_column("0")
# A column of a table or select, or a mapped attribute of a model.
SqlColumn: TypeAlias = ColumnElement[Any] | InstrumentedAttribute[Any]


class Kind(StrEnum):
    """How a column's values are typed in JSON, CSV, XLSX and PDF."""

    TEXT = "text"
    INT = "int"
    MONEY = "money"
    QTY = "qty"
    RATIO = "ratio"  # percentages and day counts, one decimal
    DATE = "date"


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: Kind = Kind.TEXT
    # An id for machines (CSV, XLSX, JSON); a printed page leaves it out.
    internal: bool = False
    # Whether a totals row adds this column up; None adds money, quantities and counts.
    total: bool | None = None

    @property
    def numeric(self) -> bool:
        return self.kind not in (Kind.TEXT, Kind.DATE)

    @property
    def summed(self) -> bool:
        """Whether the column's values add up to a meaningful total."""
        if self.internal:
            return False
        if self.total is not None:
            return self.total
        return self.kind in (Kind.MONEY, Kind.QTY, Kind.INT)


@dataclass(frozen=True, slots=True)
class Chart:
    """A line chart over the rows: x is a column key, each series another column key."""

    x: str
    series: Sequence[str]


@dataclass(slots=True)
class Report:
    name: str
    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    filters: dict[str, Any]
    generated_at: datetime = field(default_factory=utcnow)
    chart: Chart | None = None
    notes: Sequence[str] = ()

    def typed_rows(self) -> list[list[Any]]:
        """Return each row as a list of Python values (Decimal, date, int, str) per column."""
        return [[typed(row.get(c.key), c.kind) for c in self.columns] for row in self.rows]


def typed(value: Any, kind: Kind) -> Any:
    """Normalise a database value to its column's Python type and precision."""
    if value is None:
        return None
    if kind == Kind.MONEY:
        return to_dec(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
    if kind == Kind.QTY:
        return to_dec(value).quantize(QTY_PLACES, rounding=ROUND_HALF_UP)
    if kind == Kind.RATIO:
        return to_dec(value).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)
    if kind == Kind.INT:
        return int(value)
    if kind == Kind.DATE:
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return str(value)


def wire(value: Any, kind: Kind) -> Any:
    """Return a typed value as it travels in JSON: money and quantities as strings."""
    if value is None:
        return None
    if kind == Kind.MONEY:
        return money_str(value)
    if kind in (Kind.QTY, Kind.RATIO):
        return plain_str(value)
    if kind == Kind.DATE:
        return value.isoformat()
    return value


def to_dec(value: Any) -> Decimal:
    """Turn a database number into a Decimal; SQLite may hand back a float for a SUM."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def ratio(numerator: Any, denominator: Any, *, scale: int = 100) -> Decimal | None:
    """Return numerator / denominator × scale, or None when the denominator is zero."""
    if numerator is None or denominator is None:
        return None
    den = to_dec(denominator)
    if den == 0:
        return None
    return to_dec(numerator) * scale / den


# SQL helpers -------------------------------------------------------------------------------


def money_sum(expr: SqlColumn) -> ColumnElement[Decimal]:
    """SUM that is never NULL and comes back as Decimal on both engines."""
    return type_coerce(func.coalesce(func.sum(expr), literal(0)), Money())


def qty_sum(expr: SqlColumn) -> ColumnElement[Decimal]:
    return type_coerce(func.coalesce(func.sum(expr), literal(0)), Qty())


def big_query(session: Session, *, work_mem: str = "64MB", nested_loops: bool = True) -> None:
    """Ready this transaction on PostgreSQL for one large report query (nothing on SQLite).

    JIT off: a report's estimates run to millions of rows, which makes PostgreSQL compile
    the plan (seconds of LLVM) for queries that run in well under a second without.
    work_mem raised for the transaction only: the grouped hash tables (a few hundred
    thousand product-days) stay in memory instead of spilling in batches to disk.
    Without `nested_loops`, joins go by hash: for a query whose grouped rows the planner
    cannot count (it guesses a few thousand where there are 200k, then looks each one up).
    """
    if is_sqlite(session.get_bind()):
        return
    session.execute(
        select(
            func.set_config("jit", "off", True),
            func.set_config("work_mem", work_mem, True),
            func.set_config("enable_nestloop", "on" if nested_loops else "off", True),
        )
    )


def unindexed(column: SqlColumn) -> ColumnElement[Any]:
    """SQLite's `+column`: the same value, which the planner may not look up by an index."""
    element = column.expression if isinstance(column, InstrumentedAttribute) else column
    return UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)


def upsert(session: Session, table: Table, stmt: AnySelect, *, keys: list[str]) -> None:
    """Insert the statement's rows; where a key exists, add the sums to it."""
    session.execute(upsert_statement(session, table, stmt, keys=keys))


def upsert_statement(session: Session, table: Table, stmt: AnySelect, *, keys: list[str]) -> Any:
    """Return upsert's statement (for the session's dialect), to be run or kept."""
    names = [c.name for c in stmt.selected_columns]
    sums = [n for n in names if n not in keys]
    dialect = sqlite if is_sqlite(session.get_bind()) else postgresql
    ins = dialect.insert(table).from_select(names, stmt)
    return ins.on_conflict_do_update(
        index_elements=keys,
        set_={n: table.c[n] + ins.excluded[n] for n in sums},
    )


def upsert_latest_statement(
    session: Session, table: Table, stmt: AnySelect, *, keys: list[str], column: str
) -> Any:
    """Return the statement that inserts the rows; where a key exists, it keeps the later
    of the two `column`s (for the session's dialect)."""
    names = [c.name for c in stmt.selected_columns]
    sqlite_db = is_sqlite(session.get_bind())
    dialect = sqlite if sqlite_db else postgresql
    ins = dialect.insert(table).from_select(names, stmt)
    later = func.max if sqlite_db else func.greatest  # SQLite's max(a, b) is a scalar max
    return ins.on_conflict_do_update(
        index_elements=keys, set_={column: later(table.c[column], ins.excluded[column])}
    )


def num(value: Decimal | int) -> ColumnElement[Decimal]:
    """A numeric literal bound as NUMERIC (never a float)."""
    return literal(Decimal(value), Numeric(14, 4))


def bucket(session: Session, expr: ColumnElement[Any], grain: Grain) -> ColumnElement[str]:
    """Return the start of expr's day/week (Monday)/month in UTC as 'YYYY-MM-DD' text."""
    if is_sqlite(session.get_bind()):
        if grain == Grain.DAY:
            return func.strftime("%Y-%m-%d", expr)
        if grain == Grain.WEEK:
            # 'weekday 0' moves to the next Sunday (or stays), six days back is its Monday.
            return func.date(expr, "weekday 0", "-6 days")
        return func.strftime("%Y-%m-01", expr)
    local = func.timezone("UTC", expr)
    return func.to_char(func.date_trunc(grain.value, local), "YYYY-MM-DD")


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def bucket_of(day: date, grain: Grain) -> date:
    """Python twin of bucket(): the first day of day's bucket."""
    if grain == Grain.DAY:
        return day
    if grain == Grain.WEEK:
        return week_start(day)
    return day.replace(day=1)


def next_bucket(day: date, grain: Grain) -> date:
    if grain == Grain.DAY:
        return day + timedelta(days=1)
    if grain == Grain.WEEK:
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def start_of(day: date) -> datetime:
    """Return midnight UTC at the start of day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


# Filters -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The caller's tenant and branches, and what the report was narrowed to."""

    tenant_id: int
    # None means every branch of the tenant; otherwise only these.
    branch_ids: frozenset[int] | None
    date_from: date
    date_to: date
    category_id: int | None = None
    supplier_id: int | None = None
    channel: str | None = None
    cashier_id: int | None = None
    branch_id: int | None = None

    @property
    def start(self) -> datetime:
        return start_of(self.date_from)

    @property
    def end(self) -> datetime:
        """The exclusive end: midnight after date_to."""
        return start_of(self.date_to + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def shape(self) -> tuple[Any, ...]:
        """What gives a report statement its form: which filters are set (not their
        values), and the channel, which picks the sources of the sales facts."""
        return (
            self.branch_ids is None,
            self.channel,
            self.cashier_id is None,
            self.category_id is None,
            self.supplier_id is None,
        )

    def sql(self) -> SqlFilters:
        """Return the filters as bind parameters, for a statement kept by shape."""

        def bound(name: str, value: Any) -> BindParameter[Any] | None:
            return None if value is None else bindparam(name)

        return SqlFilters(
            tenant_id=bindparam("tenant_id"),
            branch_ids=None if self.branch_ids is None else bindparam("branch_ids", expanding=True),
            start=bindparam("start", type_=UTCDateTime()),
            end=bindparam("end", type_=UTCDateTime()),
            channel=bound("channel", self.channel),
            channel_value=self.channel,
            cashier_id=bound("cashier_id", self.cashier_id),
            category_id=bound("category_id", self.category_id),
            supplier_id=bound("supplier_id", self.supplier_id),
        )

    def params(self) -> dict[str, Any]:
        """Return the values of the bind parameters of `sql()`."""
        return {
            "tenant_id": self.tenant_id,
            "branch_ids": None if self.branch_ids is None else sorted(self.branch_ids),
            "start": self.start,
            "end": self.end,
            "channel": self.channel,
            "cashier_id": self.cashier_id,
            "category_id": self.category_id,
            "supplier_id": self.supplier_id,
        }

    def describe(self) -> dict[str, Any]:
        """Return the filters as they are shown on a report."""
        shown: dict[str, Any] = {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
        }
        for key in ("branch_id", "category_id", "supplier_id", "channel", "cashier_id"):
            value = getattr(self, key)
            if value is not None:
                shown[key] = value
        return shown


@dataclass(frozen=True, slots=True)
class SqlFilters:
    """Filters as bind parameters, None where a filter is not set: what a report statement
    kept once per shape is built from (reports/statements.py). Filters.params() gives the
    values; the tenant is always a parameter, never a value in a kept statement."""

    tenant_id: BindParameter[Any]
    branch_ids: BindParameter[Any] | None
    start: BindParameter[Any]
    end: BindParameter[Any]
    channel: BindParameter[Any] | None
    # The channel asked for: it picks the sources of the sales facts (part of the shape).
    channel_value: str | None
    cashier_id: BindParameter[Any] | None
    category_id: BindParameter[Any] | None
    supplier_id: BindParameter[Any] | None


def make_filters(
    *,
    principal: Principal,
    branch_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    category_id: int | None = None,
    supplier_id: int | None = None,
    channel: str | None = None,
    cashier_id: int | None = None,
    today: date | None = None,
) -> Filters:
    """Check the filters against the caller and fill in the default range (last 30 days)."""
    today = today or utcnow().date()
    date_to = date_to or today
    date_from = date_from or (date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if date_from > date_to:
        raise ValidationFailed("date_from must be on or before date_to.")
    if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(f"A report covers at most {MAX_RANGE_DAYS} days.")
    if branch_id is not None:
        if not principal.may_use_branch(branch_id):
            raise PermissionDenied(f"You may not see reports of branch {branch_id}.")
        branches: frozenset[int] | None = frozenset({branch_id})
    elif principal.all_branches:
        branches = None
    else:
        branches = frozenset(principal.branch_ids)
    return Filters(
        tenant_id=principal.tenant_id,
        branch_ids=branches,
        date_from=date_from,
        date_to=date_to,
        category_id=category_id,
        supplier_id=supplier_id,
        channel=channel,
        cashier_id=cashier_id,
        branch_id=branch_id,
    )


def in_branches(column: SqlColumn, filters: Filters | SqlFilters) -> ColumnElement[bool] | None:
    """Return the branch condition of the filters, or None when every branch is allowed."""
    if filters.branch_ids is None:
        return None
    if isinstance(filters.branch_ids, BindParameter):
        return column.in_(filters.branch_ids)
    return column.in_(sorted(filters.branch_ids))
