"""Branch comparison: each branch's key figures side by side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sync_server.catalog.models import Product
from sync_server.db import AnySelect
from sync_server.inventory.models import StockLevel
from sync_server.org.models import Branch
from sync_server.reports import summary
from sync_server.reports.base import (
    Column,
    Filters,
    Kind,
    Report,
    SqlFilters,
    in_branches,
    money_sum,
    ratio,
    to_dec,
)
from sync_server.reports.facts import for_products, marked, sales_facts
from sync_server.reports.rollups import bound_marks, mark_params
from sync_server.reports.sales import figures, read_marks
from sync_server.reports.statements import once


def branch_comparison(session: Session, *, filters: Filters) -> Report:
    """Return sales, margin, returns, basket and stock figures per branch (three queries)."""
    marks = read_marks(session, filters)
    values = {**filters.params(), **mark_params(marks)}
    sales_q = once(
        session,
        ("branch_sales", filters.shape, marked(marks[0])),
        lambda: _sales_statement(session, filters.sql(), bound_marks(marks)),
    )
    sales = {r["branch_id"]: r for r in session.execute(sales_q, values).mappings()}
    stock_q = once(
        session, ("branch_stock", filters.shape), lambda: _stock_statement(filters.sql())
    )
    stock = {r["branch_id"]: r for r in session.execute(stock_q, values).mappings()}
    branches_q = once(
        session, ("branch_names", filters.shape), lambda: _branches_statement(filters.sql())
    )
    rows = []
    for branch in session.execute(branches_q, values):
        s: Mapping[Any, Any] = sales.get(branch.id) or {}
        k: Mapping[Any, Any] = stock.get(branch.id) or {}
        revenue = to_dec(s.get("revenue", 0))
        cost = to_dec(s.get("cost", 0))
        count = s.get("sales", 0)
        returned = to_dec(s.get("returned_amount", 0))
        rows.append(
            {
                "branch_id": branch.id,
                "branch": branch.name,
                "code": branch.code,
                "sales": count,
                "quantity": to_dec(s.get("quantity", 0)),
                "revenue": revenue,
                "average_basket": revenue / count if count else None,
                "gross_margin": revenue - cost,
                "margin_percent": ratio(revenue - cost, revenue),
                "returned_amount": returned,
                "net_revenue": revenue - returned,
                "stock_value": to_dec(k.get("stock_value", 0)),
                "out_of_stock": k.get("out_of_stock", 0),
                "at_or_below_low": k.get("at_or_below_low", 0),
            }
        )
    total = sum((r["net_revenue"] for r in rows), to_dec(0))
    for row in rows:
        row["share_percent"] = ratio(row["net_revenue"], total)
    return Report(
        name="branch-comparison",
        title="Branch comparison",
        columns=[
            Column("branch", "Branch"),
            Column("code", "Code"),
            Column("sales", "Sales", Kind.INT),
            Column("quantity", "Quantity", Kind.QTY),
            Column("revenue", "Revenue", Kind.MONEY),
            Column("average_basket", "Avg basket", Kind.MONEY, total=False),
            Column("gross_margin", "Gross margin", Kind.MONEY),
            Column("margin_percent", "Margin %", Kind.RATIO),
            Column("returned_amount", "Returns", Kind.MONEY),
            Column("net_revenue", "Net revenue", Kind.MONEY),
            Column("share_percent", "Share %", Kind.RATIO),
            Column("stock_value", "Stock at cost", Kind.MONEY),
            Column("out_of_stock", "Out of stock", Kind.INT),
            Column("at_or_below_low", "Low or out", Kind.INT),
            Column("branch_id", "Branch id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=filters.describe(),
    )


def _sales_statement(session: Session, filters: SqlFilters, marks: tuple[Any, Any]) -> AnySelect:
    if summary.uses_summary(filters):
        daily = summary.daily_figures(session, filters=filters, marks=marks)
        return (
            select(daily.c.branch_id, *summary.summed(daily))
            .group_by(daily.c.branch_id)
            .having(summary.present(daily))
        )
    facts = sales_facts(filters)
    product = Product.__table__
    return (
        select(facts.c.branch_id, *figures(facts, product))
        .join(product, for_products(facts, product, filters))
        .group_by(facts.c.branch_id)
    )


def _stock_statement(filters: SqlFilters) -> AnySelect:
    available = StockLevel.on_hand - StockLevel.reserved
    low = Product.low_stock_threshold
    stock_q = (
        select(
            StockLevel.branch_id,
            money_sum(StockLevel.on_hand * Product.cost).label("stock_value"),
            func.count(case((available <= 0, 1))).label("out_of_stock"),
            func.count(case((available <= low, 1))).label("at_or_below_low"),
        )
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.tenant_id == filters.tenant_id, Product.active.is_(True))
        .group_by(StockLevel.branch_id)
    )
    if filters.category_id is not None:
        stock_q = stock_q.where(Product.category_id == filters.category_id)
    if filters.supplier_id is not None:
        stock_q = stock_q.where(Product.supplier_id == filters.supplier_id)
    return stock_q


def _branches_statement(filters: SqlFilters) -> AnySelect:
    branches_q = select(Branch.id, Branch.name, Branch.code).where(
        Branch.tenant_id == filters.tenant_id
    )
    cond = in_branches(Branch.id, filters)
    if cond is not None:
        branches_q = branches_q.where(cond)
    return branches_q.order_by(Branch.name, Branch.id)
