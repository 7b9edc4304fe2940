"""Sales reports over the unified facts: summary, revenue trend, best sellers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause, Subquery

from common.codes import Channel, Tender
from sync_server.auth.models import User
from sync_server.catalog.models import Product
from sync_server.db import AnySelect, Money
from sync_server.orders.models import Order
from sync_server.org.models import Branch
from sync_server.reports import rollups, summary, totals
from sync_server.reports.base import (
    ZERO_SQL,
    Chart,
    Column,
    Filters,
    Grain,
    Kind,
    Report,
    SqlFilters,
    bucket,
    bucket_of,
    in_branches,
    money_sum,
    next_bucket,
    qty_sum,
    ratio,
    to_dec,
)
from sync_server.reports.facts import (
    APPROVED_REQUEST,
    SOLD_ORDER_STATUSES,
    for_products,
    marked,
    sales_facts,
)
from sync_server.reports.rollups import bound_marks, mark_params
from sync_server.reports.statements import once
from sync_server.sales.models import Return
from sync_server.wholesale.models import SalesRequest


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    BRANCH = "branch"
    CHANNEL = "channel"
    CASHIER = "cashier"
    TENDER = "tender"


class Rank(StrEnum):
    QUANTITY = "quantity"
    REVENUE = "revenue"
    MARGIN = "margin"


FIGURES = (
    Column("sales", "Sales", Kind.INT),
    Column("quantity", "Quantity", Kind.QTY),
    Column("revenue", "Revenue", Kind.MONEY),
    Column("discounts", "Discounts", Kind.MONEY),
    Column("tax", "Tax", Kind.MONEY),
    Column("cost", "Cost", Kind.MONEY),
    Column("gross_margin", "Gross margin", Kind.MONEY),
    Column("margin_percent", "Margin %", Kind.RATIO),
    Column("returns", "Returns", Kind.INT),
    Column("returned_quantity", "Returned qty", Kind.QTY),
    Column("returned_amount", "Returned amount", Kind.MONEY),
    Column("net_revenue", "Net revenue", Kind.MONEY),
)


def figures(facts: FromClause, product: FromClause) -> list[Any]:
    """Return the aggregate columns every sales grouping shows, sales and returns apart."""
    sale = facts.c.is_return == 0
    back = facts.c.is_return == 1
    # Sources that know the cost of what they sold give it; the rest use today's average.
    cost = func.coalesce(facts.c.cost, facts.c.quantity * product.c.cost)
    return [
        func.count(func.distinct(case((sale, facts.c.document)))).label("sales"),
        qty_sum(case((sale, facts.c.quantity))).label("quantity"),
        money_sum(case((sale, facts.c.revenue))).label("revenue"),
        money_sum(case((sale, facts.c.discount))).label("discounts"),
        money_sum(case((sale, facts.c.tax))).label("tax"),
        money_sum(case((sale, cost))).label("cost"),
        func.count(func.distinct(case((back, facts.c.document)))).label("returns"),
        qty_sum(case((back, -facts.c.quantity))).label("returned_quantity"),
        money_sum(case((back, -facts.c.revenue))).label("returned_amount"),
        money_sum(cost).label("net_cost"),
    ]


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Add the figures derived from the sums: margin, margin % and net revenue."""
    revenue, cost = to_dec(row["revenue"]), to_dec(row["cost"])
    row["gross_margin"] = revenue - cost
    row["margin_percent"] = ratio(revenue - cost, revenue)
    row["net_revenue"] = revenue - to_dec(row["returned_amount"])
    return row


def _source(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any]
) -> tuple[Subquery, list[Any], bool]:
    """Return (rows, aggregate columns, needs a product join) for sales figures.

    Without a category or supplier filter the daily summary answers (plus the lines it does
    not hold yet); with one, only the lines know the product, so the facts answer.
    """
    if summary.uses_summary(filters):
        daily = summary.daily_figures(session, filters=filters, marks=marks)
        return daily, summary.summed(daily), False
    facts = sales_facts(filters)
    return facts, figures(facts, Product.__table__), True


def read_marks(session: Session, filters: Filters) -> tuple[Any, Any]:
    """The summary's watermarks where the daily summary answers; none read where it cannot."""
    if summary.uses_summary(filters):
        return rollups.read_marks(session, tenant_id=filters.tenant_id)
    return 0, 0


GROUP_COLUMNS = {
    GroupBy.BRANCH: [
        Column("branch_id", "Branch id", Kind.INT, internal=True),
        Column("branch", "Branch"),
    ],
    GroupBy.CHANNEL: [Column("channel", "Channel")],
    GroupBy.CASHIER: [
        Column("cashier_id", "Cashier id", Kind.INT, internal=True),
        Column("cashier", "Cashier"),
    ],
}


def sales_summary(session: Session, *, filters: Filters, group_by: GroupBy) -> Report:
    """Sum sales per day/week/month, branch, channel, cashier or tender."""
    title = f"Sales summary by {group_by.value}"
    if group_by == GroupBy.TENDER:
        return _by_tender(session, filters=filters, title=title)
    marks = read_marks(session, filters)
    stmt = once(
        session,
        ("sales_summary", group_by, filters.shape, marked(marks[0])),
        lambda: _summary_statement(session, filters.sql(), bound_marks(marks), group_by),
    )
    values = {**filters.params(), **mark_params(marks)}
    rows = [_finish(dict(r)) for r in session.execute(stmt, values).mappings()]
    label_cols = GROUP_COLUMNS.get(group_by) or [
        Column("period", group_by.value.title(), Kind.DATE)
    ]
    return Report(
        name="sales-summary",
        title=title,
        columns=[*label_cols, *FIGURES],
        rows=rows,
        filters={**filters.describe(), "group_by": group_by.value},
    )


def _summary_statement(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any], group_by: GroupBy
) -> AnySelect:
    src, aggregates, by_product = _source(session, filters, marks)
    if group_by in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH):
        key = bucket(session, src.c.occurred_at, Grain(group_by.value)).label("period")
        keys: list[Any] = [key]
        stmt = select(key, *aggregates)
    elif group_by == GroupBy.BRANCH:
        keys = [src.c.branch_id, Branch.name]
        stmt = select(
            src.c.branch_id.label("branch_id"), Branch.name.label("branch"), *aggregates
        ).join(Branch, Branch.id == src.c.branch_id)
    elif group_by == GroupBy.CHANNEL:
        keys = [src.c.channel]
        stmt = select(src.c.channel.label("channel"), *aggregates)
    else:
        # No cashier (online) is 0 in the summary and NULL in the lines: one group either way.
        cashier = func.coalesce(src.c.cashier_id, ZERO_SQL)
        keys = [cashier, User.username]
        stmt = select(
            func.nullif(cashier, ZERO_SQL).label("cashier_id"),
            func.coalesce(User.username, literal("(online / none)", String)).label("cashier"),
            *aggregates,
        ).outerjoin(User, User.id == cashier)
    if by_product:
        product = Product.__table__
        stmt = stmt.join(product, for_products(src, product, filters))
    stmt = stmt.group_by(*keys).order_by(*keys)
    if not by_product:
        stmt = stmt.having(summary.present(src))
    return stmt


def _by_tender(session: Session, *, filters: Filters, title: str) -> Report:
    """Sum payments per tender (payments, not lines, carry the tender)."""
    till = filters.channel in (None, Channel.IN_STORE.value)
    marks = rollups.read_marks(session, tenant_id=filters.tenant_id) if till else (0, 0)
    stmt = once(
        session,
        ("sales_by_tender", filters.shape, marked(marks[0])),
        lambda: _tender_statement(session, filters.sql(), bound_marks(marks)),
    )
    rows = []
    if stmt is not None:
        values = {**filters.params(), **mark_params(marks)}
        rows = [dict(r) for r in session.execute(stmt, values).mappings()]
    if filters.channel in (None, Channel.IN_STORE.value):
        by_tender = {row["tender"]: row for row in rows}
        for tender, amount in _till_refunds(session, filters=filters).items():
            row = by_tender.get(tender)
            if row is None:
                row = by_tender[tender] = {"tender": tender, "payments": 0, "amount": 0}
                row["refunded"] = 0
                rows.append(row)
            row["refunded"] = to_dec(row["refunded"]) + amount
        rows.sort(key=lambda row: row["tender"])
    for row in rows:
        row["net"] = to_dec(row["amount"]) - to_dec(row["refunded"])
    return Report(
        name="sales-summary",
        title=title,
        columns=[
            Column("tender", "Tender"),
            Column("payments", "Payments", Kind.INT),
            Column("amount", "Amount", Kind.MONEY),
            Column("refunded", "Refunded", Kind.MONEY),
            Column("net", "Net", Kind.MONEY),
        ],
        rows=rows,
        filters={**filters.describe(), "group_by": "tender"},
        notes=[
            "Till cash is what the drawer kept (handed over minus change); refunded is what "
            "went back, at the till by the tender it was paid in and online to the card."
        ],
    )


def _tender_statement(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any]
) -> AnySelect | None:
    """The payments per tender of the filters' channels; None when no channel pays."""
    parts = []
    if filters.channel_value in (None, Channel.IN_STORE.value):
        # Till payments from the tender summary plus what it does not hold yet; cash is
        # recorded as handed over and the change given back leaves the drawer again, so
        # the cash row shows what was kept.
        parts.extend(rollups.till_tenders(session, filters=filters, marks=marks))
    if filters.channel_value in (None, Channel.ONLINE.value) and filters.cashier_id is None:
        # The online store is paid through its card gateway, so online orders are card money.
        online = select(
            literal(Tender.CARD.value, String(16)).label("tender"),
            Order.paid_amount.label("amount"),
            Order.refunded_amount.label("refunded"),
            literal(1).label("counted"),
        ).where(
            Order.tenant_id == filters.tenant_id,
            Order.status.in_(SOLD_ORDER_STATUSES),
            Order.created_at >= filters.start,
            Order.created_at < filters.end,
        )
        parts.append((online, Order.branch_id))
    if filters.channel_value in (None, Channel.WHOLESALE.value) and filters.cashier_id is None:
        # Wholesale is paid in cash on approval or charged to the customer's account.
        wholesale = select(
            SalesRequest.payment_terms.label("tender"),
            SalesRequest.total.label("amount"),
            literal(0, Money()).label("refunded"),
            literal(1).label("counted"),
        ).where(
            SalesRequest.tenant_id == filters.tenant_id,
            SalesRequest.status == APPROVED_REQUEST,
            SalesRequest.decided_at >= filters.start,
            SalesRequest.decided_at < filters.end,
        )
        parts.append((wholesale, SalesRequest.branch_id))
    selects = []
    for stmt, branch_col in parts:
        # A None branch column: the part applied the branch condition itself.
        branch = None if branch_col is None else in_branches(branch_col, filters)
        selects.append(stmt if branch is None else stmt.where(branch))
    if not selects:
        return None
    pays = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("pays")
    return (
        select(
            pays.c.tender,
            func.sum(pays.c.counted).label("payments"),
            money_sum(pays.c.amount).label("amount"),
            money_sum(pays.c.refunded).label("refunded"),
        )
        .group_by(pays.c.tender)
        .order_by(pays.c.tender)
    )


def _till_refunds(session: Session, *, filters: Filters) -> dict[str, Decimal]:
    """Sum the till's refunds per tender (each return keeps its refunds as a list)."""
    stmt = once(session, ("till_refunds", filters.shape), lambda: _refunds_statement(filters.sql()))
    sums: dict[str, Decimal] = {}
    for refunds in session.scalars(stmt, filters.params()):
        for refund in refunds or []:
            method = str(refund.get("method"))
            sums[method] = sums.get(method, Decimal(0)) + Decimal(str(refund.get("amount", "0")))
    return sums


def _refunds_statement(filters: SqlFilters) -> AnySelect:
    stmt = select(Return.refunds).where(
        Return.tenant_id == filters.tenant_id,
        Return.occurred_at >= filters.start,
        Return.occurred_at < filters.end,
    )
    branch = in_branches(Return.branch_id, filters)
    if branch is not None:
        stmt = stmt.where(branch)
    if filters.cashier_id is not None:
        stmt = stmt.where(Return.cashier_id == filters.cashier_id)
    return stmt


def revenue_trend(session: Session, *, filters: Filters, grain: Grain) -> Report:
    """Return revenue per bucket beside the same bucket of the period just before."""
    length = timedelta(days=filters.days)
    previous_from = filters.date_from - length
    both = replace(filters, date_from=previous_from)
    marks = read_marks(session, both)
    stmt = once(
        session,
        ("revenue_trend", grain, both.shape, marked(marks[0])),
        lambda: _trend_statement(session, both.sql(), bound_marks(marks), grain),
    )
    values = {**both.params(), **mark_params(marks)}
    found = {str(r.period): r for r in session.execute(stmt, values)}

    def series(first: date, last: date) -> list[date]:
        out, day = [], bucket_of(first, grain)
        while day <= last:
            out.append(day)
            day = next_bucket(day, grain)
        return out

    current = series(filters.date_from, filters.date_to)
    previous = series(previous_from, filters.date_from - timedelta(days=1))
    rows = []
    for index, period in enumerate(current):
        hit = found.get(period.isoformat())
        before = previous[index] if index < len(previous) else None
        hit_before = found.get(before.isoformat()) if before else None
        revenue = to_dec(hit.revenue) if hit else to_dec(0)
        prior = to_dec(hit_before.revenue) if hit_before else to_dec(0)
        rows.append(
            {
                "period": period,
                "sales": hit.sales if hit else 0,
                "revenue": revenue,
                "previous_period": before,
                "previous_revenue": prior,
                "change_percent": ratio(revenue - prior, prior),
            }
        )
    return Report(
        name="revenue-trend",
        title=f"Revenue trend by {grain.value}",
        columns=[
            Column("period", "Period", Kind.DATE),
            Column("sales", "Sales", Kind.INT),
            Column("revenue", "Revenue (net)", Kind.MONEY),
            Column("previous_period", "Previous period", Kind.DATE),
            Column("previous_revenue", "Previous revenue", Kind.MONEY),
            Column("change_percent", "Change %", Kind.RATIO),
        ],
        rows=rows,
        filters={**filters.describe(), "grain": grain.value},
        chart=Chart(x="period", series=("revenue", "previous_revenue")),
    )


def _trend_statement(
    session: Session, filters: SqlFilters, marks: tuple[Any, Any], grain: Grain
) -> AnySelect:
    src, _aggregates, by_product = _source(session, filters, marks)
    key = bucket(session, src.c.occurred_at, grain).label("period")
    if by_product:
        product = Product.__table__
        sold = case((src.c.is_return == 0, src.c.document))
        return (
            select(
                key,
                money_sum(src.c.revenue).label("revenue"),
                func.count(func.distinct(sold)).label("sales"),
            )
            .join(product, for_products(src, product, filters))
            .group_by(key)
        )
    return select(
        key,
        money_sum(src.c.revenue - src.c.returned_amount).label("revenue"),
        func.sum(src.c.sales).label("sales"),
    ).group_by(key)


def best_sellers(session: Session, *, filters: Filters, by: Rank, limit: int) -> Report:
    """Rank products by net quantity, net revenue or gross margin."""
    marks: tuple[Any, Any] = (0, 0)
    stored = None
    if filters.cashier_id is None:
        marks = rollups.read_marks(session, tenant_id=filters.tenant_id)
        if marked(marks[0]):
            stored = totals.stored_rows(
                session, filters=filters, start=filters.start, end=filters.end
            )
    shape = (by, filters.shape, marked(marks[0]), stored and stored.shape)
    stmt = once(
        session,
        ("best_sellers", *shape),
        lambda: _best_statement(filters.sql(), bound_marks(marks), stored, by, session=session),
    )
    values = {**filters.params(), **mark_params(marks), "limit": limit}
    if stored is not None:
        values.update(stored.params())
    rows = []
    for rank, r in enumerate(session.execute(stmt, values).mappings(), start=1):
        row = dict(r)
        row["rank"] = rank
        row["margin_percent"] = ratio(row["margin"], row["revenue"])
        rows.append(row)
    return Report(
        name="best-sellers",
        title=f"Best sellers by {by.value}",
        columns=[
            Column("rank", "Rank", Kind.INT, total=False),
            Column("product_id", "Product id", Kind.INT, internal=True),
            Column("sku", "SKU"),
            Column("name", "Product"),
            Column("quantity", "Quantity (net)", Kind.QTY),
            Column("revenue", "Revenue (net)", Kind.MONEY),
            Column("cost", "Cost", Kind.MONEY),
            Column("margin", "Gross margin", Kind.MONEY),
            Column("margin_percent", "Margin %", Kind.RATIO),
        ],
        rows=rows,
        filters={**filters.describe(), "by": by.value, "limit": limit},
    )


def _best_statement(
    filters: SqlFilters,
    marks: tuple[Any, Any],
    stored: totals.StoredRows | None,
    by: Rank,
    *,
    session: Session,
) -> AnySelect:
    # The product day summary (plus the lines it does not hold yet) answers; no source
    # knows the cost of what it sold, so every line takes the product's average cost.
    facts = rollups.product_rows(session, filters=filters, marks=marks, stored=stored)
    # Sum per product first and join the catalogue to those sums only: far cheaper than a
    # product lookup per line.
    per_product = (
        select(
            facts.c.product_id,
            qty_sum(facts.c.quantity).label("quantity"),
            money_sum(facts.c.revenue).label("revenue"),
        )
        .group_by(facts.c.product_id)
        .subquery("per_product")
    )
    product = Product.__table__
    cost = (per_product.c.quantity * product.c.cost).label("cost")
    margin = (per_product.c.revenue - cost).label("margin")
    order = {
        Rank.QUANTITY: per_product.c.quantity,
        Rank.REVENUE: per_product.c.revenue,
        Rank.MARGIN: margin,
    }[by]
    stmt = (
        select(
            product.c.id.label("product_id"),
            product.c.sku,
            product.c.name,
            per_product.c.quantity,
            per_product.c.revenue,
            cost,
            margin,
        )
        .join(product, for_products(per_product, product, filters))
        .order_by(order.desc(), product.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return stmt
