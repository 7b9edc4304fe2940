"""Stock reports: shortages with days of cover, valuation (today or as of a date), movers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery
from sqlalchemy.types import NullType

from sync_server.catalog.models import Category, Product
from sync_server.db import AnySelect, Qty, UTCDateTime, is_sqlite
from sync_server.inventory.models import BranchProductSetting, StockLevel
from sync_server.org.models import Branch
from sync_server.reports.base import (
    ZERO,
    Column,
    Filters,
    Kind,
    Report,
    SqlFilters,
    big_query,
    in_branches,
    money_sum,
    qty_sum,
    start_of,
    to_dec,
    unindexed,
)
from sync_server.reports.facts import marked
from sync_server.reports.rollups import (
    bound_marks,
    last_days,
    mark_params,
    product_rows,
    read_marks,
    stored_days,
    unsummed,
    voided_products,
)
from sync_server.reports.snapshots import ledger_rows, snapshot_before
from sync_server.reports.statements import once

# Average daily sales for days of cover are taken over the last four weeks.
COVER_WINDOW_DAYS = 28


class MoverClass(StrEnum):
    FAST = "fast"
    NORMAL = "normal"
    SLOW = "slow"
    DEAD = "dead"


def _product_scope(stmt: AnySelect, filters: SqlFilters) -> AnySelect:
    if filters.category_id is not None:
        stmt = stmt.where(Product.category_id == filters.category_id)
    if filters.supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == filters.supplier_id)
    return stmt


def _sold_per_level(
    session: Session, filters: SqlFilters, *, marks: tuple[Any, Any], levels: AnySelect
) -> Subquery:
    """Return (branch_id, product_id, sold) over the cover window (parameters cover_start
    and cover_end), for the (branch_id, product_id) pairs the `levels` select gives."""
    start = bindparam("cover_start", type_=UTCDateTime())
    end = bindparam("cover_end", type_=UTCDateTime())
    facts = product_rows(session, filters=filters, start=start, end=end, marks=marks)
    return (
        select(
            facts.c.branch_id,
            facts.c.product_id,
            qty_sum(case((facts.c.is_return == 0, facts.c.quantity))).label("sold"),
        )
        # Only the short levels' sales are summed: a few thousand of a month's product days.
        .where(tuple_(facts.c.branch_id, facts.c.product_id).in_(levels))
        .group_by(facts.c.branch_id, facts.c.product_id)
        .subquery("sold")
    )


def _read_marks(session: Session, filters: Filters) -> tuple[Any, Any]:
    """The summary's watermarks where the product summaries answer (no cashier filter)."""
    if filters.cashier_id is None:
        return read_marks(session, tenant_id=filters.tenant_id)
    return 0, 0


def stock_shortages(session: Session, *, filters: Filters, today: date) -> Report:
    """List negative, out-of-stock and low levels per branch with a reorder suggestion."""
    marks = _read_marks(session, filters)
    stmt = once(
        session,
        ("stock_shortages", filters.shape, marked(marks[0])),
        lambda: _shortages_statement(session, filters.sql(), bound_marks(marks)),
    )
    end = start_of(today + timedelta(days=1))
    values = {
        **filters.params(),
        **mark_params(marks),
        "cover_start": end - timedelta(days=COVER_WINDOW_DAYS),
        "cover_end": end,
    }
    rows = []
    for r in session.execute(stmt, values).mappings():
        row = dict(r)
        avail, sold_qty = to_dec(row["available"]), to_dec(row["sold_28d"])
        per_day = sold_qty / COVER_WINDOW_DAYS
        row["daily_sales"] = per_day
        # Below zero there is nothing to cover with; with no sales the cover is unbounded.
        row["days_of_cover"] = max(avail, ZERO) / per_day if per_day > 0 else None
        # Order enough to get back to the threshold, and never less than the usual order.
        usual, floor = to_dec(row["reorder_quantity"]), to_dec(row["threshold"])
        row["suggested_order"] = max(usual, floor - avail)
        rows.append(row)
    return Report(
        name="stock-shortages",
        title="Stock shortages",
        columns=[
            Column("branch", "Branch"),
            Column("sku", "SKU"),
            Column("name", "Product"),
            Column("status", "Status"),
            Column("on_hand", "On hand", Kind.QTY),
            Column("reserved", "Reserved", Kind.QTY),
            Column("available", "Available", Kind.QTY),
            Column("threshold", "Threshold", Kind.QTY, total=False),
            Column("sold_28d", "Sold (28 d)", Kind.QTY),
            Column("daily_sales", "Avg daily sales", Kind.QTY, total=False),
            Column("days_of_cover", "Days of cover", Kind.RATIO),
            Column("suggested_order", "Suggested order", Kind.QTY),
            Column("branch_id", "Branch id", Kind.INT, internal=True),
            Column("product_id", "Product id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=_stock_filters(filters),
    )


def _shortages_statement(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any]
) -> AnySelect:
    # A branch's own threshold and reorder quantity beat the product's.
    threshold = func.coalesce(BranchProductSetting.low_stock_threshold, Product.low_stock_threshold)
    reorder = func.coalesce(BranchProductSetting.reorder_quantity, Product.reorder_quantity)
    available = StockLevel.on_hand - StockLevel.reserved
    setting = and_(
        BranchProductSetting.tenant_id == StockLevel.tenant_id,
        BranchProductSetting.branch_id == StockLevel.branch_id,
        BranchProductSetting.product_id == StockLevel.product_id,
    )
    # The short levels are found once (a CTE read twice is computed once on both engines):
    # their pairs pick the sales to sum, and they are the report's rows. Finding them joins
    # every level to its product, which was half of the report's time when done twice.
    found = (
        select(
            StockLevel.branch_id,
            StockLevel.product_id,
            StockLevel.on_hand,
            StockLevel.reserved,
            threshold.label("threshold"),
            reorder.label("reorder_quantity"),
        )
        .join(Product, Product.id == StockLevel.product_id)
        .outerjoin(BranchProductSetting, setting)
        .where(
            StockLevel.tenant_id == filters.tenant_id,
            Product.active.is_(True),
            or_(available <= threshold, available <= 0, StockLevel.on_hand < 0),
        )
    )
    branch = in_branches(StockLevel.branch_id, filters)
    if branch is not None:
        found = found.where(branch)
    short = _product_scope(found, filters).cte("short_levels")
    levels = select(short.c.branch_id, short.c.product_id)
    sold = _sold_per_level(session, filters, marks=marks, levels=levels)
    left = short.c.on_hand - short.c.reserved
    status = case(
        (short.c.on_hand < 0, literal("negative")),
        (left <= 0, literal("out")),
        else_=literal("low"),
    )
    stmt = (
        select(
            Branch.id.label("branch_id"),
            Branch.name.label("branch"),
            Product.id.label("product_id"),
            Product.sku,
            Product.name,
            status.label("status"),
            short.c.on_hand,
            short.c.reserved,
            left.label("available"),
            short.c.threshold,
            short.c.reorder_quantity,
            func.coalesce(sold.c.sold, 0).label("sold_28d"),
        )
        .select_from(short)
        .join(Product, Product.id == short.c.product_id)
        .join(Branch, Branch.id == short.c.branch_id)
        .outerjoin(
            sold,
            and_(sold.c.branch_id == short.c.branch_id, sold.c.product_id == short.c.product_id),
        )
        .order_by(Branch.name, left, Product.name)
    )
    return stmt


def _stock_filters(filters: Filters) -> dict[str, Any]:
    shown = filters.describe()
    for key in ("date_from", "date_to"):
        shown.pop(key, None)
    return shown


def stock_valuation(session: Session, *, filters: Filters, as_of: date | None) -> Report:
    """Value stock per branch and category at moving-average cost and at retail.

    Today's figures come from the stock levels and each product's moving-average cost. As of
    a past date, quantities are summed from the ledger up to the end of that day and the cost
    is the quantity-weighted average of the receipts up to then (the ledger does not keep
    the running average itself); retail is at today's price (prices keep no history).
    """
    values = filters.params()
    snapshot = None
    if as_of is not None:
        values["as_of_end"] = end = start_of(as_of + timedelta(days=1))
        values["snapshot"] = snapshot = snapshot_before(
            session, tenant_id=filters.tenant_id, end=end
        )
    past = as_of is not None
    stmt = once(
        session,
        ("stock_valuation", filters.shape, past, snapshot is not None),
        lambda: _valuation_statement(
            session, filters.sql(), past=past, snapshot=snapshot is not None
        ),
    )
    if past:
        big_query(session, nested_loops=False)
    rows = []
    for r in session.execute(stmt, values).mappings():
        row = dict(r)
        row["potential_margin"] = to_dec(row["retail_value"]) - to_dec(row["cost_value"])
        rows.append(row)
    shown = _stock_filters(filters)
    shown["as_of"] = as_of.isoformat() if as_of else "now"
    return Report(
        name="stock-valuation",
        title="Stock valuation" + (f" as of {as_of.isoformat()}" if as_of else ""),
        columns=[
            Column("branch", "Branch"),
            Column("category", "Category"),
            Column("products", "Products", Kind.INT),
            Column("quantity", "Quantity", Kind.QTY),
            Column("cost_value", "Value at cost", Kind.MONEY),
            Column("retail_value", "Value at retail", Kind.MONEY),
            Column("potential_margin", "Potential margin", Kind.MONEY),
            Column("branch_id", "Branch id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=shown,
    )


def _valuation_statement(
    session: Session, filters: SqlFilters, *, past: bool, snapshot: bool
) -> AnySelect:
    """Today's valuation, or (past) as of the day ending at parameter as_of_end, from the
    snapshot at parameter `snapshot` when there is one."""
    category_name = func.coalesce(Category.name, literal("(none)"))
    if not past:
        held_q = select(
            StockLevel.branch_id.label("branch_id"),
            StockLevel.product_id.label("product_id"),
            StockLevel.on_hand.label("quantity"),
            cast(null(), Product.cost.type).label("unit_cost"),  # Product.cost below
        ).where(StockLevel.tenant_id == filters.tenant_id)
        branch = in_branches(StockLevel.branch_id, filters)
    else:
        # The month's stock snapshot plus the movements since (reports/snapshots.py).
        moved, receipt_rows = ledger_rows(
            session,
            tenant_id=filters.tenant_id,
            end=bindparam("as_of_end", type_=UTCDateTime()),
            as_of=bindparam("snapshot", type_=UTCDateTime()) if snapshot else None,
        )
        receipts = (
            select(
                receipt_rows.c.product_id,
                (
                    func.sum(receipt_rows.c.receipt_value)
                    / func.nullif(func.sum(receipt_rows.c.receipt_quantity), 0)
                ).label("avg_cost"),
            )
            .group_by(receipt_rows.c.product_id)
            .subquery("receipt_cost")
        )
        # One row per branch and product already (snapshots.ledger_rows).
        ledger_q = select(
            moved.c.branch_id.label("branch_id"),
            moved.c.product_id.label("product_id"),
            type_coerce(func.coalesce(moved.c.quantity, 0), Qty()).label("quantity"),
        )
        branch_cond = in_branches(moved.c.branch_id, filters)
        if branch_cond is not None:
            ledger_q = ledger_q.where(branch_cond)
        ledger = ledger_q.subquery("ledger")
        # Products are joined once, in the query below, and by hash (big_query): a lookup
        # per row of 200k is what the planner picks when it underestimates them.
        held_q = select(
            ledger.c.branch_id,
            ledger.c.product_id,
            ledger.c.quantity,
            receipts.c.avg_cost.label("unit_cost"),
        ).outerjoin(receipts, receipts.c.product_id == ledger.c.product_id)
        branch = None
    if branch is not None:
        held_q = held_q.where(branch)
    held = held_q.subquery("held")
    stmt = (
        select(
            Branch.id.label("branch_id"),
            Branch.name.label("branch"),
            category_name.label("category"),
            func.count(held.c.product_id).label("products"),
            qty_sum(held.c.quantity).label("quantity"),
            money_sum(held.c.quantity * func.coalesce(held.c.unit_cost, Product.cost)).label(
                "cost_value"
            ),
            money_sum(held.c.quantity * Product.price).label("retail_value"),
        )
        .select_from(held)
        .join(Product, Product.id == held.c.product_id)
        .join(Branch, Branch.id == held.c.branch_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(held.c.quantity != 0)
        .group_by(Branch.id, Branch.name, category_name)
        .order_by(Branch.name, category_name)
    )
    return _product_scope(stmt, filters)


def movers(
    session: Session,
    *,
    filters: Filters,
    today: date,
    window_days: int,
    dead_days: int,
    only: MoverClass | None,
) -> Report:
    """Classify products by sales velocity: fast (top fifth), normal, slow (bottom fifth), dead.

    Dead means stock on hand but no sale for `dead_days`. Among products that sold in the
    window, percent_rank of velocity ≥ 0.8 is fast and < 0.2 is slow.
    """
    end = start_of(today + timedelta(days=1))
    marks = _read_marks(session, filters)
    stmt = once(
        session,
        ("movers", filters.shape, marked(marks[0]), only is None),
        lambda: _movers_statement(session, filters.sql(), bound_marks(marks), only=only),
    )
    params = {
        **filters.params(),
        **mark_params(marks),
        "look_start": end - timedelta(days=max(window_days, dead_days)),
        "look_end": end,
        "window_start": end - timedelta(days=window_days),
        "dead_start": end - timedelta(days=dead_days),
        "mover_class": only and only.value,
    }
    big_query(session)
    rows = []
    result = session.execute(stmt, params)
    names = list(result.keys())
    days: dict[object, date] = {}
    for values in result:
        row = dict(zip(names, values, strict=True))
        row["velocity"] = to_dec(row["sold"]) / window_days
        last = row["last_sale_at"]
        if last is None:
            row["days_since_sale"] = None
        else:
            # The day of the last sale (the summary keeps days, not times of day).
            seen = days.get(last)
            if seen is None:
                seen = days[last] = _as_date(last)
            row["last_sale_at"] = seen
            row["days_since_sale"] = (today - seen).days
        rows.append(row)
    shown = filters.describe()
    shown.update(window_days=window_days, dead_days=dead_days, today=today.isoformat())
    if only is not None:
        shown["class"] = only.value
    return Report(
        name="movers",
        title="Fast, slow and dead movers",
        columns=[
            Column("class", "Class"),
            Column("sku", "SKU"),
            Column("name", "Product"),
            Column("on_hand", "On hand", Kind.QTY),
            Column("sold", f"Sold ({window_days} d)", Kind.QTY),
            Column("velocity", "Per day", Kind.QTY, total=False),
            Column("last_sale_at", "Last sale", Kind.DATE),
            Column("days_since_sale", "Days since sale", Kind.INT, total=False),
            Column("product_id", "Product id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=shown,
    )


def _movers_statement(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any], *, only: MoverClass | None
) -> AnySelect:
    """The movers' rows over the look-back [look_start, look_end), sold since window_start,
    sale lines since dead_start (all parameters)."""
    end = bindparam("look_end", type_=UTCDateTime())
    look_start = bindparam("look_start", type_=UTCDateTime())
    window_start = bindparam("window_start", type_=UTCDateTime())
    dead_start = bindparam("dead_start", type_=UTCDateTime())
    last = last_days(filters, start=look_start, end=end, marks=marks)
    if last is None:
        sold = _sold_by_day(
            session,
            filters,
            marks,
            start=look_start,
            end=end,
            window=window_start,
            dead=dead_start,
        )
    else:
        sold = _sold_by_last_day(
            session,
            filters,
            marks,
            last,
            start=look_start,
            end=end,
            window=window_start,
            dead=dead_start,
        )
    stock_q = select(
        StockLevel.product_id.label("product_id"), qty_sum(StockLevel.on_hand).label("on_hand")
    ).where(StockLevel.tenant_id == filters.tenant_id)
    branch = in_branches(StockLevel.branch_id, filters)
    if branch is not None:
        stock_q = stock_q.where(branch)
    # SQLite walked the levels in product order through their product index, one table
    # lookup per level; a sweep of the table and a sort of its 200k levels is half the time.
    by_product = (
        unindexed(StockLevel.product_id) if is_sqlite(session.get_bind()) else StockLevel.product_id
    )
    stock = stock_q.group_by(by_product).subquery("stock")
    sold_qty = func.coalesce(sold.c.sold, 0)
    base_q = (
        select(
            Product.id.label("product_id"),
            Product.sku.label("sku"),
            Product.name.label("name"),
            func.coalesce(stock.c.on_hand, 0).label("on_hand"),
            sold_qty.label("sold"),
            func.coalesce(sold.c.recent, 0).label("recent"),
            sold.c.last_sale_at.label("last_sale_at"),
        )
        .outerjoin(stock, stock.c.product_id == Product.id)
        .outerjoin(sold, sold.c.product_id == Product.id)
        .where(
            Product.tenant_id == filters.tenant_id,
            Product.active.is_(True),
            or_(stock.c.on_hand > 0, sold.c.product_id.is_not(None)),
        )
    )
    # A CTE used twice (ranks, then classes) is computed once on both engines.
    base = _product_scope(base_q, filters).cte("base")
    sellers = (
        select(
            base.c.product_id,
            func.percent_rank().over(order_by=base.c.sold).label("rank"),
        )
        .where(base.c.sold > 0)
        .subquery("sellers")
    )
    klass = case(
        (and_(base.c.recent == 0, base.c.on_hand > 0), literal(MoverClass.DEAD.value)),
        (sellers.c.rank >= 0.8, literal(MoverClass.FAST.value)),
        (sellers.c.rank < 0.2, literal(MoverClass.SLOW.value)),
        (sellers.c.rank.is_not(None), literal(MoverClass.NORMAL.value)),
        else_=literal(MoverClass.SLOW.value),
    ).label("class")
    classed = (
        select(base, klass)
        .outerjoin(sellers, sellers.c.product_id == base.c.product_id)
        .subquery("classed")
    )
    # The last sale day comes back as the driver gives it (text on SQLite), unconverted:
    # the loop below converts each distinct day once, not once per product.
    columns = [
        type_coerce(c, NullType()).label(c.key) if c.key == "last_sale_at" else c for c in classed.c
    ]
    stmt = select(*columns).order_by(classed.c.sold.desc(), classed.c.product_id)
    if only is not None:
        stmt = stmt.where(classed.c["class"] == bindparam("mover_class"))
    return stmt


def _sold_by_day(
    session: Session,
    filters: SqlFilters,
    marks: tuple[Any, Any],
    *,
    start: Any,
    end: Any,
    window: Any,
    dead: Any,
) -> Subquery:
    """Per product that has sales facts in [start, end): sold since `window`, sale lines since
    `dead` (recent) and the last sale day, grouping the facts (any filters)."""
    facts = product_rows(session, filters=filters, start=start, end=end, marks=marks)
    # A day counts as a sale day when its sold lines are still there after voids come off
    # (the summary holds days, a voided sale is a -1 line). Only products on a voided sale
    # can have such a day, so only they are grouped per day; every other product is one
    # group whose last sale day is the latest day it has a sold line.
    day = facts.c.occurred_at  # already the day (see rollups.product_facts)
    sale = facts.c.is_return == 0
    voided = voided_products(filters, start=start, end=end, marks=marks)
    day_key = case((facts.c.product_id.in_(voided.scalar_subquery()), day))
    daily = (
        select(
            facts.c.product_id.label("product_id"),
            day_key.label("day"),
            qty_sum(case((and_(sale, facts.c.occurred_at >= window), facts.c.quantity))).label(
                "sold"
            ),
            func.sum(case((and_(sale, facts.c.occurred_at >= dead), facts.c.lines), else_=0)).label(
                "recent"
            ),
            func.sum(case((sale, facts.c.lines), else_=0)).label("lines"),
            func.max(case((and_(sale, facts.c.lines > 0), day))).label("last_sold"),
        )
        .group_by(facts.c.product_id, day_key)
        .subquery("daily")
    )
    return (
        select(
            daily.c.product_id,
            qty_sum(daily.c.sold).label("sold"),
            func.sum(daily.c.recent).label("recent"),
            func.max(
                case(
                    (daily.c.day.is_(None), daily.c.last_sold),
                    (daily.c.lines > 0, daily.c.day),
                )
            ).label("last_sale_at"),
        )
        .group_by(daily.c.product_id)
        .subquery("sold")
    )


def _sold_by_last_day(
    session: Session,
    filters: SqlFilters,
    marks: tuple[Any, Any],
    last: tuple[AnySelect, AnySelect],
    *,
    start: Any,
    end: Any,
    window: Any,
    dead: Any,
) -> Subquery:
    """The same rows as _sold_by_day, with the last sale days from the last-day summary.

    Only the window's product days are summed (sold); the last sale day of most products is
    one stored row (rollups.last_days), and only the few products that summary cannot
    answer for have their days grouped. The unsummed lines are read once. A day with an
    unsummed sale line is a sale day (its voided lines never outnumber its summed ones),
    and a product has sale lines since `dead` exactly when its last sale day is on or
    after it, so `recent` is 1 or 0 here.
    """
    stored_last, per_day = last
    no_qty = type_coerce(null(), Qty())
    extra = union_all(*unsummed(session, filters=filters, start=start, end=end, marks=marks)).cte(
        "unsummed"
    )
    sale = extra.c.is_return == 0
    days_w = stored_days(filters, start=window, end=end).subquery("window_days")
    in_window = select(
        days_w.c.product_id.label("product_id"),
        case((days_w.c.is_return == 0, days_w.c.quantity)).label("sold"),
        type_coerce(null(), days_w.c.occurred_at.type).label("last_sold"),
    )
    live = select(
        extra.c.product_id,
        case((and_(sale, extra.c.occurred_at >= window), extra.c.quantity)).label("sold"),
        case((and_(sale, extra.c.lines > 0), extra.c.occurred_at)).label("last_sold"),
    )
    known = stored_last.subquery("last_days")
    from_last = select(
        known.c.product_id,
        no_qty.label("sold"),
        case((known.c.is_return == 0, known.c.occurred_at)).label("last_sold"),
    )
    # The others' stored days net of their voided lines: a sale day keeps a line.
    days_l = stored_days(filters, start=start, end=end).subquery("look_days")
    netted = union_all(
        select(days_l.c.product_id, days_l.c.occurred_at, days_l.c.is_return, days_l.c.lines).where(
            days_l.c.product_id.in_(per_day)
        ),
        select(extra.c.product_id, extra.c.occurred_at, extra.c.is_return, extra.c.lines).where(
            extra.c.lines < 0
        ),
    ).subquery("netted")
    daily = (
        select(
            netted.c.product_id.label("product_id"),
            netted.c.occurred_at.label("day"),
            func.sum(case((netted.c.is_return == 0, netted.c.lines), else_=0)).label("lines"),
        )
        .group_by(netted.c.product_id, netted.c.occurred_at)
        .subquery("daily")
    )
    by_day = select(
        daily.c.product_id,
        no_qty.label("sold"),
        case((daily.c.lines > 0, daily.c.day)).label("last_sold"),
    )
    parts = union_all(in_window, live, from_last, by_day).subquery("parts")
    return (
        select(
            parts.c.product_id,
            qty_sum(parts.c.sold).label("sold"),
            func.max(case((parts.c.last_sold >= dead, 1), else_=0)).label("recent"),
            func.max(parts.c.last_sold).label("last_sale_at"),
        )
        .group_by(parts.c.product_id)
        .subquery("sold")
    )


def _as_date(value: Any) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        # PostgreSQL gives the day's midnight UTC in the session's time zone.
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    day: date = value
    return day
