"""Customer credit ageing: what customers owe, by how old the unpaid charges are."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from sync_server.credit.models import CreditEntry
from sync_server.partners.models import Customer
from sync_server.reports.base import Column, Filters, Kind, Report, money_sum, start_of

# The ageing buckets, in days since the charge: (key, label, newest day, oldest day).
BUCKETS = (
    ("days_0_30", "0–30 days", 0, 30),
    ("days_31_60", "31–60 days", 31, 60),
    ("days_61_90", "61–90 days", 61, 90),
    ("days_90_plus", "90+ days", 91, None),
)


def credit_ageing(session: Session, *, filters: Filters, as_of: date) -> Report:
    """Age each customer's open charges by their date (0–30, 31–60, 61–90, 90+ days)."""
    entry = CreditEntry
    # A charge made on day D is n days old on as_of when D = as_of − n; it falls in a
    # bucket when created in [as_of − oldest, as_of − newest + 1) as instants at midnight.
    charge = and_(entry.amount > 0, entry.open_amount > 0)
    columns = []
    for key, _label, newest, oldest in BUCKETS:
        cond = and_(charge, entry.created_at < start_of(as_of - timedelta(days=newest - 1)))
        if oldest is not None:
            cond = and_(cond, entry.created_at >= start_of(as_of - timedelta(days=oldest)))
        columns.append(money_sum(case((cond, entry.open_amount))).label(key))
    unallocated = money_sum(
        case((and_(entry.amount < 0, entry.open_amount > 0), entry.open_amount))
    ).label("unallocated_payments")
    open_due = money_sum(case((charge, entry.open_amount))).label("total_due")
    stmt = (
        select(
            Customer.id.label("customer_id"),
            Customer.name.label("customer"),
            Customer.credit_limit,
            Customer.balance,
            *columns,
            open_due,
            unallocated,
        )
        .join(entry, entry.customer_id == Customer.id)
        .where(
            Customer.tenant_id == filters.tenant_id,
            entry.tenant_id == filters.tenant_id,
            entry.created_at < start_of(as_of + timedelta(days=1)),
        )
        .group_by(Customer.id, Customer.name, Customer.credit_limit, Customer.balance)
        .having(open_due > 0)
        .order_by(open_due.desc(), Customer.id)
    )
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    return Report(
        name="customer-credit-ageing",
        title=f"Customer credit ageing as of {as_of.isoformat()}",
        columns=[
            Column("customer", "Customer"),
            *(Column(key, label, Kind.MONEY) for key, label, _n, _o in BUCKETS),
            Column("total_due", "Total due", Kind.MONEY),
            Column("unallocated_payments", "Unallocated payments", Kind.MONEY),
            Column("balance", "Balance", Kind.MONEY),
            Column("credit_limit", "Credit limit", Kind.MONEY, total=False),
            Column("customer_id", "Customer id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters={"as_of": as_of.isoformat()},
        notes=["Open amounts are today's; settlements after as_of are already applied."],
    )
