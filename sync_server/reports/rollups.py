"""Product and tender day summaries: kept beside the daily sales summary, read the same way.

``add_range`` sums the till sales and returns of one watermark step (ids after the old
watermark up to the new one) into ``report_product_daily`` and ``report_tender_daily`` with
one INSERT … SELECT … ON CONFLICT per table, so a backfill of millions of lines never
passes through Python. Reads add, like ``summary.daily_figures``, the lines after the
watermark (and every online and wholesale line, whose status may still change) and take
off the summed sales voided since.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from common.codes import Channel, Tender
from sync_server.db import AnySelect, Money, is_sqlite
from sync_server.reports import totals
from sync_server.reports.base import (
    ZERO_SQL,
    SqlColumn,
    SqlFilters,
    in_branches,
    unindexed,
    upsert_latest_statement,
    upsert_statement,
)
from sync_server.reports.facts import Watermark, marked, sales_facts
from sync_server.reports.models import ProductDaily, ProductLastDay, SummaryState, TenderDaily
from sync_server.reports.statements import once
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine, SalePayment, not_completed


def day_of(session: Session, column: SqlColumn) -> Any:
    """Midnight UTC starting a timestamp column's day, stored as the column type stores it."""
    if is_sqlite(session.get_bind()):
        # SQLAlchemy keeps SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text.
        return func.strftime("%Y-%m-%d 00:00:00.000000", column)
    return func.timezone("UTC", func.date_trunc("day", func.timezone("UTC", column)))


def add_range(
    session: Session, *, tenant_id: int, sales: tuple[int, int], returns: tuple[int, int]
) -> None:
    """Sum till sales with ids in (sales[0], sales[1]] and returns likewise into the tables."""
    for (after, through), name, build in (
        (sales, "sales", _sales_step),
        (returns, "returns", _returns_step),
    ):
        if through > after:
            values = {"tenant_id": tenant_id, "after": after, "through": through}
            for stmt in once(session, ("rollups.add_range", name), partial(build, session)):
                session.execute(stmt, values)


def _sales_step(session: Session) -> list[Any]:
    """The upserts of a step's till sales (ids in (after, through] of the tenant): product
    days, their products' last days, tenders and the change given back."""
    # The tenant as a selected value is typed as a plain integer, as literal() typed it.
    tenant = bindparam("tenant_id", type_=Integer)
    in_step = (
        Sale.tenant_id == bindparam("tenant_id"),
        Sale.id > bindparam("after"),
        Sale.id <= bindparam("through"),
    )
    day = day_of(session, Sale.occurred_at)
    sold = (
        select(
            tenant.label("tenant_id"),
            day.label("day"),
            Sale.branch_id.label("branch_id"),
            SaleLine.product_id.label("product_id"),
            Sale.channel.label("channel"),
            literal(0, Integer).label("is_return"),
            func.count().label("lines"),
            func.sum(SaleLine.quantity).label("quantity"),
            func.sum(SaleLine.total).label("revenue"),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(*in_step)
        .group_by(day, Sale.branch_id, SaleLine.product_id, Sale.channel)
    )
    cashier = func.coalesce(Sale.cashier_id, ZERO_SQL)
    # A tender day's key but its tender: the payments' and the change given back's rows.
    till_day = (
        tenant.label("tenant_id"),
        day.label("day"),
        Sale.branch_id.label("branch_id"),
        Sale.channel.label("channel"),
        cashier.label("cashier_id"),
    )
    paid = (
        select(
            *till_day,
            SalePayment.method.label("tender"),
            func.count().label("payments"),
            func.sum(SalePayment.amount).label("amount"),
        )
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(*in_step)
        .group_by(day, Sale.branch_id, Sale.channel, cashier, SalePayment.method)
    )
    change = (
        select(
            *till_day,
            literal(Tender.CASH.value, String(16)).label("tender"),
            literal(0, Integer).label("payments"),
            func.sum(-Sale.change_due).label("amount"),
        )
        .where(*in_step, Sale.change_due != 0)
        .group_by(day, Sale.branch_id, Sale.channel, cashier)
    )
    return [
        upsert_statement(session, ProductDaily.__table__, sold, keys=PRODUCT_KEY),
        _latest(session, sold),
        upsert_statement(session, TenderDaily.__table__, paid, keys=TENDER_KEY),
        upsert_statement(session, TenderDaily.__table__, change, keys=TENDER_KEY),
    ]


def _returns_step(session: Session) -> list[Any]:
    """The upserts of a step's till returns (ids in (after, through] of the tenant)."""
    day_r = day_of(session, Return.occurred_at)
    back = (
        select(
            bindparam("tenant_id", type_=Integer).label("tenant_id"),
            day_r.label("day"),
            Return.branch_id.label("branch_id"),
            ReturnLine.product_id.label("product_id"),
            literal(Channel.IN_STORE.value, String(16)).label("channel"),
            literal(1, Integer).label("is_return"),
            func.count().label("lines"),
            func.sum(-ReturnLine.quantity).label("quantity"),
            func.sum(-ReturnLine.amount).label("revenue"),
        )
        .join(Return, Return.id == ReturnLine.return_id)
        .where(
            Return.tenant_id == bindparam("tenant_id"),
            Return.id > bindparam("after"),
            Return.id <= bindparam("through"),
        )
        .group_by(day_r, Return.branch_id, ReturnLine.product_id)
    )
    return [
        upsert_statement(session, ProductDaily.__table__, back, keys=PRODUCT_KEY),
        _latest(session, back),
    ]


def _latest(session: Session, days: AnySelect) -> Any:
    """The upsert that moves each product's last summed day (per channel and direction) up
    to the step's."""
    step = days.subquery("step")
    latest = select(
        step.c.tenant_id,
        step.c.product_id,
        step.c.channel,
        step.c.is_return,
        func.max(step.c.day).label("day"),
    ).group_by(step.c.tenant_id, step.c.product_id, step.c.channel, step.c.is_return)
    return upsert_latest_statement(
        session, ProductLastDay.__table__, latest, keys=LAST_DAY_KEY, column="day"
    )


PRODUCT_KEY = ["tenant_id", "day", "branch_id", "product_id", "channel", "is_return"]
TENDER_KEY = ["tenant_id", "day", "branch_id", "channel", "cashier_id", "tender"]
LAST_DAY_KEY = ["tenant_id", "product_id", "channel", "is_return"]


def aligned(moment: datetime) -> None:
    """Refuse a range end that is not midnight UTC: the stored rows are whole UTC days."""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise ValueError(f"summary ranges run midnight to midnight, not from {moment}")


def _voided(filters: SqlFilters, *, through: Any, start: Any, end: Any) -> list[Any]:
    """Return the conditions on Sale that find summed till sales voided since (through the
    small partial index of sales that are not completed, ix_sales_not_completed)."""
    conds = [
        Sale.tenant_id == filters.tenant_id,
        not_completed(),
        Sale.id <= through,
        Sale.occurred_at >= start,
        Sale.occurred_at < end,
    ]
    branch = in_branches(Sale.branch_id, filters)
    if branch is not None:
        conds.append(branch)
    if filters.channel is not None:
        conds.append(Sale.channel == filters.channel)
    if filters.cashier_id is not None:
        conds.append(Sale.cashier_id == filters.cashier_id)
    return conds


def product_facts(
    session: Session,
    *,
    filters: SqlFilters,
    start: Any,
    end: Any,
    marks: tuple[Any, Any],
    stored: totals.StoredRows | None = None,
) -> Subquery:
    """Rows of (branch_id, product_id, occurred_at, is_return, lines, quantity, revenue)
    adding up to the sales facts of the range per product; without a cashier filter.

    occurred_at is the day (midnight UTC) on every row, so a day's summed lines, its tail
    and the voids taken off it group together.

    `marks` are the summary's (sale id, return id) watermarks (bound_marks); (0, 0) reads
    every line. With `stored` (for callers that group by product only) the summed part
    comes from the month-start product totals (branch_id NULL, occurred_at the start).
    """
    assert filters.cashier_id is None
    summed = (
        stored.selects(filters, start=start, end=end)
        if stored is not None
        else [stored_days(filters, start=start, end=end)]
    )
    parts = [*summed, *unsummed(session, filters=filters, start=start, end=end, marks=marks)]
    return union_all(*parts).subquery("product_facts")


def stored_days(filters: SqlFilters, *, start: Any, end: Any) -> AnySelect:
    """The product_facts rows of the day summary in [start, end) (what the watermark covers)."""
    d = ProductDaily
    stored = select(
        d.branch_id.label("branch_id"),
        d.product_id.label("product_id"),
        d.day.label("occurred_at"),
        d.is_return.label("is_return"),
        d.lines.label("lines"),
        d.quantity.label("quantity"),
        d.revenue.label("revenue"),
    ).where(d.tenant_id == filters.tenant_id, d.day >= start, d.day < end)
    branch = in_branches(d.branch_id, filters)
    if branch is not None:
        stored = stored.where(branch)
    if filters.channel is not None:
        stored = stored.where(d.channel == filters.channel)
    return stored


def unsummed(
    session: Session, *, filters: SqlFilters, start: Any, end: Any, marks: tuple[Any, Any]
) -> list[AnySelect]:
    """The product_facts rows beside the day summary's: the lines after the watermark (and
    every online and wholesale line), and the summed sales voided since as -1 lines."""
    parts = [_tail(session, filters=filters, start=start, end=end, through=marks)]
    if marked(marks[0]):
        conds = _voided(filters, through=marks[0], start=start, end=end)
        parts.append(
            select(
                Sale.branch_id.label("branch_id"),
                SaleLine.product_id.label("product_id"),
                day_of(session, Sale.occurred_at).label("occurred_at"),
                literal(0, Integer).label("is_return"),
                literal(-1, Integer).label("lines"),
                (-SaleLine.quantity).label("quantity"),
                (-SaleLine.total).label("revenue"),
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(*conds)
        )
    return parts


def _tail(
    session: Session, *, filters: SqlFilters, start: Any, end: Any, through: tuple[Any, Any]
) -> AnySelect:
    """The product_facts rows the summary does not hold: lines after the watermark, every
    online and wholesale line."""
    facts = sales_facts(
        filters,
        start=start,
        end=end,
        till_sales_after=through[0],
        till_returns_after=through[1],
        sqlite=is_sqlite(session.get_bind()),
    )
    return select(
        facts.c.branch_id,
        facts.c.product_id,
        day_of(session, facts.c.occurred_at).label("occurred_at"),
        facts.c.is_return,
        literal(1, Integer).label("lines"),
        facts.c.quantity,
        facts.c.revenue,
    )


def last_days(
    filters: SqlFilters, *, start: Any, end: Any, marks: tuple[Any, Any]
) -> tuple[AnySelect, AnySelect] | None:
    """Each product's last summed sale and return day in [start, end), from the last-day
    summary: (rows of product_id, is_return, occurred_at; products whose last sale day
    before `end` those rows cannot give: product_id), or None when the summary cannot
    answer (a branch or cashier filter, nothing summed yet).

    The rows leave out the second set: products on summed sales voided since (a voided
    sale may have been their last) and those with a summed day at or after `end` (their
    last day before it is not stored). Callers group those from their product days, and
    add the lines the summary does not hold (unsummed).
    """
    if filters.branch_ids is not None or filters.cashier_id is not None:
        return None
    if not marked(marks[0]):
        return None
    last = ProductLastDay
    mine = [last.tenant_id == filters.tenant_id]
    if filters.channel is not None:
        mine.append(last.channel == filters.channel)
    later = select(last.product_id).where(*mine, last.day >= end)
    grouped = union_all(
        voided_products(filters, start=start, end=end, marks=marks), later
    ).subquery("per_day")
    per_day = select(grouped.c.product_id)
    rows = select(
        last.product_id.label("product_id"),
        last.is_return.label("is_return"),
        last.day.label("occurred_at"),
    ).where(*mine, last.day >= start, last.day < end, last.product_id.not_in(per_day))
    return rows, per_day


def voided_products(
    filters: SqlFilters, *, start: Any, end: Any, marks: tuple[Any, Any]
) -> AnySelect:
    """Products on summed till sales of the range voided since (the only products whose
    product_facts rows include -1 lines), through the partial index of such sales."""
    conds = _voided(filters, through=marks[0], start=start, end=end)
    return select(SaleLine.product_id).join(Sale, Sale.id == SaleLine.sale_id).where(*conds)


def detail_product_facts(
    session: Session, *, filters: SqlFilters, start: Any, end: Any
) -> Subquery:
    """The same rows as product_facts read from the lines alone (any filters)."""
    facts = sales_facts(filters, start=start, end=end)
    return select(
        facts.c.branch_id,
        facts.c.product_id,
        day_of(session, facts.c.occurred_at).label("occurred_at"),
        facts.c.is_return,
        literal(1, Integer).label("lines"),
        facts.c.quantity,
        facts.c.revenue,
    ).subquery("product_facts")


def till_tenders(
    session: Session, *, filters: SqlFilters, marks: tuple[Any, Any]
) -> list[tuple[AnySelect, Any]]:
    """(select of tender, amount, refunded, counted; its branch column) for till payments.

    Summed days from report_tender_daily, the payments after the watermark, and the summed
    sales voided since taken off.
    """
    start, end = filters.start, filters.end
    sqlite_db = is_sqlite(session.get_bind())
    zero = literal(0, Money())
    t = TenderDaily
    stored = select(
        t.tender.label("tender"),
        t.amount.label("amount"),
        zero.label("refunded"),
        t.payments.label("counted"),
    ).where(t.tenant_id == filters.tenant_id, t.day >= start, t.day < end)
    if filters.channel is not None:
        stored = stored.where(t.channel == filters.channel)
    if filters.cashier_id is not None:
        stored = stored.where(t.cashier_id == filters.cashier_id)
    out: list[tuple[AnySelect, Any]] = [(stored, t.branch_id)]
    through = marks[0]
    scan_tail = sqlite_db and marked(through)

    def live(sign: int, conds: list[Any]) -> None:
        s = literal(sign, Integer)
        paid = (
            select(
                SalePayment.method.label("tender"),
                (s * SalePayment.amount).label("amount"),
                zero.label("refunded"),
                s.label("counted"),
            )
            .join(Sale, Sale.id == SalePayment.sale_id)
            .where(*conds)
        )
        change = select(
            literal(Tender.CASH.value, String(16)).label("tender"),
            (s * -Sale.change_due).label("amount"),
            zero.label("refunded"),
            literal(0, Integer).label("counted"),
        ).where(*conds, Sale.change_due != 0)
        out.append((paid, None))
        out.append((change, None))

    tenant = unindexed(Sale.tenant_id) if scan_tail else Sale.tenant_id
    when = unindexed(Sale.occurred_at) if scan_tail else Sale.occurred_at
    branch_col = unindexed(Sale.branch_id) if scan_tail else Sale.branch_id
    tail = [
        tenant == filters.tenant_id,
        Sale.status == "completed",
        Sale.id > through,
        when >= start,
        when < end,
    ]
    branch = in_branches(branch_col, filters)
    if branch is not None:
        tail.append(branch)
    if filters.channel is not None:
        tail.append(Sale.channel == filters.channel)
    if filters.cashier_id is not None:
        tail.append(Sale.cashier_id == filters.cashier_id)
    live(1, tail)
    if marked(through):
        live(-1, _voided(filters, through=through, start=start, end=end))
    return out


# The stored watermarks, read inside a report's own statement (see read_marks).
SALE_MARK = (
    select(SummaryState.sale_id_through)
    .where(SummaryState.tenant_id == bindparam("tenant_id"))
    .scalar_subquery()
)
RETURN_MARK = (
    select(SummaryState.return_id_through)
    .where(SummaryState.tenant_id == bindparam("tenant_id"))
    .scalar_subquery()
)
_MARKS_NOW = select(SummaryState.sale_id_through, SummaryState.return_id_through).where(
    SummaryState.tenant_id == bindparam("tenant_id")
)


def read_marks(session: Session, *, tenant_id: int) -> tuple[Any, Any]:
    """The sale and return watermarks for a report's query: (0, 0) before any refresh, else
    SQL that reads them in the report's own statement, their values now as the floors.

    Read in the same statement as the summary rows, the watermark and the rows it covers
    come from one snapshot, even when the keeper commits a step in between (PostgreSQL
    reads each statement of a READ COMMITTED transaction at its own moment).
    """
    now = session.execute(_MARKS_NOW, {"tenant_id": tenant_id}).first()
    if now is None:
        return 0, 0
    return Watermark(SALE_MARK, int(now[0])), Watermark(RETURN_MARK, int(now[1]))


def bound_marks(marks: tuple[Any, Any]) -> tuple[Any, Any]:
    """The watermarks as a kept statement holds them: read in it, their floors bound
    (mark_params gives the values)."""
    if not marked(marks[0]):
        return 0, 0
    return (
        Watermark(SALE_MARK, bindparam("sale_floor")),
        Watermark(RETURN_MARK, bindparam("return_floor")),
    )


def mark_params(marks: tuple[Any, Any]) -> dict[str, Any]:
    """The values of bound_marks' parameters."""
    if not marked(marks[0]):
        return {}
    return {"sale_floor": marks[0].floor, "return_floor": marks[1].floor}


def product_rows(
    session: Session,
    *,
    filters: SqlFilters,
    start: Any = None,
    end: Any = None,
    marks: tuple[Any, Any],
    stored: totals.StoredRows | None = None,
) -> Subquery:
    """Rows adding up to the range's sales per product: from the summary where it can answer
    (no cashier filter), else from the lines. Columns as product_facts (see `stored`).

    The range is the filters' unless `start` and `end` (SQL, midnight UTC) say otherwise;
    `marks` are bound_marks of read_marks."""
    start = filters.start if start is None else start
    end = filters.end if end is None else end
    if filters.cashier_id is not None:
        return detail_product_facts(session, filters=filters, start=start, end=end)
    return product_facts(session, filters=filters, start=start, end=end, marks=marks, stored=stored)
