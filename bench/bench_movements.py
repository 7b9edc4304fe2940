"""Stock movements from 8 concurrent clients on PostgreSQL, beside the raw insert rate.

Run: .venv/bin/python -m bench.bench_movements [--clients 8] [--movements 250] [--products 40]

Each client is a thread with its own connection that records movements one transaction at
a time, as requests do: the movement row, its level (locked), its audit entry (hash-chained,
so one tenant's entries serialise on the chain head), its change-feed row and the alert
check. The raw figure inserts the same number of movement rows, one per transaction, with
the same number of threads, into a table shaped like stock_movements (same columns and
indexes, no foreign keys) in the same database. The ratio is the figure to watch.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine, MetaData, create_engine, event, func, insert, select, text

from common.codes import MovementCode
from common.ids import new_id
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import make_engine, make_sessionmaker, transaction, utcnow
from sync_server.foundation import feed
from sync_server.foundation.principal import Actor
from sync_server.inventory import ledger
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.migrations.runner import upgrade
from sync_server.org.models import Branch, Tenant
from tests import pgserver


def _setup(engine: Engine, *, products: int) -> tuple[Actor, int, list[int]]:
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        tenant = Tenant(name="Bench Shop", currency="INR")
        session.add(tenant)
        session.flush()
        branch = Branch(tenant_id=tenant.id, name="Bench Main", code="MAIN")
        session.add(branch)
        session.flush()
        ids = []
        for i in range(products):
            product = Product(
                tenant_id=tenant.id,
                sku=f"B-{i:05d}",
                name=f"Bench item {i}",
                price=Decimal("10"),
                cost=Decimal("6"),
                low_stock_threshold=Decimal("5"),
                attributes={},
            )
            session.add(product)
            session.flush()
            ids.append(product.id)
        # The tenant's audit chain and change feed start here, as they do when a real
        # business is set up (their first rows are created, not raced for, by the clients).
        actor = Actor(tenant_id=tenant.id, user_id=None, label="bench")
        audit.record(
            session, actor=actor, action="bench.setup", entity_type="tenant", entity_id=tenant.id
        )
        feed.publish(session, tenant_id=tenant.id, entity="bench", key=0, data={})
    return Actor(tenant_id=tenant.id, user_id=None, label="bench"), branch.id, ids


def _run_clients(clients: int, work) -> tuple[float, list[float]]:
    """Run work(client_no, latencies) in threads that start together; return wall time."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def body(n: int) -> None:
        barrier.wait()
        try:
            work(n, latencies[n])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, [x for per in latencies for x in per]


def bench_ledger(
    engine: Engine, *, actor: Actor, branch_id: int, products: list[int], clients: int, each: int
) -> tuple[float, list[float]]:
    factory = make_sessionmaker(engine)

    def work(n: int, latencies: list[float]) -> None:
        rng = random.Random(n)
        for i in range(each):
            t0 = time.perf_counter()
            with transaction(factory) as session:
                ledger.record_movement(
                    session,
                    actor=actor,
                    branch_id=branch_id,
                    product_id=rng.choice(products),
                    code=MovementCode.RECEIPT,
                    quantity=Decimal(rng.randint(1, 20)),
                    unit_cost=Decimal("6.00"),
                    reference_type="bench",
                    reference_id=f"{n}-{i}",
                )
            latencies.append(time.perf_counter() - t0)

    return _run_clients(clients, work)


def bench_raw(
    engine: Engine, *, actor: Actor, branch_id: int, products: list[int], clients: int, each: int
) -> tuple[float, list[float]]:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_raw_movements"))
        conn.execute(text("CREATE TABLE bench_raw_movements (LIKE stock_movements INCLUDING ALL)"))
    raw = StockMovement.__table__.to_metadata(MetaData(), name="bench_raw_movements")

    def work(n: int, latencies: list[float]) -> None:
        rng = random.Random(n)
        with engine.connect() as conn:
            for i in range(each):
                now = utcnow()
                t0 = time.perf_counter()
                conn.execute(
                    insert(raw).values(
                        uuid=new_id(),
                        tenant_id=actor.tenant_id,
                        branch_id=branch_id,
                        product_id=rng.choice(products),
                        code="receipt",
                        quantity=Decimal(rng.randint(1, 20)),
                        unit_cost=Decimal("6.00"),
                        reason=None,
                        reference_type="bench",
                        reference_id=f"{n}-{i}",
                        actor_id=None,
                        actor="bench",
                        device_id=None,
                        occurred_at=now,
                        recorded_at=now,
                    )
                )
                conn.commit()
                latencies.append(time.perf_counter() - t0)

    return _run_clients(clients, work)


def _count_statements(engine: Engine) -> Callable[[], int]:
    """Count the SQL statements sent from now on; the returned stop() gives the count."""
    counter = [0]

    def count(*_args) -> None:
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)

    def stop() -> int:
        event.remove(engine, "before_cursor_execute", count)
        return counter[0]

    return stop


def _check(engine: Engine, expected_rows: int) -> None:
    with engine.connect() as conn:
        moved = conn.scalar(select(func.count()).select_from(StockMovement))
        total = conn.scalar(select(func.sum(StockMovement.quantity)))
        on_hand = conn.scalar(select(func.sum(StockLevel.on_hand)))
    assert moved == expected_rows, (moved, expected_rows)
    assert total == on_hand, f"lost update: movements sum {total}, levels sum {on_hand}"


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--movements", type=int, default=250, help="per client")
    parser.add_argument("--products", type=int, default=40)
    args = parser.parse_args()

    server = pgserver.start()
    try:
        admin = create_engine(f"{server.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench_movements"))
        admin.dispose()
        engine = make_engine(
            f"{server.url}/bench_movements", pool_size=args.clients + 2, max_overflow=4
        )
        upgrade(engine)
        actor, branch_id, products = _setup(engine, products=args.products)
        kwargs = dict(
            actor=actor,
            branch_id=branch_id,
            products=products,
            clients=args.clients,
            each=args.movements,
        )
        rows = args.clients * args.movements
        # A short warm-up of both paths, so neither pays for first connections and caches.
        bench_raw(engine, **{**kwargs, "each": 5})
        stop_counting = _count_statements(engine)
        ledger_time, ledger_lat = bench_ledger(engine, **kwargs)
        ledger_statements = stop_counting()
        _check(engine, rows)
        raw_time, raw_lat = bench_raw(engine, **kwargs)
        engine.dispose()
    finally:
        server.stop()

    ledger_rate = rows / ledger_time
    raw_rate = rows / raw_time
    print(f"PostgreSQL, {args.clients} concurrent clients, {rows} rows, {args.products} products")
    print(
        f"  record_movement : {ledger_rate:8.0f} movements/s   p50 "
        f"{statistics.median(ledger_lat) * 1000:6.2f} ms  p99 {_ms(ledger_lat, 0.99):6.2f} ms"
    )
    print(
        f"  raw INSERT      : {raw_rate:8.0f} rows/s        p50 "
        f"{statistics.median(raw_lat) * 1000:6.2f} ms  p99 {_ms(raw_lat, 0.99):6.2f} ms"
    )
    print(f"  ratio           : {ledger_rate / raw_rate:.2f} of the raw insert rate")
    print(
        f"  statements      : {ledger_statements / rows:.1f} per movement (BEGIN/COMMIT not "
        "counted) against 1 per raw row; two of them lock a per-tenant row (feed and audit "
        "heads), which serialises one tenant's writers"
    )
    print("  ledger check    : levels equal the sum of movements (no lost update)")


if __name__ == "__main__":
    main()
