"""The valuation as of a date answers what the statement it replaced answered, on both engines.

The valuation as of a past date used to group the union of a month's snapshot and the
movements since per branch and product (a statement the planner misjudged on PostgreSQL);
it now joins the snapshot's rows with the grouped movements. The old statement is kept here
as the reference, and both are run over snapshots the keeper made, with movements recorded
after the snapshots (late, and for pairs no snapshot holds), for many dates and filters.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from sync_server.catalog.models import Category, Product
from sync_server.db import transaction
from sync_server.foundation.principal import Principal
from sync_server.inventory.models import StockMovement
from sync_server.org.models import Branch
from sync_server.reports import keeper, stock
from sync_server.reports.base import big_query, in_branches, make_filters, money_sum, qty_sum
from sync_server.reports.models import StockSnapshot, SummaryState
from sync_server.reports.snapshots import _months, _movement_sums, _tail_columns
from tests.server.test_report_rollups import TODAY, _levels, _moves


def _old_ledger(session: Session, *, tenant_id: int, end: datetime):
    """The ledger rows as the replaced statement read them (a union, grouped by the caller)."""
    state = session.scalar(select(SummaryState).where(SummaryState.tenant_id == tenant_id))
    months = _months(state.snapshot_from, state.snapshot_through) if state else []
    taken = [month for month in months if month <= end]
    m = StockMovement
    cols = [m.branch_id.label("branch_id"), m.product_id.label("product_id"), *_movement_sums()]
    if not taken:
        return select(*cols).where(m.tenant_id == tenant_id, m.occurred_at < end).cte("ledger")
    as_of = taken[-1]
    s = StockSnapshot
    stored = select(
        s.branch_id, s.product_id, s.quantity, s.receipt_quantity, s.receipt_value
    ).where(s.tenant_id == tenant_id, s.as_of == as_of)
    since = select(*cols).where(
        m.tenant_id == tenant_id, m.occurred_at >= as_of, m.occurred_at < end
    )
    tenant, when = _tail_columns(session)
    through = (
        select(SummaryState.movement_id_through)
        .where(SummaryState.tenant_id == tenant_id)
        .scalar_subquery()
    )
    late = select(*cols).where(tenant == tenant_id, m.id > through, when < as_of)
    return union_all(stored, since, late).cte("ledger")


def _old_valuation(session: Session, *, filters, as_of: date) -> list[list]:
    """The replaced as-of valuation statement, its rows typed as the report types them."""
    end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
    moved = _old_ledger(session, tenant_id=filters.tenant_id, end=end)
    receipts = (
        select(
            moved.c.product_id,
            (
                func.sum(moved.c.receipt_value) / func.nullif(func.sum(moved.c.receipt_quantity), 0)
            ).label("avg_cost"),
        )
        .group_by(moved.c.product_id)
        .subquery("receipt_cost")
    )
    ledger_q = select(
        moved.c.branch_id.label("branch_id"),
        moved.c.product_id.label("product_id"),
        qty_sum(moved.c.quantity).label("quantity"),
    ).group_by(moved.c.branch_id, moved.c.product_id)
    branch_cond = in_branches(moved.c.branch_id, filters)
    if branch_cond is not None:
        ledger_q = ledger_q.where(branch_cond)
    ledger = ledger_q.subquery("ledger")
    held = (
        select(
            ledger.c.branch_id,
            ledger.c.product_id,
            ledger.c.quantity,
            receipts.c.avg_cost.label("unit_cost"),
        )
        .outerjoin(receipts, receipts.c.product_id == ledger.c.product_id)
        .subquery("held")
    )
    category_name = func.coalesce(Category.name, literal("(none)"))
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
    big_query(session, nested_loops=False)
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    for row in rows:
        row["potential_margin"] = Decimal(str(row["retail_value"])) - Decimal(
            str(row["cost_value"])
        )
    # Typed through the new report's columns, so both are compared at the same precision.
    shape = stock.stock_valuation(session, filters=filters, as_of=as_of)
    shape.rows = rows
    return shape.typed_rows()


def _compare(world, dates: list[date]) -> int:
    a = world.a
    admin = Principal.for_user(
        tenant_id=a.id, user_id=a.users["admin"], username="admin", role="admin", branch_ids=[]
    )
    variants = [
        make_filters(principal=admin, date_from=date(2025, 9, 1), date_to=TODAY),
        make_filters(principal=admin, branch_id=a.branch_ids[1], date_to=TODAY),
    ]
    compared = 0
    with transaction(world.sessions(), readonly=True) as session:
        for filters in variants:
            for as_of in dates:
                new = stock.stock_valuation(session, filters=filters, as_of=as_of).typed_rows()
                old = _old_valuation(session, filters=filters, as_of=as_of)
                assert new == old, (as_of, filters.branch_ids)
                compared += len(new)
    return compared


def test_valuation_as_of_gives_what_the_replaced_statement_gave(world):
    a = world.a
    rnd = random.Random(31)
    # One product moves only after the snapshots are made: pairs no snapshot holds.
    *others, newcomer = a.product_ids
    with transaction(world.sessions()) as s:
        _moves(
            s,
            a=SimpleNamespace(id=a.id, branch_ids=a.branch_ids, product_ids=others),
            rnd=rnd,
            count=400,
            prefix="V",
            first=date(2025, 9, 10),
        )
        s.flush()
        _levels(s, a=a)
    keeper.keep_once(world.sessions(), step=50)
    dates = [
        date(2025, 9, 9),  # before any movement
        date(2025, 10, 1),  # before the first snapshot
        date(2025, 10, 31),
        date(2025, 11, 1),
        date(2025, 12, 15),
        date(2026, 2, 28),
        date(2026, 3, 1),
        TODAY,
        date(2026, 11, 30),
    ]
    with transaction(world.sessions(), readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(StockSnapshot)) > 0
    assert _compare(world, dates) > 0
    # Recorded after the snapshots: late movements (some for pairs no snapshot holds yet),
    # which the keeper has not taken in, read from the ledger past its watermark.
    with transaction(world.sessions()) as s:
        _moves(s, a=a, rnd=rnd, count=120, prefix="L", first=date(2025, 9, 10))
        for n, (day, quantity) in enumerate(
            ((date(2025, 10, 15), 7), (date(2026, 1, 20), -2), (date(2026, 3, 5), 4))
        ):
            s.add(
                StockMovement(
                    tenant_id=a.id,
                    uuid=f"N{n}",
                    branch_id=a.branch_ids[n % 2],
                    product_id=newcomer,
                    code="receipt" if quantity > 0 else "sale",
                    quantity=Decimal(quantity),
                    unit_cost=Decimal("3.25") if quantity > 0 else None,
                    reference_type="test",
                    reference_id=f"N{n}",
                    occurred_at=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
                )
            )
        s.flush()
        _levels(s, a=a)
    assert _compare(world, dates) > 0
    keeper.keep_once(world.sessions(), step=50)
    assert _compare(world, dates) > 0
