"""Demand-based reordering: forecast each product's sales and plan when and how much to order.

Per product and branch, the daily sales of the ledger (SALE and COMMIT movements) feed an
additive Holt-Winters model with a weekly season (level, trend, day-of-week). The
supplier's lead time is measured from its received purchase orders (approval to first
goods receipt). With a service level, that gives:

* safety stock = z(service level) x one-day forecast error x sqrt(lead time)
* reorder point = forecast demand over the lead time + safety stock
* order-up-to = forecast demand over lead time + review period + safety stock

Forecasting is statistics over counts, so it works in floats; the plan it returns is
rounded up to whole units as Decimals, like every quantity the API shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from statistics import NormalDist, median

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from sync_server.db import utcnow
from sync_server.inventory.models import StockMovement
from sync_server.purchasing.models import GoodsReceipt, PurchaseOrder

SEASON = 7
HISTORY_DAYS = 84
DEFAULT_LEAD_DAYS = 7
_SOLD = (MovementCode.SALE.value, MovementCode.COMMIT.value)
# A small grid is enough to fit short, noisy shop series; each fit is one pass over them.
_ALPHAS = (0.1, 0.2, 0.35, 0.5)
_BETAS = (0.0, 0.02, 0.05, 0.1)
_GAMMAS = (0.05, 0.15, 0.3)


@dataclass(frozen=True, slots=True)
class Model:
    """A fitted additive Holt-Winters model at the end of its series."""

    level: float
    trend: float
    seasonals: tuple[float, ...]
    sigma: float
    length: int

    def forecast(self, days: int) -> list[float]:
        """Return the expected sales of each of the next days (never below zero)."""
        m = len(self.seasonals)
        return [
            max(0.0, self.level + k * self.trend + self.seasonals[(self.length + k - 1) % m])
            for k in range(1, days + 1)
        ]


def _run(series: list[float], *, alpha: float, beta: float, gamma: float) -> tuple[Model, float]:
    m = SEASON
    first = sum(series[:m]) / m
    second = sum(series[m : 2 * m]) / m
    level, trend = first, (second - first) / m
    seasonals = [x - first for x in series[:m]]
    sse = 0.0
    for t, actual in enumerate(series):
        s = seasonals[t % m]
        predicted = level + trend + s
        if t >= m:  # the first season only initialises the seasonal terms
            sse += (actual - predicted) ** 2
        previous = level
        level = alpha * (actual - s) + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
        seasonals[t % m] = gamma * (actual - level) + (1 - gamma) * s
    n = max(1, len(series) - m)
    sigma = math.sqrt(sse / n)
    return Model(level, trend, tuple(seasonals), sigma, len(series)), sse


def fit(series: list[float]) -> Model:
    """Fit the model to daily sales, picking the smoothing factors with the least error."""
    if len(series) < 2 * SEASON:
        mean = sum(series) / len(series) if series else 0.0
        spread = math.sqrt(sum((x - mean) ** 2 for x in series) / len(series)) if series else 0.0
        return Model(mean, 0.0, (0.0,) * SEASON, spread, len(series))
    best: tuple[Model, float] | None = None
    for alpha in _ALPHAS:
        for beta in _BETAS:
            for gamma in _GAMMAS:
                candidate = _run(series, alpha=alpha, beta=beta, gamma=gamma)
                if best is None or candidate[1] < best[1]:
                    best = candidate
    assert best is not None
    return best[0]


@dataclass(frozen=True, slots=True)
class Plan:
    """When and how much to order one product, and why."""

    reorder_point: Decimal
    order_up_to: Decimal
    safety_stock: Decimal
    weekly_sales: Decimal
    lead_days: int
    reasoning: str


def plan(
    series: list[float],
    *,
    lead_days: float,
    review_days: int,
    service_level: float,
    lead_measured: bool = True,
) -> Plan:
    """Return the reorder point and order-up-to level for a daily sales series."""
    model = fit(series)
    # Whole days, rounded up; a few minutes over a day (6.001 days measured) are noise.
    lead = max(1, math.ceil(round(lead_days, 1)))
    ahead = model.forecast(lead + max(review_days, 1))
    z = NormalDist().inv_cdf(service_level)
    safety = max(0.0, z * model.sigma * math.sqrt(lead))
    lead_demand = sum(ahead[:lead])
    reorder_point = math.ceil(lead_demand + safety)
    order_up_to = max(reorder_point, math.ceil(sum(ahead) + safety))
    weekly = sum(model.forecast(SEASON))
    per_day = model.trend
    drift = "rising" if per_day * SEASON > 0.5 else "falling" if per_day * SEASON < -0.5 else "flat"
    source = "measured" if lead_measured else "assumed"
    reasoning = (
        f"sells ~{weekly:.0f}/week ({drift}), lead time {lead} days ({source}), "
        f"safety stock {math.ceil(safety)} for {service_level:.0%} service: "
        f"reorder at {reorder_point}, order up to {order_up_to}"
    )
    return Plan(
        reorder_point=Decimal(reorder_point),
        order_up_to=Decimal(order_up_to),
        safety_stock=Decimal(math.ceil(safety)),
        weekly_sales=Decimal(f"{weekly:.1f}"),
        lead_days=lead,
        reasoning=reasoning,
    )


def daily_sales(
    session: Session, *, tenant_id: int, branch_id: int, days: int = HISTORY_DAYS
) -> dict[int, list[float]]:
    """Return per product the units sold on each of the last days (oldest first, today last)."""
    today = utcnow().date()
    start = today - timedelta(days=days - 1)
    day = func.date(StockMovement.occurred_at)
    rows = session.execute(
        select(StockMovement.product_id, day, -func.sum(StockMovement.quantity))
        .where(
            StockMovement.tenant_id == tenant_id,
            StockMovement.branch_id == branch_id,
            StockMovement.code.in_(_SOLD),
            StockMovement.occurred_at
            >= datetime.combine(start, datetime.min.time(), utcnow().tzinfo),
        )
        .group_by(StockMovement.product_id, day)
    ).all()
    series: dict[int, list[float]] = {}
    for product_id, when, quantity in rows:
        when = when if isinstance(when, date) else date.fromisoformat(str(when))
        index = (when - start).days
        if 0 <= index < days:
            series.setdefault(product_id, [0.0] * days)[index] += float(quantity)
    return series


def lead_times(session: Session, *, tenant_id: int, limit: int = 20) -> dict[int, float]:
    """Return per supplier the median days from approval to first receipt of its recent POs."""
    first_receipt = (
        select(GoodsReceipt.purchase_order_id, func.min(GoodsReceipt.received_at).label("at"))
        .where(GoodsReceipt.tenant_id == tenant_id)
        .group_by(GoodsReceipt.purchase_order_id)
        .subquery()
    )
    rows = session.execute(
        select(PurchaseOrder.supplier_id, PurchaseOrder.decided_at, first_receipt.c.at)
        .join(first_receipt, first_receipt.c.purchase_order_id == PurchaseOrder.id)
        .where(PurchaseOrder.tenant_id == tenant_id, PurchaseOrder.decided_at.is_not(None))
        .order_by(PurchaseOrder.decided_at.desc())
    ).all()
    samples: dict[int, list[float]] = {}
    for supplier_id, decided_at, received_at in rows:
        found = samples.setdefault(supplier_id, [])
        if len(found) < limit:
            decided = decided_at.replace(tzinfo=None)
            received = received_at.replace(tzinfo=None)
            found.append(max(0.0, (received - decided).total_seconds() / 86400))
    return {supplier_id: median(days) for supplier_id, days in samples.items()}
