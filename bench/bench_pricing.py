"""Pricing benchmark: a 50-line cart against 1,000 active rules, as the till prices it.

Run: `.venv/bin/python -m bench.bench_pricing [--lines N] [--rules N] [--runs N]`.
Prints p50/p99 beside the budgets of DESIGN.md §8 (pricing p99 ≤ 5 ms; scan → cart line
p99 ≤ 10 ms with the rules active: barcode lookup in a till store, then the cart's add,
which reprices the whole cart) and exits 1 over either.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from common.pricing import (
    Context,
    LineIn,
    PriceList,
    PriceListItem,
    PriceMode,
    PromoKind,
    Promotion,
    Rules,
    Window,
    price_cart,
)

BUDGET_P99_MS = 5.0
BUDGET_SCAN_P99_MS = 10.0


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def build(
    *, lines: int, rules: int, seed: int = 7, product_ids: list[int] | None = None
) -> tuple[list[LineIn], Rules]:
    """Return a cart and a rule set shaped like a busy chain's (most rules miss this cart)."""
    rnd = random.Random(seed)
    products = 20_000
    cart = [
        LineIn(
            line_id=f"l{i}",
            product_id=product_ids[i] if product_ids else rnd.randrange(1, products),
            category_id=rnd.randrange(1, 200),
            quantity=Decimal(rnd.randrange(1, 6)),
            base_price=Decimal(rnd.randrange(100, 50_000)) / 100,
            cost=Decimal(rnd.randrange(50, 20_000)) / 100,
            tax_rate=Decimal(rnd.choice([0, 5, 12, 18])),
        )
        for i in range(lines)
    ]
    # A tenth of the promotions target this cart's products or categories, so they all run.
    kinds = list(PromoKind)
    promos = []
    for n in range(rules - 20):
        hit = n % 10 == 0
        target = rnd.choice(cart).product_id if hit else rnd.randrange(1, products)
        promos.append(
            Promotion(
                id=n + 1,
                name=f"promo {n}",
                kind=kinds[n % len(kinds)],
                priority=n % 5,
                product_ids=frozenset({target, rnd.randrange(1, products)}),
                category_ids=frozenset({rnd.randrange(1, 200)}) if n % 7 == 0 else frozenset(),
                percent=Decimal(rnd.randrange(5, 30)),
                amount=Decimal(rnd.randrange(1, 20)),
                price=Decimal(rnd.randrange(10, 200)),
                buy_qty=2,
                get_qty=1,
                bundle_qty=3,
                window=Window(branch_ids=frozenset({1, 2, 3})),
            )
        )
    lists = [
        PriceList(
            id=10_000 + n,
            name=f"list {n}",
            priority=n % 3,
            window=Window(customer_groups=frozenset({"retail" if n % 2 else "wholesale"})),
            items=tuple(
                PriceListItem(
                    mode=PriceMode.LIST_MINUS,
                    value=Decimal(rnd.randrange(1, 15)),
                    product_id=rnd.choice(cart).product_id,
                    min_quantity=Decimal(rnd.choice([1, 3])),
                )
                for _ in range(10)
            ),
        )
        for n in range(20)
    ]
    return cart, Rules(price_lists=tuple(lists), promotions=tuple(promos))


def scan_to_line(*, rules: int, lines: int, runs: int) -> list[float]:
    """Time scan → cart line on a demo till store with the rules active (ms per scan)."""
    import tempfile
    from pathlib import Path

    from pos_client.services import queries
    from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
    from pos_client.services.pricing import TillPricing
    from pos_client.services.till import Cart
    from pos_client.store.db import LocalStore

    codes = [p.barcode for p in DEMO_PRODUCTS if p.unit == "piece"]
    times: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        store = LocalStore(Path(folder) / "till.db")
        with store.transaction() as session:
            seed_demo(session, extra_products=lines)
        with store.session() as session:
            found = session.execute(text("SELECT code, product_id FROM barcodes")).all()
        by_code = dict(found)
        codes = (codes + [c for c, _ in found if c not in codes])[:lines]
        # The rules touch these very products, as a busy shop's would.
        _, rule_set = build(lines=lines, rules=rules, product_ids=[by_code[c] for c in codes])
        pricing = TillPricing(
            rules=rule_set,
            branch_id=1,
            clock=lambda: datetime(2026, 12, 2, 18, 30, tzinfo=UTC),
        )
        with store.session() as session:
            while len(times) < runs:
                cart = Cart()
                cart.pricing = pricing
                for code in codes:
                    started = time.perf_counter()
                    item = queries.find_by_codes(session, (code,))
                    assert item is not None
                    cart.add(item)
                    times.append((time.perf_counter() - started) * 1000)
        store.close()
    return times[:runs]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args(argv)
    cart, rules = build(lines=args.lines, rules=args.rules)
    ctx = Context(
        at=datetime(2026, 12, 2, 18, 30, tzinfo=UTC), branch_id=1, customer_group="retail"
    )
    for _ in range(20):
        price_cart(lines=cart, ctx=ctx, rules=rules)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        priced = price_cart(lines=cart, ctx=ctx, rules=rules)
        times.append((time.perf_counter() - started) * 1000)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    print(
        f"pricing {args.lines}-line cart vs {args.rules} rules "
        f"({len(priced.applied)} promotions applied): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(budget p99 ≤ {BUDGET_P99_MS} ms)"
    )
    scans = scan_to_line(rules=args.rules, lines=args.lines, runs=args.runs)
    s50, s99 = percentile(scans, 50), percentile(scans, 99)
    print(
        f"scan → cart line with {args.rules} rules active, carts up to {args.lines} lines: "
        f"p50 {s50:.2f} ms, p99 {s99:.2f} ms (budget p99 ≤ {BUDGET_SCAN_P99_MS} ms)"
    )
    return 0 if p99 <= BUDGET_P99_MS and s99 <= BUDGET_SCAN_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
