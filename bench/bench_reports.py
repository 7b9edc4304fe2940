"""Reports benchmark: every report over N sale lines (default 2 million) on SQLite and PostgreSQL.

Run: `.venv/bin/python -m bench.bench_reports [--lines N] [--products N] [--branches N]
[--no-pg] [--no-sqlite] [--keep DIR] [--repeat N] [--only LABEL …] [--tail N] [--batches N]`.

Generates a year of data for one tenant (till sales with ~3 lines each,
2 % of lines online, returns, shifts, a stock ledger, purchase orders, customer credit) with
raw bulk inserts (COPY on PostgreSQL, executemany in one transaction on SQLite) and runs
ANALYZE. Then, on each engine, four cases:

* the restore case: a database loaded outside the server (a restored backup, an import)
  before the keeper's first round. Every summary is emptied, the long-range reports are
  timed once (they read every line live: not within the budget, and the summary says so),
  then the keeper's backfill (`keeper.keep_once`, as its thread runs it) is timed;
* after the backfill: each report's service call (the SQL and the shaping of its rows)
  beside the 2 s budget of DESIGN.md, the first request and the best of `--repeat`;
* the arrival case, what the issue's "first request after a bulk load" means for a server
  taking pushes: the newest documents land (`--tail` sales, by default four keeper
  intervals of pushes at bench_sync's top push-ingest rate, TOP_PUSH_RATE below) and every
  report's first request is timed before the keeper's next step (their lines read live),
  budgeted; then the keeper's step for them (budgeted at half its 5 s interval, so it keeps
  up) and every report once more;
* arrival while the keeper runs: the same number of sales land in `--batches` commits, one
  a second, while keeper.run_forever runs in a thread as in the server; a long-range report
  is timed after each commit, then how long the keeper took to have the last commit, and
  whether every line was summed exactly once (the product days' line count is the lines').

The tails land raw (one multi-row INSERT per table), not through the push endpoint: the
keeper and the reports see the same rows either way, and the push path's own cost is
bench_sync's. Generating 2M lines takes minutes on each engine: `--keep DIR` (e.g.
`.benchdata`, which git ignores) builds the SQLite file and a PostgreSQL cluster there once
and reuses them on later runs (the cluster is stopped, not deleted, after each run). Each run
deletes what earlier runs landed (ids above the generated ones, kept in meta.json) before the
restore case empties the summaries, so every run starts from the same rows. A kept dataset is
dated by the day it was made, so the reports' ranges stay the same on later days.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from sync_server.db import make_engine, make_sessionmaker, transaction
from sync_server.foundation.principal import Principal
from sync_server.migrations.runner import upgrade
from sync_server.models import metadata
from sync_server.reports import (
    branches,
    credit,
    keeper,
    purchasing,
    sales,
    shifts,
    stock,
    summary,
)
from sync_server.reports.base import Grain, make_filters

BUDGET_S = 2.0
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
YEAR_START = TODAY - timedelta(days=364)
# The dataset's shape (set from the arguments).
_shape: dict[str, int] = {}


class Writer:
    """Bulk-load rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, conn, dialect: str) -> None:
        self.conn = conn
        self.sqlite = dialect == "sqlite"

    def _value(self, value: Any, column) -> Any:
        if value is None:
            return None
        if isinstance(value, dict | list):
            return json.dumps(value)
        if self.sqlite:
            if isinstance(value, datetime):
                return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, bool):
                return int(value)
        return value

    def load(self, table: str, given: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert rows giving the `given` columns; every other column takes its default."""
        cols = metadata.tables[table].columns
        fixed: dict[str, Any] = {}
        for column in cols:
            if column.name in given:
                continue
            default = column.default
            if default is None:
                if not column.nullable and not column.primary_key:
                    raise ValueError(f"{table}.{column.name} needs a value")
                continue
            arg = default.arg
            fixed[column.name] = arg(None) if callable(arg) else arg
        names = [*given, *fixed]
        tail = [self._value(fixed[n], None) for n in fixed]
        count = 0
        if self.sqlite:
            cur = self.conn.cursor()
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            batch: list[tuple] = []
            for row in rows:
                batch.append((*(self._value(v, None) for v in row), *tail))
                if len(batch) >= 50_000:
                    cur.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            cur.executemany(sql, batch)
            return count + len(batch)
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((*(self._value(v, None) for v in row), *tail))
                count += 1
        return count


def _fix_callable_defaults() -> None:
    # Column defaults such as utcnow() are called with a context; ours take none.
    for table in metadata.tables.values():
        for column in table.columns:
            default = column.default
            if default is not None and callable(default.arg):
                fn = default.arg
                try:
                    fn(None)
                except TypeError:
                    column.default.arg = (lambda f: lambda _ctx: f())(fn)


def generate(engine: Engine, *, lines: int, products: int, branch_count: int) -> dict[str, int]:
    """Fill a migrated database with a year of one tenant's business; return row counts."""
    rnd = random.Random(7)
    dialect = engine.dialect.name
    raw = engine.raw_connection()
    w = Writer(raw.driver_connection, dialect)
    counts: dict[str, int] = {}
    if dialect == "sqlite":
        # A bulk load into a scratch file: no journal, no fsync (WAL comes back after).
        raw.driver_connection.execute("PRAGMA journal_mode=OFF")
        raw.driver_connection.execute("PRAGMA synchronous=OFF")
        raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
        raw.driver_connection.execute("BEGIN")
    tenant = 1
    counts["tenants"] = w.load("tenants", ["id", "name"], [(tenant, "Bench Retail")])
    counts["branches"] = w.load(
        "branches",
        ["id", "tenant_id", "name", "code"],
        [(b, tenant, f"Branch {b:02d}", f"B{b:02d}") for b in range(1, branch_count + 1)],
    )
    counts["categories"] = w.load(
        "categories", ["id", "tenant_id", "name"], [(c, tenant, f"Cat {c}") for c in range(1, 51)]
    )
    counts["suppliers"] = w.load(
        "suppliers", ["id", "tenant_id", "name"], [(s, tenant, f"Supp {s}") for s in range(1, 201)]
    )
    prices = [Decimal(rnd.randint(1000, 50000)) / 100 for _ in range(products + 1)]
    costs = [(p * Decimal("0.62")).quantize(Decimal("0.01")) for p in prices]
    counts["products"] = w.load(
        "products",
        [
            "id",
            "tenant_id",
            "sku",
            "name",
            "category_id",
            "supplier_id",
            "price",
            "cost",
            "low_stock_threshold",
            "reorder_quantity",
        ],
        (
            (
                p,
                tenant,
                f"SKU{p:06d}",
                f"Product {p}",
                1 + p % 50,
                1 + p % 200,
                prices[p],
                costs[p],
                Decimal(5),
                Decimal(20),
            )
            for p in range(1, products + 1)
        ),
    )
    cashiers = list(range(1, 41))
    counts["users"] = w.load(
        "users",
        ["id", "tenant_id", "username", "password_hash", "role"],
        [(u, tenant, f"cashier{u}", "x", "cashier") for u in cashiers],
    )
    counts["customers"] = w.load(
        "customers",
        ["id", "tenant_id", "name", "credit_limit", "balance"],
        [(c, tenant, f"Customer {c}", Decimal(50000), Decimal(0)) for c in range(1, 2001)],
    )
    days = [YEAR_START + timedelta(days=d) for d in range(365)]

    def day_time(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rnd.randint(8 * 3600, 21 * 3600)
        )

    counts["till_shifts"] = w.load(
        "till_shifts",
        [
            "id",
            "tenant_id",
            "uuid",
            "branch_id",
            "cashier_id",
            "opened_at",
            "closed_at",
            "opening_float",
            "expected_cash",
            "counted_cash",
            "variance",
        ],
        (
            (
                i,
                tenant,
                f"sh-{b}-{d}",
                b,
                cashiers[(b + d) % 40],
                datetime(day.year, day.month, day.day, 7, tzinfo=UTC),
                datetime(day.year, day.month, day.day, 22, tzinfo=UTC),
                Decimal(100),
                Decimal(5000),
                Decimal(4990),
                Decimal(-10),
            )
            for i, (b, d, day) in enumerate(
                ((b, d, day) for b in range(1, branch_count + 1) for d, day in enumerate(days)),
                start=1,
            )
        ),
    )
    # Till sales: ~3 lines each; each branch stocks its own 10k slice of the catalogue.
    online_lines = lines // 50
    till_lines = lines - online_lines
    per_branch = min(products, 10_000)

    def branch_product(b: int) -> int:
        return 1 + ((b * 7919 + rnd.randrange(per_branch)) % products)

    sale_rows: list[tuple] = []
    line_rows: list[tuple] = []
    pay_rows: list[tuple] = []
    move_rows: list[tuple] = []
    made, sale_id, line_id = 0, 0, 0
    while made < till_lines:
        sale_id += 1
        b = rnd.randint(1, branch_count)
        d = rnd.randrange(365)
        when = day_time(days[d])
        n = min(rnd.randint(1, 5), till_lines - made)
        total = Decimal(0)
        for _ in range(n):
            line_id += 1
            p = branch_product(b)
            qty = Decimal(rnd.randint(1, 3))
            amount = prices[p] * qty
            total += amount
            line_rows.append(
                (
                    line_id,
                    tenant,
                    sale_id,
                    f"l{line_id}",
                    p,
                    "s",
                    "n",
                    qty,
                    prices[p],
                    Decimal(0),
                    Decimal(0),
                    Decimal(0),
                    amount,
                )
            )
            move_rows.append((b, p, "sale", -qty, when, f"s{sale_id}"))
        made += n
        status = "voided" if sale_id % 100 == 0 else "completed"
        sale_rows.append(
            (
                sale_id,
                tenant,
                f"su{sale_id}",
                f"R{sale_id}",
                status,
                b,
                f"sh-{b}-{d}",
                cashiers[(b + d) % 40],
                total,
                total,
                when,
            )
        )
        pay_rows.append(
            (sale_id, tenant, sale_id, f"p{sale_id}", "cash" if sale_id % 3 else "card", total)
        )
    counts["sales"] = w.load(
        "sales",
        [
            "id",
            "tenant_id",
            "uuid",
            "receipt_number",
            "status",
            "branch_id",
            "shift_uuid",
            "cashier_id",
            "subtotal",
            "total",
            "occurred_at",
        ],
        sale_rows,
    )
    counts["sale_lines"] = w.load(
        "sale_lines",
        [
            "id",
            "tenant_id",
            "sale_id",
            "line_uuid",
            "product_id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "discount",
            "tax_rate",
            "tax",
            "total",
        ],
        line_rows,
    )
    counts["sale_payments"] = w.load(
        "sale_payments",
        ["id", "tenant_id", "sale_id", "payment_uuid", "method", "amount"],
        pay_rows,
    )
    del sale_rows, pay_rows
    returns = max(1, till_lines // 200)
    picks = rnd.sample(line_rows, returns)
    del line_rows
    counts["sale_returns"] = w.load(
        "sale_returns",
        [
            "id",
            "tenant_id",
            "uuid",
            "receipt_number",
            "branch_id",
            "cashier_id",
            "total",
            "occurred_at",
            "shift_uuid",
        ],
        (
            (
                i,
                tenant,
                f"ru{i}",
                f"RT{i}",
                1 + i % branch_count,
                cashiers[i % 40],
                row[12],
                day_time(days[rnd.randrange(365)]),
                None,
            )
            for i, row in enumerate(picks, start=1)
        ),
    )
    counts["sale_return_lines"] = w.load(
        "sale_return_lines",
        ["id", "tenant_id", "return_id", "line_uuid", "product_id", "quantity", "amount"],
        ((i, tenant, i, f"rl{i}", row[4], row[7], row[12]) for i, row in enumerate(picks, 1)),
    )
    # Online orders: two lines each.
    orders = online_lines // 2
    order_meta = [
        (rnd.randint(1, branch_count), day_time(days[rnd.randrange(365)])) for _ in range(orders)
    ]
    counts["orders"] = w.load(
        "orders",
        [
            "id",
            "tenant_id",
            "external_number",
            "status",
            "customer_id",
            "branch_id",
            "total",
            "paid_amount",
            "created_at",
            "updated_at",
        ],
        (
            (
                o,
                tenant,
                f"W{o}",
                "delivered",
                1 + o % 2000,
                order_meta[o - 1][0],
                Decimal(100),
                Decimal(100),
                order_meta[o - 1][1],
                order_meta[o - 1][1],
            )
            for o in range(1, orders + 1)
        ),
    )
    counts["order_lines"] = w.load(
        "order_lines",
        [
            "id",
            "tenant_id",
            "order_id",
            "product_id",
            "sku",
            "name",
            "quantity",
            "unit_price",
            "line_total",
        ],
        (
            (
                i,
                tenant,
                1 + (i - 1) // 2,
                branch_product(order_meta[(i - 1) // 2][0]),
                "s",
                "n",
                Decimal(1),
                Decimal(50),
                Decimal(50),
            )
            for i in range(1, orders * 2 + 1)
        ),
    )
    # The stock ledger: an opening receipt per branch × product held, then every till sale.
    held = [
        (b, 1 + ((b * 7919 + k) % products))
        for b in range(1, branch_count + 1)
        for k in range(per_branch)
    ]
    opening = datetime(YEAR_START.year, YEAR_START.month, YEAR_START.day, 6, tzinfo=UTC)
    sold: dict[tuple[int, int], Decimal] = {}
    for b, p, _c, q, _w, _r in move_rows:
        sold[(b, p)] = sold.get((b, p), Decimal(0)) + q
    start_qty = {key: Decimal(rnd.randint(0, 400)) for key in held}
    counts["stock_movements"] = w.load(
        "stock_movements",
        [
            "uuid",
            "tenant_id",
            "branch_id",
            "product_id",
            "code",
            "quantity",
            "unit_cost",
            "reference_type",
            "reference_id",
            "occurred_at",
            "recorded_at",
        ],
        _chain(
            (
                (
                    f"o{i}",
                    tenant,
                    b,
                    p,
                    "receipt",
                    start_qty[(b, p)],
                    costs[p],
                    "opening",
                    "o",
                    opening,
                    opening,
                )
                for i, (b, p) in enumerate(held)
            ),
            (
                (f"m{i}", tenant, b, p, code, q, None, "sale", ref, when, when)
                for i, (b, p, code, q, when, ref) in enumerate(move_rows)
            ),
        ),
    )
    del move_rows
    counts["stock_levels"] = w.load(
        "stock_levels",
        ["tenant_id", "branch_id", "product_id", "on_hand", "reserved"],
        (
            (tenant, b, p, start_qty[(b, p)] + sold.get((b, p), Decimal(0)), Decimal(0))
            for b, p in held
        ),
    )
    # Purchasing: 5000 orders of 4 lines, most received a few days later, some payments.
    po_rows, pol_rows, gr_rows, grl_rows, vend_rows = [], [], [], [], []
    for po in range(1, 5001):
        supplier = 1 + po % 200
        b = 1 + po % branch_count
        approved = day_time(days[rnd.randrange(350)])
        expected = (approved + timedelta(days=5)).date()
        got = rnd.random() < 0.85
        received_at = approved + timedelta(days=rnd.randint(1, 12), hours=rnd.randint(0, 9))
        total = Decimal(0)
        for k in range(4):
            lid = (po - 1) * 4 + k + 1
            p = 1 + (supplier + 200 * rnd.randrange(products // 200)) % products
            qty = Decimal(rnd.randint(10, 100))
            total += qty * costs[p]
            pol_rows.append(
                (lid, tenant, po, p, qty, costs[p], qty * costs[p], qty if got else Decimal(0))
            )
            if got:
                grl_rows.append((lid, tenant, po, lid, p, qty, costs[p], qty * costs[p]))
        po_rows.append(
            (
                po,
                tenant,
                f"PO{po}",
                supplier,
                b,
                "received" if got else "approved",
                expected,
                total,
                total,
                total if got else Decimal(0),
                approved,
                received_at if got else None,
                approved,
                approved,
            )
        )
        if got:
            gr_rows.append((po, tenant, po, supplier, b, total, received_at))
        if po % 2 == 0:
            vend_rows.append((po, tenant, supplier, "payment", -total, received_at))
    counts["purchase_orders"] = w.load(
        "purchase_orders",
        [
            "id",
            "tenant_id",
            "number",
            "supplier_id",
            "branch_id",
            "status",
            "expected_date",
            "subtotal",
            "total",
            "received_value",
            "decided_at",
            "received_at",
            "created_at",
            "updated_at",
        ],
        po_rows,
    )
    counts["purchase_order_lines"] = w.load(
        "purchase_order_lines",
        [
            "id",
            "tenant_id",
            "purchase_order_id",
            "product_id",
            "quantity",
            "unit_cost",
            "line_total",
            "received_quantity",
        ],
        pol_rows,
    )
    counts["goods_receipts"] = w.load(
        "goods_receipts",
        [
            "id",
            "tenant_id",
            "purchase_order_id",
            "supplier_id",
            "branch_id",
            "value",
            "received_at",
        ],
        gr_rows,
    )
    counts["goods_receipt_lines"] = w.load(
        "goods_receipt_lines",
        [
            "id",
            "tenant_id",
            "receipt_id",
            "po_line_id",
            "product_id",
            "quantity",
            "unit_cost",
            "value",
        ],
        grl_rows,
    )
    counts["vendor_entries"] = w.load(
        "vendor_entries",
        ["id", "tenant_id", "supplier_id", "kind", "amount", "occurred_at"],
        vend_rows,
    )
    counts["credit_entries"] = w.load(
        "credit_entries",
        [
            "id",
            "tenant_id",
            "customer_id",
            "kind",
            "amount",
            "open_amount",
            "reference_type",
            "reference_id",
            "created_at",
        ],
        (
            (
                i,
                tenant,
                1 + i % 2000,
                "charge",
                Decimal(500),
                Decimal(rnd.choice((0, 200, 500))),
                "invoice",
                f"I{i}",
                day_time(days[rnd.randrange(365)]),
            )
            for i in range(1, 40_001)
        ),
    )
    if dialect == "sqlite":
        raw.driver_connection.execute("COMMIT")
        raw.driver_connection.execute("ANALYZE")
        raw.driver_connection.execute("PRAGMA journal_mode=WAL")
    else:
        raw.commit()
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute("VACUUM ANALYZE")
        raw.driver_connection.autocommit = False  # the connection goes back to the pool
    raw.close()
    return counts


def _chain(*parts: Iterable[Any]) -> Iterator[Any]:
    for part in parts:
        yield from part


def reports(session_factory) -> list[tuple[str, Callable[[Any], Any]]]:
    """Return (label, call) for every report, over the last 30 days and over the whole year."""
    admin = Principal.for_user(
        tenant_id=1, user_id=1, username="bench", role="admin", branch_ids=[]
    )
    month = make_filters(principal=admin, today=TODAY)
    year = make_filters(principal=admin, date_from=YEAR_START, date_to=TODAY)
    half = TODAY - timedelta(days=182)
    return [
        ("stock-shortages", lambda s: stock.stock_shortages(s, filters=month, today=TODAY)),
        ("stock-valuation now", lambda s: stock.stock_valuation(s, filters=month, as_of=None)),
        (
            "stock-valuation as_of −6 months",
            lambda s: stock.stock_valuation(s, filters=month, as_of=half),
        ),
        (
            "sales-summary day, 30 d",
            lambda s: sales.sales_summary(s, filters=month, group_by=sales.GroupBy.DAY),
        ),
        (
            "sales-summary day, year",
            lambda s: sales.sales_summary(s, filters=year, group_by=sales.GroupBy.DAY),
        ),
        (
            "sales-summary month, year",
            lambda s: sales.sales_summary(s, filters=year, group_by=sales.GroupBy.MONTH),
        ),
        (
            "sales-summary branch, year",
            lambda s: sales.sales_summary(s, filters=year, group_by=sales.GroupBy.BRANCH),
        ),
        (
            "sales-summary cashier, year",
            lambda s: sales.sales_summary(s, filters=year, group_by=sales.GroupBy.CASHIER),
        ),
        (
            "sales-summary tender, year",
            lambda s: sales.sales_summary(s, filters=year, group_by=sales.GroupBy.TENDER),
        ),
        (
            "revenue-trend day, 30 d",
            lambda s: sales.revenue_trend(s, filters=month, grain=Grain.DAY),
        ),
        (
            "revenue-trend month, year",
            lambda s: sales.revenue_trend(s, filters=year, grain=Grain.MONTH),
        ),
        (
            "best-sellers revenue, 30 d",
            lambda s: sales.best_sellers(s, filters=month, by=sales.Rank.REVENUE, limit=50),
        ),
        (
            "best-sellers margin, year",
            lambda s: sales.best_sellers(s, filters=year, by=sales.Rank.MARGIN, limit=50),
        ),
        (
            "movers 28 d / dead 60 d",
            lambda s: stock.movers(
                s, filters=month, today=TODAY, window_days=28, dead_days=60, only=None
            ),
        ),
        ("branch-comparison, year", lambda s: branches.branch_comparison(s, filters=year)),
        (
            "purchase-summary, year",
            lambda s: purchasing.purchase_summary(s, filters=year, grain=Grain.MONTH),
        ),
        ("supplier-performance, year", lambda s: purchasing.supplier_performance(s, filters=year)),
        ("customer-credit-ageing", lambda s: credit.credit_ageing(s, filters=month, as_of=TODAY)),
        ("shift-reports, 30 d", lambda s: shifts.shift_reports(s, filters=month)),
    ]


# Long-range reports timed also right after the bulk load, before the server's keeper has
# summed it: what a request during the backfill costs (it reads the unsummarised tail live).
LONG_RANGE = (
    "sales-summary day, year",
    "sales-summary tender, year",
    "best-sellers margin, year",
    "stock-valuation as_of −6 months",
)


def time_reports(
    engine: Engine, only: Sequence[str] = (), *, once: bool = False, runs: int = 2
) -> list[tuple[str, float, float, int]]:
    """Run each report `runs` times in a read-only transaction; return (label, first s,
    best s, rows).

    The first run is the first request after the load (cold caches); the rest, a server
    that has been up a while.
    """
    factory = make_sessionmaker(engine)
    results = []
    for label, call in reports(factory):
        if only and label not in only:
            continue
        times, rows = [], 0
        for _attempt in range(1 if once else max(runs, 1)):
            with transaction(factory, readonly=True) as session:
                t0 = time.perf_counter()
                report = call(session)
                times.append(time.perf_counter() - t0)
                rows = len(report.rows)
        results.append((label, times[0], min(times), rows))
        print(
            f"    {label:34s} first {times[0]:7.3f} s  best {min(times):7.3f} s  {rows:6d} rows"
            f"  (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    return results


# The arrival case: what the server can ingest in one keeper interval at its top push rate,
# several times over. bench_sync's push ingest peaked at 290 sale events/s (PostgreSQL; SQLite
# 80-155), each a till sale of ~3 lines (README, "push ingest"): 290 × 5 s ≈ 1,450 sales
# per interval, and the tail held back here is four times that.
TOP_PUSH_RATE = 290
TAIL_SALES = 4 * TOP_PUSH_RATE * int(keeper.INTERVAL_SECONDS)
# The tables a tail lands in, children first (the order they are emptied in).
TAIL_TABLES = (
    "sale_payments",
    "sale_lines",
    "sale_return_lines",
    "sale_returns",
    "sales",
    "stock_movements",
)
SUMMARY_TABLES = (*keeper.SUMMARY_TABLES, "report_summary_state")


def _tops(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.scalar(text(f"SELECT coalesce(max(id), 0) FROM {t}")) for t in TAIL_TABLES}


def drop_tail(engine: Engine, base: dict[str, int]) -> int:
    """Delete what earlier runs landed on a kept dataset (ids above the generated ones)."""
    gone = 0
    with engine.begin() as conn:
        for table in TAIL_TABLES:
            gone += conn.execute(text(f"DELETE FROM {table} WHERE id > {base[table]}")).rowcount
    return gone


def reset_summaries(engine: Engine) -> None:
    """Empty every summary: the database as restored from a backup (or imported) before the
    keeper's first round. PostgreSQL gets the ANALYZE a restore is followed by."""
    with engine.begin() as conn:
        for table in SUMMARY_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in SUMMARY_TABLES:
                conn.execute(text(f"VACUUM ANALYZE {table}"))


def land(engine: Engine, *, sales_count: int, seed: int, within_s: int = 600) -> int:
    """Land `sales_count` till sales (1-5 lines, a payment, their stock movements; a return
    per 200 lines) dated in the last `within_s` seconds before NOW, in one transaction, as a
    burst of pushes commits them; return the lines landed."""
    rnd = random.Random(seed)
    tops = _tops(engine)
    sale_id, line_id, return_id = tops["sales"], tops["sale_lines"], tops["sale_returns"]
    branch_count, products = _shape["branches"], _shape["products"]
    per_branch = min(products, 10_000)
    price = Decimal("12.50")
    sales_rows, lines, pays, moves, rets, ret_lines = [], [], [], [], [], []
    for _ in range(sales_count):
        sale_id += 1
        b = rnd.randint(1, branch_count)
        when = NOW - timedelta(seconds=rnd.randrange(within_s))
        total = Decimal(0)
        for _n in range(rnd.randint(1, 5)):
            line_id += 1
            p = 1 + ((b * 7919 + rnd.randrange(per_branch)) % products)
            qty = Decimal(rnd.randint(1, 3))
            total += qty * price
            lines.append(
                {
                    "id": line_id,
                    "tenant_id": 1,
                    "sale_id": sale_id,
                    "line_uuid": f"tl{line_id}",
                    "product_id": p,
                    "sku": "s",
                    "name": "n",
                    "quantity": qty,
                    "unit_price": price,
                    "discount": Decimal(0),
                    "tax_rate": Decimal(0),
                    "tax": Decimal(0),
                    "total": qty * price,
                }
            )
            moves.append(
                {
                    "uuid": f"tm{line_id}",
                    "tenant_id": 1,
                    "branch_id": b,
                    "product_id": p,
                    "code": "sale",
                    "quantity": -qty,
                    "unit_cost": None,
                    "reference_type": "sale",
                    "reference_id": f"t{sale_id}",
                    "occurred_at": when,
                    "recorded_at": when,
                }
            )
            if line_id % 200 == 0:
                return_id += 1
                rets.append(
                    {
                        "id": return_id,
                        "tenant_id": 1,
                        "uuid": f"tr{return_id}",
                        "receipt_number": f"TR{return_id}",
                        "branch_id": b,
                        "cashier_id": 1 + b % 40,
                        "total": qty * price,
                        "occurred_at": when,
                        "shift_uuid": None,
                    }
                )
                ret_lines.append(
                    {
                        "id": return_id,
                        "tenant_id": 1,
                        "return_id": return_id,
                        "line_uuid": f"trl{return_id}",
                        "product_id": p,
                        "quantity": qty,
                        "amount": qty * price,
                    }
                )
        sales_rows.append(
            {
                "id": sale_id,
                "tenant_id": 1,
                "uuid": f"tu{sale_id}",
                "receipt_number": f"T{sale_id}",
                "status": "completed",
                "branch_id": b,
                "shift_uuid": f"sh-{b}-364",
                "cashier_id": 1 + b % 40,
                "subtotal": total,
                "total": total,
                "occurred_at": when,
            }
        )
        pays.append(
            {
                "id": sale_id,
                "tenant_id": 1,
                "sale_id": sale_id,
                "payment_uuid": f"tp{sale_id}",
                "method": "cash",
                "amount": total,
            }
        )
    with engine.begin() as conn:
        for table, rows in (
            ("sales", sales_rows),
            ("sale_lines", lines),
            ("sale_payments", pays),
            ("sale_returns", rets),
            ("sale_return_lines", ret_lines),
            ("stock_movements", moves),
        ):
            if rows:
                conn.execute(metadata.tables[table].insert(), rows)
    return len(lines)


def summed_exactly(engine: Engine) -> bool:
    """Every till line and return line summed once: the product days' line count is theirs."""
    with engine.connect() as conn:
        summed = conn.scalar(text("SELECT coalesce(sum(lines), 0) FROM report_product_daily"))
        lines = conn.scalar(
            text("SELECT count(*) FROM sale_lines l JOIN sales s ON s.id = l.sale_id")
        )
        returned = conn.scalar(text("SELECT count(*) FROM sale_return_lines"))
    return summed == lines + returned


def arrive_while_keeping(engine: Engine, *, sales_count: int, batches: int) -> dict[str, Any]:
    """Land `sales_count` sales in `batches` commits, one a second (the top push rate), from
    a thread of their own while the keeper's thread runs as the server runs it (run_forever,
    its 5 s interval), timing the long-range reports meanwhile; then wait for the keeper to
    take the last commit and check every line was summed once."""
    factory = make_sessionmaker(engine)
    stop = threading.Event()
    keeping = threading.Thread(
        target=keeper.run_forever, args=(factory,), kwargs={"stop": stop}, daemon=True
    )
    landed: list[int] = []
    failures: list[BaseException] = []

    def arrive() -> None:
        t0 = time.perf_counter()
        try:
            for n in range(batches):
                landed.append(land(engine, sales_count=sales_count // batches, seed=1000 + n))
                time.sleep(max(0.0, t0 + n + 1 - time.perf_counter()))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    arriving = threading.Thread(target=arrive, daemon=True)
    during: list[float] = []
    keeping.start()
    try:
        t0 = time.perf_counter()
        arriving.start()
        n = 0
        while arriving.is_alive():
            label = LONG_RANGE[n % len(LONG_RANGE)]
            during += [first for _l, first, _b, _r in time_reports(engine, (label,), once=True)]
            n += 1
        arriving.join()
        last = time.perf_counter()
        if failures:
            raise failures[0]
        top = _tops(engine)["sales"]
        while time.perf_counter() - last < 60:
            with transaction(factory, readonly=True) as session:
                if summary.watermarks(session, tenant_id=1)[0] >= top:
                    break
            time.sleep(0.05)
        lag = time.perf_counter() - last
    finally:
        stop.set()
        keeping.join(60)
    keeper.keep_once(factory)
    return {
        "lines": sum(landed),
        "seconds": last - t0,
        "lag": lag,
        "during": max(during) if during else 0.0,
        "reports": len(during),
        "exact": summed_exactly(engine),
    }


def run_backend(name: str, engine: Engine, args, folder: Path, *, kept: bool = False) -> dict:
    """Load (unless `kept` holds a loaded dataset), then time the reports in each case."""
    print(f"[{name}] migrating" + ("" if kept else " and generating…"), flush=True)
    upgrade(engine)
    out: dict[str, Any] = {"took": 0.0}
    if not kept:
        t0 = time.perf_counter()
        counts = generate(
            engine, lines=args.lines, products=args.products, branch_count=args.branches
        )
        out["took"] = time.perf_counter() - t0
        print(
            f"[{name}] generated in {out['took']:.1f} s: "
            f"{counts['sale_lines'] + counts['order_lines']} sale lines, "
            f"{counts['stock_movements']} movements",
            flush=True,
        )
    # The generated rows' tops, kept beside the dataset: what later runs landed is above them.
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    base = meta.setdefault("tops", {}).get(name)
    if base is None or not kept:
        base = meta["tops"][name] = _tops(engine)
        meta_file.write_text(json.dumps(meta))
    gone = drop_tail(engine, base)
    if gone:
        print(f"[{name}] deleted {gone} rows an earlier run landed", flush=True)

    # The restore case: a database loaded outside the server (a restored backup, an import),
    # before the keeper's first round. Every summary is emptied, so the reports read it live.
    reset_summaries(engine)
    if not args.no_live:
        print(f"[{name}] restore case: no summaries yet, before the keeper's backfill:", flush=True)
        out["restore"] = time_reports(engine, only=LONG_RANGE, once=True)
    t0 = time.perf_counter()
    steps = keeper.keep_once(make_sessionmaker(engine))
    out["backfill"] = time.perf_counter() - t0
    print(
        f"[{name}] the keeper's backfill took {out['backfill']:.1f} s in {steps} steps", flush=True
    )
    print(f"[{name}] after the backfill:", flush=True)
    out["steady"] = time_reports(engine, only=args.only, runs=args.repeat)

    # The arrival case: the newest documents land at once (a burst of pushes: the tail
    # held back), every report's first request before the keeper's next step, then its step.
    t0 = time.perf_counter()
    out["tail_lines"] = land(engine, sales_count=args.tail, seed=99)
    print(
        f"[{name}] landed {args.tail} sales ({out['tail_lines']} lines) in "
        f"{time.perf_counter() - t0:.1f} s; reports before the keeper's next step:",
        flush=True,
    )
    out["arrival"] = time_reports(engine, only=args.only, once=True)
    t0 = time.perf_counter()
    keeper.keep_once(make_sessionmaker(engine))
    out["step"] = time.perf_counter() - t0
    print(
        f"[{name}] the keeper's step for the tail took {out['step']:.2f} s "
        f"(its interval {keeper.INTERVAL_SECONDS:.0f} s); reports after it:",
        flush=True,
    )
    out["after"] = time_reports(engine, only=args.only, once=True)
    if args.batches:
        print(
            f"[{name}] {args.tail} sales landing in {args.batches} commits, one a second, "
            "while the keeper's thread runs:",
            flush=True,
        )
        out["concurrent"] = arrive_while_keeping(
            engine, sales_count=args.tail, batches=args.batches
        )
    return out


def _kept_day(folder: Path, args) -> bool:
    """Date the run by the kept dataset (made on an earlier day); say whether it is complete."""
    global NOW, TODAY, YEAR_START
    meta_file = folder / "meta.json"
    shape = {"lines": args.lines, "products": args.products, "branches": args.branches}
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("shape") == shape:
            NOW = datetime.fromisoformat(meta["now"])
            TODAY = NOW.date()
            YEAR_START = TODAY - timedelta(days=364)
            return True
    folder.mkdir(parents=True, exist_ok=True)
    for old in ("reports.db", "reports.db-wal", "reports.db-shm", "sqlite.done", "pg.done"):
        (folder / old).unlink(missing_ok=True)
    meta_file.write_text(json.dumps({"shape": shape, "now": NOW.isoformat()}))
    return True


def _kept_postgres(folder: Path):
    """Start the kept PostgreSQL cluster under folder/pg (made on first use); stop() keeps it."""
    import pwd
    import shutil
    import subprocess

    from tests import pgserver

    root = folder / "pg"
    data_dir = root / "data"
    run_as = "postgres" if os.geteuid() == 0 else None
    server = pgserver.PostgresServer(
        data_dir=data_dir, port=pgserver._free_port(), bin_dir=pgserver._bin_dir(), run_as=run_as
    )
    if not (data_dir / "PG_VERSION").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        if run_as:
            user = pwd.getpwnam(run_as)
            for path in (folder, root):
                os.chown(path, user.pw_uid, user.pw_gid)
        server._run("initdb", "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync")
    options = (
        f"-k {root} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    log = str(root / "log")
    server._run("pg_ctl", "-D", str(data_dir), "-o", options, "-l", log, "-w", "start")

    def stop() -> None:
        subprocess.run(
            [
                *(["runuser", "-u", run_as, "--"] if run_as else []),
                str(server.bin_dir / "pg_ctl"),
                "-D",
                str(data_dir),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            capture_output=True,
        )

    return server, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--no-live", action="store_true", help="skip timing the restore case's reports"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the dataset in this folder once and reuse it on later runs",
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each report (≥ 1)")
    parser.add_argument("--only", nargs="*", default=(), help="time only these reports")
    parser.add_argument(
        "--tail", type=int, default=TAIL_SALES, help="sales landing in the arrival case"
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=20,
        help="commits the tail lands in while the keeper's thread runs (0 skips that case)",
    )
    args = parser.parse_args()
    _shape.update(products=args.products, branches=args.branches)
    _fix_callable_defaults()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        folder = args.keep.resolve() if args.keep else Path(tmp)
        if args.keep:
            _kept_day(folder, args)
        if not args.no_sqlite:
            done = folder / "sqlite.done"
            if not done.exists():  # a load that did not finish starts again
                for old in ("reports.db", "reports.db-wal", "reports.db-shm"):
                    (folder / old).unlink(missing_ok=True)
            engine = make_engine(f"sqlite:///{folder / 'reports.db'}")
            results["sqlite"] = run_backend("sqlite", engine, args, folder, kept=done.exists())
            engine.dispose()
            if args.keep:
                done.touch()
        if not args.no_pg:
            from tests import pgserver

            done = folder / "pg.done"
            if args.keep:
                pg, stop = _kept_postgres(folder)
            else:
                pg = pgserver.start()
                stop = pg.stop
            try:
                admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    if not done.exists():
                        conn.execute(text("DROP DATABASE IF EXISTS bench"))
                        conn.execute(text("CREATE DATABASE bench"))
                admin.dispose()
                engine = make_engine(f"{pg.url}/bench")
                results["postgresql"] = run_backend(
                    "postgresql", engine, args, folder, kept=done.exists()
                )
                engine.dispose()
                if args.keep:
                    done.touch()
            finally:
                stop()
    print(
        f"\nReports benchmark: {args.lines} sale lines over 365 days, {args.branches} branches, "
        f"{args.products} products (budget ≤ {BUDGET_S:.0f} s per report; load "
        f"{os.getloadavg()[0]:.2f} now, each figure's above)"
    )
    labels = [label for label, _fn in reports(None) if not args.only or label in args.only]
    names = list(results)
    over = 0

    def table(title: str, case: str, *, best: bool) -> None:
        nonlocal over
        print(f"  {title} ('!' = over budget)")
        print(f"  {'report':34s}" + "".join(f"{n:>26s}" for n in names))
        for i, label in enumerate(labels):
            cells = []
            for n in names:
                _label, first, least, _rows = results[n][case][i]
                flag = "" if max(first, least) <= BUDGET_S else " !"
                over += bool(flag)
                shown = f"{first:8.3f} / {least:6.3f} s" if best else f"{first:8.3f} s"
                cells.append(f"{shown}{flag:2s}")
            print(f"  {label:34s}" + "".join(f"{c:>26s}" for c in cells))

    table("after the keeper's backfill: first request / best of the rest", "steady", best=True)
    first = next(iter(results.values()), {})
    table(
        f"arrival case: the first request right after {args.tail} sales "
        f"(~{first.get('tail_lines', 0)} lines, {args.tail / TOP_PUSH_RATE:.0f} s of pushes at "
        f"the top rate {TOP_PUSH_RATE}/s, {args.tail / TOP_PUSH_RATE / keeper.INTERVAL_SECONDS:.0f}"
        " keeper intervals) landed, before the keeper's next step (their lines read live)",
        "arrival",
        best=False,
    )
    for n in names:
        step = results[n]["step"]
        flag = "" if step <= keeper.INTERVAL_SECONDS / 2 else " !"
        over += bool(flag)
        print(
            f"  [{n}] the keeper's step for that tail: {step:.2f} s"
            f" (≤ half its {keeper.INTERVAL_SECONDS:.0f} s interval){flag}"
        )
    table("arrival case: after the keeper's step", "after", best=False)
    for n in names:
        c = results[n].get("concurrent")
        if not c:
            continue
        flag = "" if c["exact"] and c["during"] <= BUDGET_S else " !"
        over += bool(flag)
        print(
            f"  [{n}] {c['lines']} lines landing in {args.batches} commits over "
            f"{c['seconds']:.1f} s while the keeper's thread ran: {c['reports']} long-range "
            f"reports meanwhile took ≤ {c['during']:.3f} s, the keeper had the last commit "
            f"{c['lag']:.1f} s after it (interval {keeper.INTERVAL_SECONDS:.0f} s), every line "
            f"summed once: {'yes' if c['exact'] else 'NO'}{flag}"
        )
    if any(results[n].get("restore") for n in names):
        slow = sum(t > BUDGET_S for n in names for _lab, t, _b, _r in results[n].get("restore", ()))
        print(
            "  restore case (not budgeted): a database loaded outside the server (a restored "
            "backup, an import) before the keeper's first backfill, every line read live: "
            + (
                f"{slow} over {BUDGET_S:.0f} s until the backfill below has run (or "
                "`stockpilot-server reports refresh` before serving)"
                if slow
                else f"all within {BUDGET_S:.0f} s"
            )
        )
        for label in LONG_RANGE:
            cells = []
            for n in names:
                hit = [t for lab, t, _b, _r in results[n]["restore"] if lab == label]
                flag = " !" if hit and hit[0] > BUDGET_S else "  "
                cells.append(f"{hit[0]:8.3f} s{flag}" if hit else "-")
            print(f"  {label:34s}" + "".join(f"{c:>26s}" for c in cells))
    for n in names:
        print(
            f"  [{n}] generation {results[n]['took']:.1f} s, the keeper's backfill (restore "
            f"case) {results[n]['backfill']:.1f} s"
        )
    print(
        f"  budget: every report ≤ {BUDGET_S:.0f} s after the backfill and as documents arrive: "
        f"{'within' if not over else f'{over} over'}"
    )
    if over:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
