"""Monthly stock snapshots, so stock can be valued as of any past date without the whole ledger.

A snapshot at a month start holds, per branch and product, the shelf quantity and the
costed receipts of every movement that happened before it, among the movements with ids up
to the tenant's ``movement_id_through``. ``refresh`` (run by the summary keeper) first adds
the movements recorded since to every snapshot they happened before (a till that was
offline sends yesterday's sales today), then makes at most one new snapshot from the one
before it plus that month's movements: short transactions, even for a year's backfill.

``ledger_rows`` gives, for a date, rows that add up to the ledger before it: the latest
snapshot at or before it, the movements from that snapshot on, and the movements recorded
after the watermark that happened before the snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from common.codes import MovementCode
from sync_server.db import AnySelect, Money, Qty, is_sqlite, utcnow
from sync_server.inventory.models import StockMovement
from sync_server.reports import summary
from sync_server.reports.base import unindexed, upsert
from sync_server.reports.models import StockSnapshot, SummaryState

# Reservation and release only move what is set aside, never what is on the shelf.
SHELF_EXCLUDED = (MovementCode.RESERVATION.value, MovementCode.RELEASE.value)
KEY = ["tenant_id", "as_of", "branch_id", "product_id"]


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)


def _months(first: datetime | None, last: datetime | None) -> list[datetime]:
    out: list[datetime] = []
    if first is None or last is None:
        return out
    month = first
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def _movement_sums(m: type[StockMovement] = StockMovement) -> list[Any]:
    """Shelf quantity and costed receipts of movement rows (to be summed)."""
    costed = and_(m.code == MovementCode.RECEIPT.value, m.unit_cost.is_not(None))
    return [
        case((m.code.not_in(SHELF_EXCLUDED), m.quantity), else_=literal(0, Qty())).label(
            "quantity"
        ),
        case((costed, m.quantity), else_=literal(0, Qty())).label("receipt_quantity"),
        case((costed, m.quantity * m.unit_cost), else_=literal(0, Money())).label("receipt_value"),
    ]


def _tail_columns(session: Session) -> tuple[Any, Any]:
    """The tenant and time columns for reading movements after an id: kept off their index on
    SQLite, so it walks the id range rather than all the time before a month."""
    m = StockMovement
    if is_sqlite(session.get_bind()):
        return unindexed(m.tenant_id), unindexed(m.occurred_at)
    return m.tenant_id, m.occurred_at


def _grouped_movements(
    tenant_id: int, as_of: datetime, *conds: Any, tenant: Any = None
) -> AnySelect:
    m = StockMovement
    sums = _movement_sums()
    inner = (
        select(m.branch_id.label("branch_id"), m.product_id.label("product_id"), *sums)
        .where((m.tenant_id if tenant is None else tenant) == tenant_id, *conds)
        .subquery("moved")
    )
    return select(
        literal(tenant_id).label("tenant_id"),
        literal(as_of, StockSnapshot.as_of.type).label("as_of"),
        inner.c.branch_id,
        inner.c.product_id,
        func.sum(inner.c.quantity).label("quantity"),
        func.sum(inner.c.receipt_quantity).label("receipt_quantity"),
        func.sum(inner.c.receipt_value).label("receipt_value"),
    ).group_by(inner.c.branch_id, inner.c.product_id)


def refresh(
    session: Session, *, tenant_id: int, now: datetime | None = None, wait: bool = True
) -> dict[str, int]:
    """Bring the snapshots up to the newest movement and make the next month's; one step.

    Without `wait`, a tenant another transaction is refreshing is skipped ("skipped": 1).
    """
    state = summary.claimed_state(session, tenant_id=tenant_id, wait=wait)
    if state is None:
        return {"behind": 0, "skipped": 1}
    m = StockMovement
    top = session.scalar(select(func.max(m.id)).where(m.tenant_id == tenant_id)) or 0
    through = state.movement_id_through or 0
    if top > through:
        # A movement still being written may hold an id below the newest committed one.
        (top,) = summary.settled_tops(session, tenant_id=tenant_id, ids=(m.id,))
    months = _months(state.snapshot_from, state.snapshot_through)
    if top > through:
        tenant, when = _tail_columns(session)
        for as_of in months:
            late = _grouped_movements(
                tenant_id, as_of, m.id > through, m.id <= top, when < as_of, tenant=tenant
            )
            upsert(session, StockSnapshot.__table__, late, keys=KEY)
        state.movement_id_through = through = top
    current = month_start(now or utcnow())
    made = 0
    if months:
        last = months[-1]
        if last < current:
            new = next_month(last)
            s = StockSnapshot
            carried = select(
                s.tenant_id,
                literal(new, s.as_of.type).label("as_of"),
                s.branch_id,
                s.product_id,
                s.quantity,
                s.receipt_quantity,
                s.receipt_value,
            ).where(s.tenant_id == tenant_id, s.as_of == last)
            session.execute(
                StockSnapshot.__table__.insert().from_select(
                    [c.name for c in carried.selected_columns], carried
                )
            )
            moved = _grouped_movements(
                tenant_id, new, m.id <= through, m.occurred_at >= last, m.occurred_at < new
            )
            upsert(session, StockSnapshot.__table__, moved, keys=KEY)
            state.snapshot_through = new
            made = 1
    else:
        first = session.scalar(select(func.min(m.occurred_at)).where(m.tenant_id == tenant_id))
        if first is not None and next_month(first) <= current:
            new = next_month(first)
            moved = _grouped_movements(tenant_id, new, m.id <= through, m.occurred_at < new)
            upsert(session, StockSnapshot.__table__, moved, keys=KEY)
            state.snapshot_from = state.snapshot_through = new
            made = 1
    session.flush()
    behind = state.snapshot_through is not None and state.snapshot_through < current
    return {"made": made, "behind": int(made and behind)}


def snapshot_before(session: Session, *, tenant_id: int, end: datetime) -> datetime | None:
    """Return the latest snapshot's month start at or before `end`, None when there is none."""
    state = session.scalar(select(SummaryState).where(SummaryState.tenant_id == tenant_id))
    months = _months(state.snapshot_from, state.snapshot_through) if state else []
    taken = [month for month in months if month <= end]
    return taken[-1] if taken else None


def ledger_rows(
    session: Session, *, tenant_id: Any, end: Any, as_of: Any | None
) -> tuple[Subquery, Subquery]:
    """The ledger before `end`, every branch (callers narrow): (held, receipts).

    The tenant, `end` and `as_of` (snapshot_before's month, None without one) are SQL, such
    as bind parameters: the statement is kept once per shape (reports/statements.py).

    held has one row per branch and product, (branch_id, product_id, quantity); receipts has
    rows of (product_id, receipt_quantity, receipt_value) to be summed per product.

    With a snapshot at or before `end`, its rows (already one per branch and product) are
    joined with the movements since, grouped (a few weeks of movements, not the year), and
    the pairs the snapshot does not hold yet are added; receipts are the snapshot's and the
    movements' rows side by side. Nothing groups the snapshot's hundreds of thousands of
    rows per branch and product, and the planner, which counts a snapshot's rows from its
    statistics but could not count the groups of a union, no longer plans for a few
    thousand rows and sorts them.
    """
    m = StockMovement
    cols = [m.branch_id.label("branch_id"), m.product_id.label("product_id"), *_movement_sums()]
    if as_of is None:
        ledger = _grouped(select(*cols).where(m.tenant_id == tenant_id, m.occurred_at < end)).cte(
            "ledger"
        )
        return (
            select(ledger.c.branch_id, ledger.c.product_id, ledger.c.quantity).subquery("holding"),
            select(ledger.c.product_id, ledger.c.receipt_quantity, ledger.c.receipt_value).subquery(
                "receipts"
            ),
        )
    since = select(*cols).where(
        m.tenant_id == tenant_id, m.occurred_at >= as_of, m.occurred_at < end
    )
    tenant, when = _tail_columns(session)
    # The watermark read in the report's own statement, with the snapshot rows it covers.
    through = (
        select(SummaryState.movement_id_through)
        .where(SummaryState.tenant_id == tenant_id)
        .scalar_subquery()
    )
    late = select(*cols).where(tenant == tenant_id, m.id > through, when < as_of)
    # A CTE: read three times below, computed once on both engines.
    moved = _grouped(union_all(since, late)).cte("moved")
    s = StockSnapshot
    snapshot = (s.tenant_id == tenant_id, s.as_of == as_of)
    pair = and_(moved.c.branch_id == s.branch_id, moved.c.product_id == s.product_id)
    stored = (
        select(
            s.branch_id,
            s.product_id,
            (s.quantity + func.coalesce(moved.c.quantity, 0)).label("quantity"),
        )
        .outerjoin(moved, pair)
        .where(*snapshot)
    )
    unstored = select(moved.c.branch_id, moved.c.product_id, moved.c.quantity).where(
        ~select(s.product_id).where(*snapshot, pair).exists()
    )
    receipts = union_all(
        select(s.product_id, s.receipt_quantity, s.receipt_value).where(*snapshot),
        select(moved.c.product_id, moved.c.receipt_quantity, moved.c.receipt_value),
    )
    return union_all(stored, unstored).subquery("holding"), receipts.subquery("receipts")


def _grouped(rows: Any) -> AnySelect:
    """Sum movement rows (or a union of them) per branch and product."""
    sub = rows.subquery("rows")
    return select(
        sub.c.branch_id,
        sub.c.product_id,
        func.sum(sub.c.quantity).label("quantity"),
        func.sum(sub.c.receipt_quantity).label("receipt_quantity"),
        func.sum(sub.c.receipt_value).label("receipt_value"),
    ).group_by(sub.c.branch_id, sub.c.product_id)
