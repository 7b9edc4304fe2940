"""Keep and read the daily sales summary (reports/models.py says why it exists).

``refresh`` adds the till sales and returns recorded since the last refresh; it runs from
``stockpilot-server reports refresh`` (a cron job) and is cheap when run often. Reading never
depends on it having run: ``daily_figures`` returns the summary rows plus, computed live,
what the summary does not hold yet (sales and returns after its watermark, every online
order, since orders change status) minus the sales voided after they were summed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.sql import Subquery

from sync_server.catalog.models import Product
from sync_server.db import AnySelect, Money, Qty, is_sqlite, utcnow
from sync_server.reports import rollups, totals
from sync_server.reports.base import (
    ZERO_SQL,
    Filters,
    SqlColumn,
    SqlFilters,
    in_branches,
    money_sum,
    qty_sum,
)
from sync_server.reports.facts import sales_facts
from sync_server.reports.models import SalesDaily, SummaryState
from sync_server.reports.statements import once
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine, not_completed

SUMS = (
    "sales",
    "quantity",
    "revenue",
    "discounts",
    "tax",
    "cost",
    "returns",
    "returned_quantity",
    "returned_amount",
)


def _state(session: Session, *, tenant_id: int) -> SummaryState | None:
    return session.scalar(select(SummaryState).where(SummaryState.tenant_id == tenant_id))


def _day(session: Session, column: SqlColumn) -> Any:
    """The UTC day of a timestamp column as 'YYYY-MM-DD' text."""
    if is_sqlite(session.get_bind()):
        return func.strftime("%Y-%m-%d", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")


def watermarks(session: Session, *, tenant_id: int) -> tuple[int, int]:
    """Return the last till sale id and return id the summaries hold (0, 0 before any)."""
    state = _state(session, tenant_id=tenant_id)
    return (state.sale_id_through, state.return_id_through) if state else (0, 0)


def locked_state(session: Session, *, tenant_id: int) -> SummaryState:
    """Return the tenant's summary state, locked: one refresh at a time per tenant."""
    state = claimed_state(session, tenant_id=tenant_id, wait=True)
    assert state is not None  # waited for
    return state


def claimed_state(session: Session, *, tenant_id: int, wait: bool) -> SummaryState | None:
    """Return the tenant's summary state, locked; None (not waited for) when another
    transaction holds it and `wait` is false.

    The keeper runs in every server process: when one is refreshing a tenant, the others
    go on to the next rather than queue behind it holding a pooled connection.
    """
    if is_sqlite(session.get_bind()):
        state = _state(session, tenant_id=tenant_id)
    else:
        locked = (
            select(SummaryState)
            .where(SummaryState.tenant_id == tenant_id)
            .with_for_update(skip_locked=not wait)
            .execution_options(populate_existing=True)
        )
        state = session.scalar(locked)
        if state is None:
            if not wait and _state(session, tenant_id=tenant_id) is not None:
                return None  # there, and another transaction holds it
            # The first refresh of a tenant. (Not tried first: an INSERT ... ON CONFLICT
            # waits for a transaction that is updating the row it conflicts with.)
            session.execute(
                postgresql.insert(SummaryState.__table__)
                .values(
                    tenant_id=tenant_id,
                    sale_id_through=0,
                    return_id_through=0,
                    refreshed_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            state = session.scalar(locked)
            if state is None:
                return None  # made by another transaction just now, which holds it
    if state is None:
        state = SummaryState(tenant_id=tenant_id, sale_id_through=0, return_id_through=0)
        session.add(state)
        session.flush()
    return state


def settled_tops(session: Session, *, tenant_id: int, ids: tuple[Any, ...]) -> list[int]:
    """Return the tenant's highest id in each of `ids` (id columns of tenant-keyed tables)
    below which no transaction still open can add a row.

    Rows take their ids from a sequence as they are inserted, so a transaction still open
    may hold an id below one already committed; a watermark set past it would never take
    that row. On PostgreSQL each table is locked in SHARE mode inside a savepoint: the lock
    waits for the transactions writing it (an INSERT holds its table lock before it draws
    its id), its top is read, and rolling back to the savepoint releases the lock at once.
    Writers are held off only while those already writing finish, never while the keeper
    sums. One table at a time: a writer may write the tables in either order (a push with a
    return and then a sale), and a keeper holding one table's lock while it waited for the
    other's would deadlock with it. (SQLite's write transaction already excludes every other
    writer.)
    """
    reads = [select(func.max(column)).where(column.class_.tenant_id == tenant_id) for column in ids]
    connection = session.connection()
    if is_sqlite(connection):
        return [connection.scalar(read) or 0 for read in reads]
    session.flush()  # nothing of the session's own may be rolled back with the savepoint
    tops = []
    for column, read in zip(ids, reads, strict=True):
        connection.exec_driver_sql("SAVEPOINT settled_tops")
        try:
            connection.exec_driver_sql(f"LOCK TABLE {column.class_.__table__.name} IN SHARE MODE")
            tops.append(connection.scalar(read) or 0)
        finally:
            connection.exec_driver_sql("ROLLBACK TO SAVEPOINT settled_tops")
            connection.exec_driver_sql("RELEASE SAVEPOINT settled_tops")
    return tops


def _visible_tops(session: Session, *, tenant_id: int, ids: tuple[Any, ...]) -> list[int]:
    """The tenant's highest committed id in each of `ids`, read without a lock.

    When none is past the state's watermarks nothing new is to be summed: every id drawn
    after the last settled read is above the tops it gave, and so above the watermarks.
    """
    return [
        session.scalar(select(func.max(column)).where(column.class_.tenant_id == tenant_id)) or 0
        for column in ids
    ]


def refresh(
    session: Session, *, tenant_id: int, limit: int | None = None, wait: bool = True
) -> dict[str, int]:
    """Add the till sales and returns recorded since the last refresh to the summaries.

    With a limit, at most that many sale ids (and return ids) are taken in this step, so a
    backfill of a bulk load goes in short transactions; "behind" says whether more wait.
    Without `wait`, a tenant another transaction is refreshing is skipped ("skipped": 1).
    """
    state = claimed_state(session, tenant_id=tenant_id, wait=wait)
    if state is None:
        return {"rows": 0, "sale_id_through": 0, "return_id_through": 0, "behind": 0, "skipped": 1}
    ids = (Sale.id, Return.id)
    sale_max, return_max = _visible_tops(session, tenant_id=tenant_id, ids=ids)
    if sale_max <= state.sale_id_through and return_max <= state.return_id_through:
        return {
            "rows": 0,
            "sale_id_through": state.sale_id_through,
            "return_id_through": state.return_id_through,
            "behind": 0,
        }
    sale_max, return_max = settled_tops(session, tenant_id=tenant_id, ids=ids)
    sale_top, return_top = sale_max, return_max
    if limit is not None:
        sale_top = min(sale_max, max(state.sale_id_through, 0) + limit)
        return_top = min(return_max, max(state.return_id_through, 0) + limit)
    sold, back = once(session, ("summary.refresh",), lambda: _step_sums(session))
    steps = (
        (sold, state.sale_id_through, sale_top),
        (back, state.return_id_through, return_top),
    )
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for stmt, after, through in steps:
        values = {"tenant_id": tenant_id, "after": after, "through": through}
        for row in session.execute(stmt, values).mappings():
            key = (
                datetime.fromisoformat(row["day"]).replace(tzinfo=UTC),
                row["branch_id"],
                row["channel"],
                row["cashier_id"],
            )
            sums = groups.setdefault(key, dict.fromkeys(SUMS, 0))
            for name in SUMS:
                sums[name] += row[name]
    if groups:
        _merge(session, tenant_id=tenant_id, groups=groups)
    rollups.add_range(
        session,
        tenant_id=tenant_id,
        sales=(state.sale_id_through, sale_top),
        returns=(state.return_id_through, return_top),
    )
    totals.add_range(
        session,
        state=state,
        sales=(state.sale_id_through, sale_top),
        returns=(state.return_id_through, return_top),
    )
    state.sale_id_through, state.return_id_through = sale_top, return_top
    state.refreshed_at = utcnow()
    session.flush()
    return {
        "rows": len(groups),
        "sale_id_through": sale_top,
        "return_id_through": return_top,
        "behind": int(sale_top < sale_max or return_top < return_max),
    }


def _step_sums(session: Session) -> tuple[AnySelect, AnySelect]:
    """The sums of a step's till sales and of its returns (ids in (after, through] of the
    tenant) per day, branch, channel and cashier."""
    zero_m, zero_q = literal(0, Money()), literal(0, Qty())
    day_s = _day(session, Sale.occurred_at)
    # Sales are summed whatever their status: voids come off at read time (see module doc).
    sold = (
        select(
            day_s.label("day"),
            Sale.branch_id.label("branch_id"),
            Sale.channel.label("channel"),
            func.coalesce(Sale.cashier_id, ZERO_SQL).label("cashier_id"),
            func.count(func.distinct(Sale.id)).label("sales"),
            qty_sum(SaleLine.quantity).label("quantity"),
            money_sum(SaleLine.total).label("revenue"),
            money_sum(SaleLine.discount).label("discounts"),
            money_sum(SaleLine.tax).label("tax"),
            money_sum(SaleLine.quantity * Product.cost).label("cost"),
            literal(0, Integer).label("returns"),
            zero_q.label("returned_quantity"),
            zero_m.label("returned_amount"),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .join(Product, Product.id == SaleLine.product_id)
        .where(
            Sale.tenant_id == bindparam("tenant_id"),
            Sale.id > bindparam("after"),
            Sale.id <= bindparam("through"),
        )
        .group_by(day_s, Sale.branch_id, Sale.channel, func.coalesce(Sale.cashier_id, ZERO_SQL))
    )
    day_r = _day(session, Return.occurred_at)
    back = (
        select(
            day_r.label("day"),
            Return.branch_id.label("branch_id"),
            literal("in_store", String(16)).label("channel"),
            func.coalesce(Return.cashier_id, ZERO_SQL).label("cashier_id"),
            literal(0, Integer).label("sales"),
            zero_q.label("quantity"),
            zero_m.label("revenue"),
            zero_m.label("discounts"),
            zero_m.label("tax"),
            zero_m.label("cost"),
            func.count(func.distinct(Return.id)).label("returns"),
            qty_sum(ReturnLine.quantity).label("returned_quantity"),
            money_sum(ReturnLine.amount).label("returned_amount"),
        )
        .join(Return, Return.id == ReturnLine.return_id)
        .where(
            Return.tenant_id == bindparam("tenant_id"),
            Return.id > bindparam("after"),
            Return.id <= bindparam("through"),
        )
        .group_by(day_r, Return.branch_id, func.coalesce(Return.cashier_id, ZERO_SQL))
    )
    return sold, back


def _merge(
    session: Session, *, tenant_id: int, groups: dict[tuple[Any, ...], dict[str, Any]]
) -> None:
    """Add the groups' sums into their summary rows, creating the rows not there yet."""
    days = [key[0] for key in groups]
    existing = {
        (row.day, row.branch_id, row.channel, row.cashier_id): row
        for row in session.scalars(
            select(SalesDaily).where(
                SalesDaily.tenant_id == tenant_id,
                SalesDaily.day >= min(days),
                SalesDaily.day <= max(days),
            )
        )
    }
    with session.no_autoflush:
        for key, sums in groups.items():
            target = existing.get(key)
            if target is None:
                day, branch_id, channel, cashier_id = key
                session.add(
                    SalesDaily(
                        tenant_id=tenant_id,
                        day=day,
                        branch_id=branch_id,
                        channel=channel,
                        cashier_id=cashier_id,
                        **sums,
                    )
                )
                continue
            for name in SUMS:
                setattr(target, name, getattr(target, name) + sums[name])
                # Every sum is written, changed or not: one UPDATE statement (compiled
                # once) instead of one per combination of the sums a step happened to move.
                flag_modified(target, name)


def daily_figures(session: Session, *, filters: SqlFilters, marks: tuple[Any, Any]) -> Subquery:
    """Return rows of (occurred_at, branch_id, channel, cashier_id, sums…) that add up to the
    sales figures of the filters' range; only for filters without a product dimension.

    `marks` are the watermarks as rollups.bound_marks gives them.
    """
    assert filters.category_id is None and filters.supplier_id is None
    sale_through, return_through = marks
    d = SalesDaily
    stored = select(
        d.day.label("occurred_at"),
        d.branch_id,
        d.channel,
        d.cashier_id,
        *(getattr(d, name).label(name) for name in SUMS),
    ).where(d.tenant_id == filters.tenant_id, d.day >= filters.start, d.day < filters.end)
    branch = in_branches(d.branch_id, filters)
    if branch is not None:
        stored = stored.where(branch)
    if filters.channel is not None:
        stored = stored.where(d.channel == filters.channel)
    if filters.cashier_id is not None:
        stored = stored.where(d.cashier_id == filters.cashier_id)
    sqlite = is_sqlite(session.get_bind())
    facts = sales_facts(
        filters,
        till_sales_after=sale_through,
        till_returns_after=return_through,
        sqlite=sqlite,
    )
    live = _grouped(facts, sign=1)
    # Voided sales are few: the partial index of sales not completed finds them.
    voided = _grouped(_voided_facts(filters, through=sale_through), sign=-1)
    return union_all(stored, live, voided).subquery("daily")


def _grouped(facts: Subquery, *, sign: int) -> AnySelect:
    """Sum facts per exact time, branch, channel and cashier into the summary's columns.

    A document has one time, branch, channel and cashier, so counting distinct documents
    per group and adding the counts up later never counts one twice.
    """
    product = Product.__table__
    sale = facts.c.is_return == 0
    back = facts.c.is_return == 1
    cost = func.coalesce(facts.c.cost, facts.c.quantity * product.c.cost)
    s = literal(sign, Integer)
    return (
        select(
            facts.c.occurred_at,
            facts.c.branch_id,
            facts.c.channel,
            func.coalesce(facts.c.cashier_id, ZERO_SQL).label("cashier_id"),
            (s * func.count(func.distinct(case((sale, facts.c.document))))).label("sales"),
            (s * qty_sum(case((sale, facts.c.quantity)))).label("quantity"),
            (s * money_sum(case((sale, facts.c.revenue)))).label("revenue"),
            (s * money_sum(case((sale, facts.c.discount)))).label("discounts"),
            (s * money_sum(case((sale, facts.c.tax)))).label("tax"),
            (s * money_sum(case((sale, cost)))).label("cost"),
            (s * func.count(func.distinct(case((back, facts.c.document))))).label("returns"),
            (s * qty_sum(case((back, -facts.c.quantity)))).label("returned_quantity"),
            (s * money_sum(case((back, -facts.c.revenue)))).label("returned_amount"),
        )
        .join(product, product.c.id == facts.c.product_id)
        .group_by(
            facts.c.occurred_at,
            facts.c.branch_id,
            facts.c.channel,
            func.coalesce(facts.c.cashier_id, ZERO_SQL),
        )
    )


def _voided_facts(filters: SqlFilters, *, through: Any) -> Subquery:
    """Lines of summed till sales that were voided since: the summary still counts them."""
    when = Sale.occurred_at
    stmt = (
        select(
            Sale.branch_id.label("branch_id"),
            SaleLine.product_id.label("product_id"),
            Sale.channel.label("channel"),
            Sale.cashier_id.label("cashier_id"),
            Sale.id.label("document"),
            Sale.occurred_at.label("occurred_at"),
            literal(0, Integer).label("is_return"),
            SaleLine.quantity.label("quantity"),
            SaleLine.total.label("revenue"),
            SaleLine.discount.label("discount"),
            SaleLine.tax.label("tax"),
            null().cast(Money()).label("cost"),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(
            Sale.tenant_id == filters.tenant_id,
            not_completed(),
            Sale.id <= through,
            when >= filters.start,
            when < filters.end,
        )
    )
    branch = in_branches(Sale.branch_id, filters)
    if branch is not None:
        stmt = stmt.where(branch)
    if filters.channel is not None:
        stmt = stmt.where(Sale.channel == filters.channel)
    if filters.cashier_id is not None:
        stmt = stmt.where(Sale.cashier_id == filters.cashier_id)
    return stmt.subquery("voided")


def uses_summary(filters: Filters | SqlFilters) -> bool:
    """Say whether the summary can answer: it has no product dimension."""
    return filters.category_id is None and filters.supplier_id is None


def present(daily: Subquery) -> Any:
    """HAVING condition: the group still holds a sale or a return once voids came off
    (the lines would not show a group whose only sale was voided)."""
    return or_(func.sum(daily.c.sales) != 0, func.sum(daily.c.returns) != 0)


def summed(daily: Subquery) -> list[Any]:
    """Return the aggregate columns of sales figures over daily_figures rows."""
    return [
        type_coerce(func.coalesce(func.sum(daily.c.sales), 0), Integer).label("sales"),
        qty_sum(daily.c.quantity).label("quantity"),
        money_sum(daily.c.revenue).label("revenue"),
        money_sum(daily.c.discounts).label("discounts"),
        money_sum(daily.c.tax).label("tax"),
        money_sum(daily.c.cost).label("cost"),
        type_coerce(func.coalesce(func.sum(daily.c.returns), 0), Integer).label("returns"),
        qty_sum(daily.c.returned_quantity).label("returned_quantity"),
        money_sum(daily.c.returned_amount).label("returned_amount"),
    ]
