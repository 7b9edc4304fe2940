"""The unified sales facts: one row per sold (or returned) line, whatever channel sold it.

Every sales report reads this UNION ALL instead of the source tables, so a new channel is
added here once. Filters on tenant, time, branch, channel and cashier are applied inside
each branch of the union (not around it), so each source uses its own indexes.

Sources: till sales (``sales``/``sale_lines``, returns from ``sale_returns``), online orders
(``orders``/``order_lines``, returns from ``order_returns``) and approved wholesale sales
requests (``sales_requests``/``sales_request_lines``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, false, literal, null, select, union_all
from sqlalchemy.sql import FromClause, Subquery

from common.codes import Channel
from sync_server.db import AnySelect, Money, Qty, UTCDateTime
from sync_server.orders.models import Order, OrderLine, OrderReturn, OrderReturnLine
from sync_server.reports.base import SqlColumn, SqlFilters, in_branches, unindexed
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine
from sync_server.wholesale.models import SalesRequest, SalesRequestLine

# Wholesale documents are numbered apart from orders (both negative) by this offset.
WHOLESALE_DOCUMENTS = 10**12
# Orders that became sales: paid, and not cancelled or expired afterwards.
SOLD_ORDER_STATUSES = ("confirmed", "picking", "packed", "shipped", "delivered")

FACT_COLUMNS = (
    "tenant_id",
    "branch_id",
    "product_id",
    "channel",
    "cashier_id",
    "customer_id",
    # The sale, return or order it came from: till ids positive, online ids negated, so a
    # count of distinct documents never mixes two sources (sales and returns count apart).
    "document",
    "occurred_at",
    "is_return",
    "quantity",
    "revenue",
    "discount",
    "tax",
    "cost",
)


def _where(
    stmt: AnySelect,
    *,
    tenant_col: SqlColumn,
    time_col: SqlColumn,
    branch_col: SqlColumn,
    filters: SqlFilters,
    start: Any,
    end: Any,
    plain: bool = False,
) -> AnySelect:
    if plain:
        tenant_col, time_col, branch_col = (
            unindexed(c) for c in (tenant_col, time_col, branch_col)
        )
    stmt = stmt.where(tenant_col == filters.tenant_id, time_col >= start, time_col < end)
    branch = in_branches(branch_col, filters)
    return stmt if branch is None else stmt.where(branch)


@dataclass(frozen=True)
class Watermark:
    """A summary watermark read in the report's own statement (`sql`, so the watermark and
    the rows it covers come from one snapshot), and `floor`, its value when the report began
    (in a kept statement, the parameter bound to that value: rollups.bound_marks).

    Watermarks only rise, so `id > floor` holds for every row `id > sql` keeps. PostgreSQL
    cannot estimate `id > (SELECT …)` (it guesses a third of the table) and scanned every
    sale for the few after the watermark; the floor's value lets it walk the id index.
    """

    sql: Any
    floor: Any

    def __clause_element__(self) -> Any:
        return self.sql


def marked(after: Any) -> bool:
    """Say whether a watermark is set: a positive id, or the SQL that reads the stored one."""
    return not isinstance(after, int) or after > 0


def _cashier(stmt: AnySelect, column: SqlColumn, filters: SqlFilters) -> AnySelect:
    return stmt if filters.cashier_id is None else stmt.where(column == filters.cashier_id)


def _till_sales(
    filters: SqlFilters, start: Any, end: Any, after: Any, plain: bool = False
) -> AnySelect:
    # Till prices are tax-inclusive: a line's total is what was paid, its tax a part of it.
    # Till lines carry no cost either (the till does not know it): products' average applies.
    stmt = select(
        SaleLine.tenant_id.label("tenant_id"),
        Sale.branch_id.label("branch_id"),
        SaleLine.product_id.label("product_id"),
        Sale.channel.label("channel"),
        Sale.cashier_id.label("cashier_id"),
        Sale.customer_id.label("customer_id"),
        Sale.id.label("document"),
        Sale.occurred_at.label("occurred_at"),
        literal(0, Integer).label("is_return"),
        SaleLine.quantity.label("quantity"),
        SaleLine.total.label("revenue"),
        SaleLine.discount.label("discount"),
        SaleLine.tax.label("tax"),
        null().cast(Money()).label("cost"),
    ).join(Sale, Sale.id == SaleLine.sale_id)
    stmt = stmt.where(Sale.status == "completed")
    if marked(after):
        stmt = stmt.where(Sale.id > after)
        if isinstance(after, Watermark):
            stmt = stmt.where(Sale.id > after.floor)
    if filters.channel is not None:
        stmt = stmt.where(Sale.channel == filters.channel)
    stmt = _cashier(stmt, Sale.cashier_id, filters)
    return _where(
        stmt,
        tenant_col=Sale.tenant_id,
        time_col=Sale.occurred_at,
        branch_col=Sale.branch_id,
        filters=filters,
        start=start,
        end=end,
        plain=plain and marked(after),
    )


def _till_returns(
    filters: SqlFilters, start: Any, end: Any, after: Any, plain: bool = False
) -> AnySelect:
    stmt = select(
        ReturnLine.tenant_id.label("tenant_id"),
        Return.branch_id.label("branch_id"),
        ReturnLine.product_id.label("product_id"),
        literal(Channel.IN_STORE.value, String(16)).label("channel"),
        Return.cashier_id.label("cashier_id"),
        Return.customer_id.label("customer_id"),
        Return.id.label("document"),
        Return.occurred_at.label("occurred_at"),
        literal(1, Integer).label("is_return"),
        (-ReturnLine.quantity).label("quantity"),
        (-ReturnLine.amount).label("revenue"),
        literal(0, Money()).label("discount"),
        (-ReturnLine.tax).label("tax"),
        null().cast(Money()).label("cost"),
    ).join(Return, Return.id == ReturnLine.return_id)
    if marked(after):
        stmt = stmt.where(Return.id > after)
        if isinstance(after, Watermark):
            stmt = stmt.where(Return.id > after.floor)
    stmt = _cashier(stmt, Return.cashier_id, filters)
    return _where(
        stmt,
        tenant_col=Return.tenant_id,
        time_col=Return.occurred_at,
        branch_col=Return.branch_id,
        filters=filters,
        start=start,
        end=end,
        plain=plain and marked(after),
    )


def _online_sales(
    filters: SqlFilters, start: Any, end: Any, after: Any, plain: bool = False
) -> AnySelect:
    # Orders carry their tax (inside the line total) but no cost: cost falls back to the
    # product's average cost.
    stmt = select(
        OrderLine.tenant_id.label("tenant_id"),
        Order.branch_id.label("branch_id"),
        OrderLine.product_id.label("product_id"),
        literal(Channel.ONLINE.value, String(16)).label("channel"),
        null().cast(BigInteger).label("cashier_id"),
        Order.customer_id.label("customer_id"),
        (-Order.id).label("document"),
        Order.created_at.label("occurred_at"),
        literal(0, Integer).label("is_return"),
        OrderLine.quantity.label("quantity"),
        OrderLine.line_total.label("revenue"),
        (OrderLine.quantity * OrderLine.unit_price - OrderLine.line_total).label("discount"),
        OrderLine.tax.label("tax"),
        null().cast(Money()).label("cost"),
    ).join(Order, Order.id == OrderLine.order_id)
    stmt = stmt.where(Order.status.in_(SOLD_ORDER_STATUSES))
    return _where(
        stmt,
        tenant_col=Order.tenant_id,
        time_col=Order.created_at,
        branch_col=Order.branch_id,
        filters=filters,
        start=start,
        end=end,
    )


def _online_returns(
    filters: SqlFilters, start: Any, end: Any, after: Any, plain: bool = False
) -> AnySelect:
    # A return counts when the goods came back (received), at the price of its order line.
    stmt = (
        select(
            OrderReturnLine.tenant_id.label("tenant_id"),
            Order.branch_id.label("branch_id"),
            OrderReturnLine.product_id.label("product_id"),
            literal(Channel.ONLINE.value, String(16)).label("channel"),
            null().cast(BigInteger).label("cashier_id"),
            Order.customer_id.label("customer_id"),
            (-OrderReturn.id).label("document"),
            OrderReturn.received_at.label("occurred_at"),
            literal(1, Integer).label("is_return"),
            (-OrderReturnLine.quantity).label("quantity"),
            (-OrderReturnLine.quantity * OrderLine.unit_price).label("revenue"),
            literal(0, Money()).label("discount"),
            (-OrderReturnLine.tax).label("tax"),
            null().cast(Money()).label("cost"),
        )
        .join(OrderReturn, OrderReturn.id == OrderReturnLine.return_id)
        .join(OrderLine, OrderLine.id == OrderReturnLine.order_line_id)
        .join(Order, Order.id == OrderReturn.order_id)
        .where(OrderReturn.status == "received")
    )
    return _where(
        stmt,
        tenant_col=Order.tenant_id,
        time_col=OrderReturn.received_at,
        branch_col=Order.branch_id,
        filters=filters,
        start=start,
        end=end,
    )


def _wholesale_sales(
    filters: SqlFilters, start: Any, end: Any, after: Any, plain: bool = False
) -> AnySelect:
    # An approved request is a sale at its approval (stock leaves then); line totals include
    # tax like till lines, the discount is gross less net.
    stmt = select(
        SalesRequestLine.tenant_id.label("tenant_id"),
        SalesRequest.branch_id.label("branch_id"),
        SalesRequestLine.product_id.label("product_id"),
        literal(Channel.WHOLESALE.value, String(16)).label("channel"),
        null().cast(BigInteger).label("cashier_id"),
        SalesRequest.customer_id.label("customer_id"),
        (-(SalesRequest.id + literal(WHOLESALE_DOCUMENTS, BigInteger))).label("document"),
        SalesRequest.decided_at.label("occurred_at"),
        literal(0, Integer).label("is_return"),
        SalesRequestLine.quantity.label("quantity"),
        SalesRequestLine.total.label("revenue"),
        (SalesRequestLine.gross - SalesRequestLine.net).label("discount"),
        SalesRequestLine.tax.label("tax"),
        null().cast(Money()).label("cost"),
    ).join(SalesRequest, SalesRequest.id == SalesRequestLine.sales_request_id)
    stmt = stmt.where(SalesRequest.status == APPROVED_REQUEST)
    return _where(
        stmt,
        tenant_col=SalesRequest.tenant_id,
        time_col=SalesRequest.decided_at,
        branch_col=SalesRequest.branch_id,
        filters=filters,
        start=start,
        end=end,
    )


APPROVED_REQUEST = "approved"

# (channel, has a cashier, watermark name, builder) per source; the union takes those the
# filters allow. Till sales may be booked under another channel, so they say theirs. A
# watermark leaves out what the daily summary already holds (ids at or below it).
SOURCES = (
    (None, True, "till_sales_after", _till_sales),
    (Channel.IN_STORE, True, "till_returns_after", _till_returns),
    (Channel.ONLINE, False, None, _online_sales),
    (Channel.ONLINE, False, None, _online_returns),
    (Channel.WHOLESALE, False, None, _wholesale_sales),
)


def _empty() -> AnySelect:
    return select(
        literal(0, BigInteger).label("tenant_id"),
        literal(0, BigInteger).label("branch_id"),
        literal(0, BigInteger).label("product_id"),
        literal("", String(16)).label("channel"),
        null().cast(BigInteger).label("cashier_id"),
        null().cast(BigInteger).label("customer_id"),
        literal(0, BigInteger).label("document"),
        null().cast(UTCDateTime()).label("occurred_at"),
        literal(0, Integer).label("is_return"),
        literal(0, Qty()).label("quantity"),
        literal(0, Money()).label("revenue"),
        literal(0, Money()).label("discount"),
        literal(0, Money()).label("tax"),
        literal(0, Money()).label("cost"),
    ).where(false())


def sales_facts(
    filters: SqlFilters,
    *,
    start: Any = None,
    end: Any = None,
    till_sales_after: Any = 0,
    till_returns_after: Any = 0,
    sqlite: bool = False,
) -> Subquery:
    """Return the sales facts of the filters' tenant, branches, channel, cashier and time
    (the filters' range, or `start` to `end`: SQL such as bind parameters).

    After a watermark only the few newest rows are wanted: on SQLite the tenant, time and
    branch conditions are then kept off their indexes, so the planner walks the id range
    instead of a whole year of the time index (PostgreSQL's estimates choose that alone).
    """
    start = filters.start if start is None else start
    end = filters.end if end is None else end
    after = {"till_sales_after": till_sales_after, "till_returns_after": till_returns_after}
    parts = [
        build(filters, start, end, after.get(mark, 0) if mark else 0, sqlite)
        for channel, has_cashier, mark, build in SOURCES
        if (
            filters.channel_value is None
            or channel is None
            or filters.channel_value == channel.value
        )
        and (filters.cashier_id is None or has_cashier)
    ]
    if not parts:
        return _empty().subquery("facts")
    if len(parts) == 1:
        return parts[0].subquery("facts")
    return union_all(*parts).subquery("facts")


def for_products(facts: Subquery, product: FromClause, filters: SqlFilters) -> Any:
    """Return the join condition of facts to products, narrowed by category and supplier."""
    cond = and_(product.c.id == facts.c.product_id)
    if filters.category_id is not None:
        cond = and_(cond, product.c.category_id == filters.category_id)
    if filters.supplier_id is not None:
        cond = and_(cond, product.c.supplier_id == filters.supplier_id)
    return cond
