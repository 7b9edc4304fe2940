"""Backtest of demand-based reordering against a fixed threshold over generated sales.

Run: .venv/bin/python -m bench.bench_forecast [--products N] [--weeks W] [--seed S]

Each product sells with a known weekly pattern (busy weekends), a trend (some rise, some
fall) and Poisson noise. Both policies see only what was sold (a stock-out hides demand),
order with the same lead time, and start from the same stock:

* fixed threshold: what a shop sets once from its first weeks: reorder when stock falls to
  1.5 x the lead time's sales, order two weeks of sales;
* forecast: purchasing.forecast refitted every week on the last 12 weeks of sales, reorder
  when stock plus what is on order reaches the reorder point, order up to the target.

It prints lost sales (units and stock-out days) and the average stock held for both.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass, field

from sync_server.purchasing import forecast

LEAD_DAYS = 6
REVIEW_DAYS = 7
WARMUP_WEEKS = 12
SERVICE_LEVEL = 0.95


@dataclass
class Result:
    lost: int = 0
    stockout_days: int = 0
    held: float = 0.0
    days: int = 0
    orders: int = 0
    sold: int = 0


@dataclass
class Shelf:
    on_hand: int
    arrivals: dict[int, int] = field(default_factory=dict)

    def on_order(self) -> int:
        return sum(self.arrivals.values())


def poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count (Knuth for small means, normal approximation for large)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def demand_curve(rng: random.Random, days: int) -> list[float]:
    """Return the expected daily demand of one product: base x weekday shape + trend."""
    base = rng.uniform(3, 30)
    shape = [1.0, 0.85, 0.85, 0.95, 1.2, 1.7, 1.9]
    slope = rng.choice((-0.4, 0.0, 0.6, 1.0)) * base / days  # change over the whole run
    return [max(0.2, (base + slope * t) * shape[t % 7]) for t in range(days)]


def simulate(curve: list[float], demand: list[int], *, policy: str) -> Result:
    """Run one policy over the test period after the warm-up; return what happened."""
    start = WARMUP_WEEKS * 7
    history = [float(d) for d in demand[:start]]  # the warm-up sold everything asked for
    warm_daily = sum(history) / len(history)
    threshold = math.ceil(1.5 * warm_daily * LEAD_DAYS)
    batch = math.ceil(warm_daily * 14)
    shelf = Shelf(on_hand=math.ceil(warm_daily * 10))
    result = Result()
    reorder_point = order_up_to = 0
    for day in range(start, len(curve)):
        shelf.on_hand += shelf.arrivals.pop(day, 0)
        sold = min(shelf.on_hand, demand[day])
        shelf.on_hand -= sold
        result.sold += sold
        result.lost += demand[day] - sold
        result.stockout_days += demand[day] > sold
        history.append(float(sold))
        if policy == "fixed":
            if shelf.on_hand + shelf.on_order() <= threshold:
                shelf.arrivals[day + LEAD_DAYS] = batch
                result.orders += 1
        else:
            if (day - start) % REVIEW_DAYS == 0:
                plan = forecast.plan(
                    history[-forecast.HISTORY_DAYS :],
                    lead_days=LEAD_DAYS,
                    review_days=REVIEW_DAYS,
                    service_level=SERVICE_LEVEL,
                )
                reorder_point, order_up_to = int(plan.reorder_point), int(plan.order_up_to)
            position = shelf.on_hand + shelf.on_order()
            if position <= reorder_point:
                shelf.arrivals[day + LEAD_DAYS] = order_up_to - position
                result.orders += 1
        result.held += shelf.on_hand
        result.days += 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=40)
    parser.add_argument("--weeks", type=int, default=26, help="weeks backtested after warm-up")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    days = (WARMUP_WEEKS + args.weeks) * 7
    totals = {"fixed": Result(), "forecast": Result()}
    started = time.perf_counter()
    for _ in range(args.products):
        curve = demand_curve(rng, days)
        demand = [poisson(rng, mean) for mean in curve]
        for policy, total in totals.items():
            r = simulate(curve, demand, policy=policy)
            total.lost += r.lost
            total.stockout_days += r.stockout_days
            total.held += r.held
            total.days += r.days
            total.orders += r.orders
            total.sold += r.sold
    elapsed = time.perf_counter() - started
    print(
        f"backtest: {args.products} products x {args.weeks} weeks, lead time {LEAD_DAYS} days, "
        f"service level {SERVICE_LEVEL:.0%} ({elapsed:.1f} s)"
    )
    print(
        f"{'policy':<16}{'lost units':>12}{'lost %':>9}{'stock-out days':>16}"
        f"{'avg stock held':>16}{'orders':>8}"
    )
    for policy, r in totals.items():
        demand_total = r.sold + r.lost
        print(
            f"{policy:<16}{r.lost:>12}{100 * r.lost / demand_total:>8.2f}%"
            f"{r.stockout_days:>16}{r.held / r.days * args.products:>16.0f}{r.orders:>8}"
        )
    fixed, fc = totals["fixed"], totals["forecast"]
    print(
        f"forecast vs fixed: lost sales x{fc.lost / max(fixed.lost, 1):.2f}, "
        f"stock-out days x{fc.stockout_days / max(fixed.stockout_days, 1):.2f}, "
        f"stock held x{fc.held / fixed.held:.2f}"
    )


if __name__ == "__main__":
    main()
