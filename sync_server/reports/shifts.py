"""Shift (Z) reports from till data: one row per closed or open shift, per branch and date."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from sync_server.auth.models import User
from sync_server.org.models import Branch
from sync_server.reports.base import (
    Column,
    Filters,
    Kind,
    Report,
    SqlColumn,
    in_branches,
    money_sum,
    to_dec,
)
from sync_server.sales.models import CashMovement, Return, Sale, SalePayment, Shift

TENDERS = ("cash", "card", "account", "voucher")
ZERO = Decimal("0")


def shift_reports(session: Session, *, filters: Filters) -> Report:
    """Return each shift's sales, tenders (cash kept), refunds by tender, cash in/out and count."""
    tenant = filters.tenant_id
    # A shift's documents happen while it is open: from its day to the next day at the
    # latest, so the sums read only that stretch of time, never the whole history.
    until = filters.end + timedelta(days=1)

    def during(column: SqlColumn) -> ColumnElement[bool]:
        return and_(column >= filters.start, column < until)

    sales = (
        select(
            Sale.shift_uuid.label("shift_uuid"),
            func.count(Sale.id).label("sales"),
            money_sum(Sale.total).label("sales_total"),
            money_sum(Sale.discount_total).label("discounts"),
            money_sum(Sale.tax_total).label("tax"),
            money_sum(Sale.change_due).label("change"),
        )
        .where(
            Sale.tenant_id == tenant,
            Sale.status == "completed",
            Sale.shift_uuid.is_not(None),
            during(Sale.occurred_at),
        )
        .group_by(Sale.shift_uuid)
        .subquery("shift_sales")
    )
    voids = (
        select(Sale.shift_uuid.label("shift_uuid"), func.count(Sale.id).label("voids"))
        .where(Sale.tenant_id == tenant, Sale.status == "voided", during(Sale.occurred_at))
        .group_by(Sale.shift_uuid)
        .subquery("shift_voids")
    )
    pays = (
        select(
            Sale.shift_uuid.label("shift_uuid"),
            *(
                money_sum(case((SalePayment.method == t, SalePayment.amount))).label(t)
                for t in TENDERS
            ),
        )
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(Sale.tenant_id == tenant, Sale.status == "completed", during(Sale.occurred_at))
        .group_by(Sale.shift_uuid)
        .subquery("shift_pays")
    )
    returns = (
        select(
            Return.shift_uuid.label("shift_uuid"),
            func.count(Return.id).label("returns"),
            money_sum(Return.total).label("returns_total"),
        )
        .where(Return.tenant_id == tenant, during(Return.occurred_at))
        .group_by(Return.shift_uuid)
        .subquery("shift_returns")
    )
    cash = (
        select(
            CashMovement.shift_uuid.label("shift_uuid"),
            money_sum(case((CashMovement.direction == "in", CashMovement.amount))).label("cash_in"),
            money_sum(case((CashMovement.direction == "out", CashMovement.amount))).label(
                "cash_out"
            ),
        )
        .where(CashMovement.tenant_id == tenant, during(CashMovement.occurred_at))
        .group_by(CashMovement.shift_uuid)
        .subquery("shift_cash")
    )
    # A shift belongs to the day it opened (a till closing after midnight stays on its day).
    when = func.coalesce(Shift.opened_at, Shift.closed_at)
    stmt = (
        select(
            Shift.uuid.label("shift"),
            Branch.id.label("branch_id"),
            Branch.name.label("branch"),
            when.label("date"),
            User.username.label("cashier"),
            Shift.device_id.label("device"),
            Shift.opened_at,
            Shift.closed_at,
            func.coalesce(sales.c.sales, 0).label("sales"),
            func.coalesce(voids.c.voids, 0).label("voids"),
            func.coalesce(sales.c.sales_total, 0).label("sales_total"),
            func.coalesce(sales.c.discounts, 0).label("discounts"),
            func.coalesce(sales.c.tax, 0).label("tax"),
            *(func.coalesce(pays.c[t], 0).label(t) for t in TENDERS),
            func.coalesce(sales.c.change, 0).label("change"),
            func.coalesce(returns.c.returns, 0).label("returns"),
            func.coalesce(returns.c.returns_total, 0).label("returns_total"),
            Shift.opening_float,
            func.coalesce(cash.c.cash_in, 0).label("cash_in"),
            func.coalesce(cash.c.cash_out, 0).label("cash_out"),
            Shift.expected_cash,
            Shift.counted_cash,
            Shift.variance,
        )
        .join(Branch, Branch.id == Shift.branch_id)
        .outerjoin(User, and_(User.id == Shift.cashier_id, User.tenant_id == tenant))
        .outerjoin(sales, sales.c.shift_uuid == Shift.uuid)
        .outerjoin(voids, voids.c.shift_uuid == Shift.uuid)
        .outerjoin(pays, pays.c.shift_uuid == Shift.uuid)
        .outerjoin(returns, returns.c.shift_uuid == Shift.uuid)
        .outerjoin(cash, cash.c.shift_uuid == Shift.uuid)
        .where(Shift.tenant_id == tenant, when >= filters.start, when < filters.end)
        .order_by(Branch.name, when, Shift.id)
    )
    branch = in_branches(Shift.branch_id, filters)
    if branch is not None:
        stmt = stmt.where(branch)
    if filters.cashier_id is not None:
        stmt = stmt.where(Shift.cashier_id == filters.cashier_id)
    rows = []
    for r in session.execute(stmt).mappings():
        row = dict(r)
        # Cash payments are recorded as handed over; what the drawer kept is net of change.
        row["cash"] = to_dec(row["cash"]) - to_dec(row.pop("change"))
        row["net_sales"] = to_dec(row["sales_total"]) - to_dec(row["returns_total"])
        rows.append(row)
    refunds = _refunds_by_tender(session, tenant_id=tenant, shifts=[r["shift"] for r in rows])
    for row in rows:
        for t in TENDERS:
            row[f"refund_{t}"] = refunds.get((row["shift"], t), ZERO)
    return Report(
        name="shift-reports",
        title="Shift (Z) reports",
        columns=[
            Column("branch", "Branch"),
            Column("date", "Date", Kind.DATE),
            Column("cashier", "Cashier"),
            Column("sales", "Sales", Kind.INT),
            Column("voids", "Voids", Kind.INT),
            Column("sales_total", "Sales total", Kind.MONEY),
            Column("discounts", "Discounts", Kind.MONEY),
            Column("tax", "Tax", Kind.MONEY),
            *(Column(t, t.title(), Kind.MONEY) for t in TENDERS),
            Column("returns", "Returns", Kind.INT),
            Column("returns_total", "Returned", Kind.MONEY),
            *(Column(f"refund_{t}", f"Refunded {t}", Kind.MONEY) for t in TENDERS),
            Column("net_sales", "Net sales", Kind.MONEY),
            Column("opening_float", "Float", Kind.MONEY),
            Column("cash_in", "Cash in", Kind.MONEY),
            Column("cash_out", "Cash out", Kind.MONEY),
            Column("expected_cash", "Expected cash", Kind.MONEY),
            Column("counted_cash", "Counted cash", Kind.MONEY),
            Column("variance", "Variance", Kind.MONEY),
            Column("shift", "Shift", internal=True),
            Column("device", "Device", internal=True),
            Column("branch_id", "Branch id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=filters.describe(),
    )


def _refunds_by_tender(
    session: Session, *, tenant_id: int, shifts: list[str]
) -> dict[tuple[str, str], Decimal]:
    """Sum the listed shifts' refunds per tender (each return keeps its refunds as a list)."""
    sums: dict[tuple[str, str], Decimal] = {}
    for start in range(0, len(shifts), 500):
        chunk = shifts[start : start + 500]
        for shift, refunds in session.execute(
            select(Return.shift_uuid, Return.refunds).where(
                Return.tenant_id == tenant_id, Return.shift_uuid.in_(chunk)
            )
        ):
            for refund in refunds or []:
                key = (shift, str(refund.get("method")))
                sums[key] = sums.get(key, ZERO) + Decimal(str(refund.get("amount", "0")))
    return sums
