"""Product totals at month starts: a long range's sales per product from two rows per product.

``report_product_totals`` holds, for each month start from ``totals_from`` to
``totals_through`` (on the tenant's summary state), every summed till sale and return per
product, channel and direction that happened before it. The sales of a range [start, end)
are then T(e) − T(s) for the month starts s and e nearest to its ends, plus or minus the
product days between each end and its month start, plus the lines after the watermark,
minus the summed sales voided since: exact, and about a tenth of the rows of a year of days.

Kept in step by the summary keeper: ``add_range`` adds a watermark step's sales to every
total they happened before (an offline till's sales of last month arrive today), in the
same transaction as the step; ``extend`` makes the next month's total from the previous one
plus that month's product days, one month per transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    bindparam,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from common.codes import Channel
from sync_server.db import AnySelect, utcnow
from sync_server.reports.base import Filters, SqlFilters, upsert
from sync_server.reports.models import ProductDaily, ProductTotals, SummaryState
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine

KEY = ["tenant_id", "as_of", "product_id", "channel", "is_return"]
# Below this many days a range reads its product days directly.
MIN_RANGE_DAYS = 62


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(moment: datetime) -> datetime:
    return month_start(moment).replace(
        year=moment.year + moment.month // 12, month=moment.month % 12 + 1
    )


def months(state: SummaryState | None) -> list[datetime]:
    """The month starts the state's totals cover, oldest first."""
    out: list[datetime] = []
    if state is None or state.totals_from is None or state.totals_through is None:
        return out
    month = state.totals_from
    while month <= state.totals_through:
        out.append(month)
        month = next_month(month)
    return out


def _as_of_rows(as_ofs: list[datetime]) -> Subquery:
    """The months as rows, padded with NULL months (which join nothing) to a power of two.

    The statement's shape, and so its compiled form, depends only on how many rows there
    are: padded, the months of a few years share a handful of compiled statements instead
    of one per count (a late sale's step reaches back any number of months)."""
    kind = ProductTotals.as_of.type
    size = 1 << (len(as_ofs) - 1).bit_length()
    padded: list[datetime | None] = [*as_ofs, *[None] * (size - len(as_ofs))]
    parts = [select(literal(m, kind).label("as_of")) for m in padded]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("months")


def add_range(
    session: Session,
    *,
    state: SummaryState,
    sales: tuple[int, int],
    returns: tuple[int, int],
) -> None:
    """Add the till sales with ids in (sales[0], sales[1]] and returns likewise to every
    month's total they happened before (none when they are newer than the last total)."""
    covered = months(state)
    if not covered:
        return
    tenant_id = state.tenant_id
    if sales[1] > sales[0]:
        in_range = (Sale.tenant_id == tenant_id, Sale.id > sales[0], Sale.id <= sales[1])
        first = session.scalar(select(func.min(Sale.occurred_at)).where(*in_range))
        later = [m for m in covered if first is not None and m > first]
        if later:
            month = _as_of_rows(later)
            sold = (
                select(
                    literal(tenant_id).label("tenant_id"),
                    month.c.as_of.label("as_of"),
                    SaleLine.product_id.label("product_id"),
                    Sale.channel.label("channel"),
                    literal(0, Integer).label("is_return"),
                    func.count().label("lines"),
                    func.sum(SaleLine.quantity).label("quantity"),
                    func.sum(SaleLine.total).label("revenue"),
                )
                .select_from(SaleLine)
                .join(Sale, Sale.id == SaleLine.sale_id)
                .join(month, Sale.occurred_at < month.c.as_of)
                .where(*in_range)
                .group_by(month.c.as_of, SaleLine.product_id, Sale.channel)
            )
            upsert(session, ProductTotals.__table__, sold, keys=KEY)
    if returns[1] > returns[0]:
        in_range = (Return.tenant_id == tenant_id, Return.id > returns[0], Return.id <= returns[1])
        first = session.scalar(select(func.min(Return.occurred_at)).where(*in_range))
        later = [m for m in covered if first is not None and m > first]
        if later:
            month = _as_of_rows(later)
            back = (
                select(
                    literal(tenant_id).label("tenant_id"),
                    month.c.as_of.label("as_of"),
                    ReturnLine.product_id.label("product_id"),
                    literal(Channel.IN_STORE.value, String(16)).label("channel"),
                    literal(1, Integer).label("is_return"),
                    func.count().label("lines"),
                    func.sum(-ReturnLine.quantity).label("quantity"),
                    func.sum(-ReturnLine.amount).label("revenue"),
                )
                .select_from(ReturnLine)
                .join(Return, Return.id == ReturnLine.return_id)
                .join(month, Return.occurred_at < month.c.as_of)
                .where(*in_range)
                .group_by(month.c.as_of, ReturnLine.product_id)
            )
            upsert(session, ProductTotals.__table__, back, keys=KEY)


def _days_summed(tenant_id: int, as_of: datetime, *conds: Any) -> AnySelect:
    d = ProductDaily
    return (
        select(
            literal(tenant_id).label("tenant_id"),
            literal(as_of, ProductTotals.as_of.type).label("as_of"),
            d.product_id.label("product_id"),
            d.channel.label("channel"),
            d.is_return.label("is_return"),
            func.sum(d.lines).label("lines"),
            func.sum(d.quantity).label("quantity"),
            func.sum(d.revenue).label("revenue"),
        )
        .where(d.tenant_id == tenant_id, *conds)
        .group_by(d.product_id, d.channel, d.is_return)
    )


def extend(session: Session, *, state: SummaryState, now: datetime | None = None) -> dict[str, int]:
    """Make the next month's totals (the first: the month start before the first summed day,
    which holds nothing); one step, with the tenant's summary state locked by the caller."""
    tenant_id = state.tenant_id
    current = month_start(now or utcnow())
    made = 0
    if state.totals_through is None:
        d = ProductDaily
        first = session.scalar(select(func.min(d.day)).where(d.tenant_id == tenant_id))
        if first is not None:
            # Nothing was sold before the first summed day: that month start's totals are
            # empty, and a range starting near it needs no product days before it.
            state.totals_from = state.totals_through = month_start(first)
            made = 1
    elif state.totals_through < current:
        last = state.totals_through
        new = next_month(last)
        t = ProductTotals
        carried = select(
            t.tenant_id,
            literal(new, t.as_of.type).label("as_of"),
            t.product_id,
            t.channel,
            t.is_return,
            t.lines,
            t.quantity,
            t.revenue,
        ).where(t.tenant_id == tenant_id, t.as_of == last)
        session.execute(
            t.__table__.insert().from_select([c.name for c in carried.selected_columns], carried)
        )
        d = ProductDaily
        month = _days_summed(tenant_id, new, d.day >= last, d.day < new)
        upsert(session, t.__table__, month, keys=KEY)
        state.totals_through = new
        made = 1
    session.flush()
    behind = state.totals_through is not None and state.totals_through < current
    return {"made": made, "behind": int(made and behind)}


def _nearest(covered: list[datetime], moment: datetime) -> datetime:
    return min(covered, key=lambda m: (abs((m - moment).total_seconds()), m))


@dataclass(frozen=True, slots=True)
class StoredRows:
    """How the month-start totals give the summed sales of [start, end): T(hi) − T(lo),
    plus or minus the product days between each end and its month start."""

    lo: datetime
    hi: datetime
    start: datetime
    end: datetime

    @property
    def shape(self) -> tuple[bool, ...]:
        """Which stretches of product days there are: each end before or after its month."""
        return (self.start < self.lo, self.lo < self.start, self.hi < self.end, self.end < self.hi)

    def params(self) -> dict[str, datetime]:
        """The values of the parameters `selects` adds."""
        return {"totals_lo": self.lo, "totals_hi": self.hi}

    def selects(self, filters: SqlFilters, *, start: Any, end: Any) -> list[AnySelect]:
        """Selects of (branch_id NULL, product_id, occurred_at = start, is_return, lines,
        quantity, revenue) adding up to the summed sales per product; `start` and `end` are
        the range as SQL (bound to this range's values)."""
        t, d = ProductTotals, ProductDaily
        lo = bindparam("totals_lo", type_=t.as_of.type)
        hi = bindparam("totals_hi", type_=t.as_of.type)
        moment = type_coerce(start, d.day.type)
        parts: list[AnySelect] = []

        def totals(as_of: Any, sign: int) -> None:
            s = literal(sign, Integer)
            stmt = select(
                null().cast(BigInteger).label("branch_id"),
                t.product_id.label("product_id"),
                moment.label("occurred_at"),
                t.is_return.label("is_return"),
                (s * t.lines).label("lines"),
                (s * t.quantity).label("quantity"),
                (s * t.revenue).label("revenue"),
            ).where(t.tenant_id == filters.tenant_id, t.as_of == as_of)
            if filters.channel is not None:
                stmt = stmt.where(t.channel == filters.channel)
            parts.append(stmt)

        def days(there: bool, first: Any, last: Any, sign: int) -> None:
            if not there:
                return
            s = literal(sign, Integer)
            stmt = select(
                null().cast(BigInteger).label("branch_id"),
                d.product_id.label("product_id"),
                moment.label("occurred_at"),
                d.is_return.label("is_return"),
                (s * d.lines).label("lines"),
                (s * d.quantity).label("quantity"),
                (s * d.revenue).label("revenue"),
            ).where(d.tenant_id == filters.tenant_id, d.day >= first, d.day < last)
            if filters.channel is not None:
                stmt = stmt.where(d.channel == filters.channel)
            parts.append(stmt)

        totals(hi, 1)
        totals(lo, -1)
        # [start, lo) is in the range but not in T(hi) − T(lo); [lo, start) is there but
        # not in it.
        before_lo, after_lo, before_end, after_end = self.shape
        days(before_lo, start, lo, 1)
        days(after_lo, lo, start, -1)
        days(before_end, hi, end, 1)
        days(after_end, end, hi, -1)
        return parts


def stored_rows(
    session: Session, *, filters: Filters, start: datetime, end: datetime
) -> StoredRows | None:
    """Return how the totals give the summed sales of [start, end) per product; None when
    they cannot answer (a branch or cashier filter, too short a range, none made)."""
    if filters.branch_ids is not None or filters.cashier_id is not None:
        return None
    if (end - start).days < MIN_RANGE_DAYS:
        return None
    state = session.scalar(select(SummaryState).where(SummaryState.tenant_id == filters.tenant_id))
    covered = months(state)
    if len(covered) < 2:
        return None
    lo, hi = _nearest(covered, start), _nearest(covered, end)
    if hi <= lo:
        return None
    return StoredRows(lo=lo, hi=hi, start=start, end=end)
