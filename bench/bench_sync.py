"""Sync benchmark: first full sync of 200k products, delta pull, push ingest vs raw inserts.

Run: `.venv/bin/python -m bench.bench_sync [--products N] [--changes N] [--events N] [--no-pg]`;
`--only full-sync` times the first full sync alone (for A/B runs between commits);
`--only server-cpu` measures the app server's CPU per push and per pull instead
(bench/sync_cpu.py: a server process of its own on PostgreSQL, `--compare-with DIR` for an
interleaved A/B against another source tree).
The server runs in-process under uvicorn on loopback; the till is a real store on disk.
Push ingest is compared with the raw insert rate of the same rows (event id, sale, lines,
payment, stock movements and levels, audit entries, feed changes) written with plain
executemany into the same database. The two alternate in rounds (push a part of the events,
insert as many raw, again) so that load from other work on the machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import itertools
import random
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import uvicorn
from sqlalchemy import Engine, create_engine, insert, select, text, update

from bench import sync_cpu
from common.barcodes import make_ean13
from common.ids import new_id
from pos_client.services.sync_engine import SyncEngine
from pos_client.store import documents
from pos_client.store.db import LocalStore
from pos_client.store.models import Product as LocalProduct
from sync_server.audit.models import AuditEntry
from sync_server.catalog.models import Product, ProductBarcode
from sync_server.catalog.service import product_feed_data
from sync_server.config import Settings
from sync_server.db import make_engine, make_sessionmaker, transaction
from sync_server.foundation import feed
from sync_server.foundation.models import Change
from sync_server.foundation.principal import Actor
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.main import create_app
from sync_server.migrations.runner import upgrade
from sync_server.org.models import Branch, Tenant
from sync_server.sales.models import Sale, SaleLine, SalePayment
from sync_server.sync import devices
from sync_server.sync.models import ReceivedEvent
from tests.sync.sync_helpers import sale_payload

BUDGET_FULL_SYNC_S = 20.0
BUDGET_INGEST_RATIO = 1 / 3


def seed(engine: Engine, *, products: int) -> tuple[int, int]:
    """Create a tenant, a branch and N products with a barcode and 1000 in stock each."""
    upgrade(engine)
    now = datetime.now(UTC)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        tenant = Tenant(name="Bench", currency="INR")
        session.add(tenant)
        session.flush()
        branch = Branch(tenant_id=tenant.id, name="Main", code="MAIN")
        session.add(branch)
        session.flush()
        tenant_id, branch_id = tenant.id, branch.id
    chunk = 20_000
    with engine.begin() as conn:
        for start in range(0, products, chunk):
            rows = [
                {
                    "tenant_id": tenant_id,
                    "sku": f"SKU{i:07d}",
                    "name": f"Product {i}",
                    "description": "",
                    "price": Decimal(10 + i % 500) + Decimal("0.50"),
                    "cost": Decimal(5),
                    "tax_rate": Decimal(5),
                    "unit": "piece",
                    "low_stock_threshold": Decimal(0),
                    "reorder_quantity": Decimal(0),
                    "attributes": {},
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(start, min(products, start + chunk))
            ]
            conn.execute(insert(Product), rows)
        ids = [row[0] for row in conn.execute(select(Product.id).order_by(Product.id))]
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            conn.execute(
                insert(ProductBarcode),
                [
                    {
                        "tenant_id": tenant_id,
                        "product_id": pid,
                        "code": make_ean13(f"{2_000_000_000_00 + pid:012d}"),
                    }
                    for pid in part
                ],
            )
            conn.execute(
                insert(StockLevel),
                [
                    {
                        "tenant_id": tenant_id,
                        "branch_id": branch_id,
                        "product_id": pid,
                        "on_hand": Decimal(1000),
                        "reserved": Decimal(0),
                        "updated_at": now,
                    }
                    for pid in part
                ],
            )
            # The ledger agrees with the levels: each level is one opening receipt.
            conn.execute(
                insert(StockMovement),
                [
                    {
                        "tenant_id": tenant_id,
                        "uuid": new_id(),
                        "branch_id": branch_id,
                        "product_id": pid,
                        "code": "receipt",
                        "quantity": Decimal(1000),
                        "reference_type": "opening",
                        "reference_id": "bench",
                        "actor": "bench",
                        "occurred_at": now,
                        "recorded_at": now,
                    }
                    for pid in part
                ],
            )
    return tenant_id, branch_id


class Server:
    """uvicorn on a free loopback port serving the app over an engine."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        app = create_app(
            Settings(data_dir=data_dir, database_url=engine.url.render_as_string(False)),
            engine=engine,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def enrol(engine: Engine, server: Server, store: LocalStore, *, tenant_id: int, branch_id: int):
    """Enrol a till and return its engine."""
    with transaction(make_sessionmaker(engine)) as session:
        code, _ = devices.create_enrolment_code(
            session, actor=Actor(tenant_id=tenant_id), branch_id=branch_id
        )
    till = SyncEngine(store, timeout=120, batch_size=200, pull_limit=5000)
    till.enrol(server_url=server.url, code=code, name="Bench till")
    return till


def change_prices(engine: Engine, *, tenant_id: int, count: int) -> None:
    """Change the price of `count` products through the change feed."""
    with transaction(make_sessionmaker(engine)) as session:
        products = session.scalars(
            select(Product).where(Product.tenant_id == tenant_id).limit(count)
        ).all()
        for product in products:
            product.price = product.price + 1
            feed.publish(
                session,
                tenant_id=tenant_id,
                entity="product",
                key=product.id,
                data=product_feed_data(product),
            )


def ring_up(
    store: LocalStore, *, events: int, product_ids: list[int], lines: int, seed: int = 7
) -> None:
    """Record sale events in the till store (not timed: that is bench_till's job)."""
    rng = random.Random(seed)
    with store.transaction() as session:
        branch_id = documents.get_state(session).branch_id
        for _ in range(events):
            payload = sale_payload(
                branch_id=branch_id,
                product_id=rng.choice(product_ids),
                receipt=documents.next_receipt_number(session),
            )
            extra = [
                line.model_copy(update={"line_id": new_id(), "product_id": rng.choice(product_ids)})
                for line in payload.lines * (lines - 1)
            ]
            payload = payload.model_copy(update={"lines": payload.lines + extra})
            documents.record_sale(session, payload)


def raw_insert_seconds(
    engine: Engine,
    *,
    tenant_id: int,
    branch_id: int,
    events: int,
    product_ids: list[int],
    lines: int,
    batch: int,
    seed: int = 11,
) -> float:
    """Insert the rows a pushed sale produces with plain executemany; return the seconds.

    Per event: the event id, the sale, its lines and payment, one stock movement and level
    update per line, one audit entry for the sale and one per movement, one feed change
    per movement. No locks, no hash chain, no alert checks: the physical floor.
    """
    now = datetime.now(UTC)
    rng = random.Random(seed)
    # Far above any sequence the pushes used, so the unique (tenant, seq) keys never clash.
    seqs = itertools.count(10_000_000 * seed)
    started = time.perf_counter()
    with engine.connect() as conn:
        for start in range(0, events, batch):
            n = min(batch, events - start)
            with conn.begin():
                sale_uuids = [new_id() for _ in range(n)]
                conn.execute(
                    insert(ReceivedEvent),
                    [
                        {
                            "tenant_id": tenant_id,
                            "event_id": new_id(),
                            "device_id": "raw",
                            "type": "sale.completed",
                            "status": "applied",
                            "occurred_at": now,
                            "received_at": now,
                        }
                        for _ in range(n)
                    ],
                )
                conn.execute(
                    insert(Sale),
                    [
                        {
                            "tenant_id": tenant_id,
                            "uuid": u,
                            "receipt_number": f"RAW-{u}",
                            "channel": "in_store",
                            "status": "completed",
                            "branch_id": branch_id,
                            "subtotal": Decimal(10),
                            "discount_total": Decimal(0),
                            "tax_total": Decimal(0),
                            "total": Decimal(10),
                            "change_due": Decimal(0),
                            "overrides": [],
                            "occurred_at": now,
                            "recorded_at": now,
                        }
                        for u in sale_uuids
                    ],
                )
                ids = dict(
                    conn.execute(select(Sale.uuid, Sale.id).where(Sale.uuid.in_(sale_uuids))).all()
                )
                line_rows, move_rows = [], []
                for u in sale_uuids:
                    for _ in range(lines):
                        pid = rng.choice(product_ids)
                        line_rows.append(
                            {
                                "tenant_id": tenant_id,
                                "sale_id": ids[u],
                                "line_uuid": new_id(),
                                "product_id": pid,
                                "sku": "X",
                                "name": "Item",
                                "quantity": Decimal(1),
                                "unit_price": Decimal(10),
                                "discount": Decimal(0),
                                "tax_rate": Decimal(0),
                                "tax": Decimal(0),
                                "total": Decimal(10),
                            }
                        )
                        move_rows.append(
                            {
                                "tenant_id": tenant_id,
                                "uuid": new_id(),
                                "branch_id": branch_id,
                                "product_id": pid,
                                "code": "sale",
                                "quantity": Decimal(-1),
                                "reference_type": "sale",
                                "reference_id": u,
                                "actor": "raw",
                                "occurred_at": now,
                                "recorded_at": now,
                            }
                        )
                conn.execute(insert(SaleLine), line_rows)
                conn.execute(
                    insert(SalePayment),
                    [
                        {
                            "tenant_id": tenant_id,
                            "sale_id": ids[u],
                            "payment_uuid": new_id(),
                            "method": "cash",
                            "amount": Decimal(10),
                        }
                        for u in sale_uuids
                    ],
                )
                conn.execute(insert(StockMovement), move_rows)
                # The audit entries (sale + one per movement) and feed changes a push writes.
                audit_rows = [
                    {
                        "tenant_id": tenant_id,
                        "seq": next(seqs),
                        "at": now,
                        "actor": "raw",
                        "action": "raw",
                        "entity_type": "sale",
                        "entity_id": u,
                        "after": {"total": "10"},
                        "prev_hash": "0" * 64,
                        "hash": "0" * 64,
                    }
                    for u in sale_uuids + [m["uuid"] for m in move_rows]
                ]
                conn.execute(insert(AuditEntry), audit_rows)
                conn.execute(
                    insert(Change),
                    [
                        {
                            "tenant_id": tenant_id,
                            "seq": next(seqs),
                            "branch_id": branch_id,
                            "entity": "stock",
                            "entity_key": str(m["product_id"]),
                            "op": "upsert",
                            "data": {"on_hand": "1"},
                            "at": now,
                        }
                        for m in move_rows
                    ],
                )
                for row in move_rows:
                    conn.execute(
                        update(StockLevel)
                        .where(
                            StockLevel.tenant_id == tenant_id,
                            StockLevel.branch_id == branch_id,
                            StockLevel.product_id == row["product_id"],
                        )
                        .values(on_hand=StockLevel.on_hand - 1)
                    )
    return time.perf_counter() - started


def run_backend(name: str, engine: Engine, work: Path, args) -> dict[str, float]:
    """Run the three measurements against one server database."""
    figures: dict[str, float] = {}
    started = time.perf_counter()
    tenant_id, branch_id = seed(engine, products=args.products)
    figures["seed_s"] = time.perf_counter() - started
    server = Server(engine, work / f"{name}-server")
    try:
        store = LocalStore(work / f"{name}-till.db")
        till = enrol(engine, server, store, tenant_id=tenant_id, branch_id=branch_id)
        started, cpu = time.perf_counter(), time.process_time()
        till.pull()
        figures["full_sync_s"] = time.perf_counter() - started
        # This process's CPU (till and server threads, not PostgreSQL's): under load from
        # other work the wall time grows far more than this does.
        figures["full_sync_cpu_s"] = time.process_time() - cpu
        with store.transaction() as session:
            figures["replicated_products"] = session.query(LocalProduct).count()
        if args.only == "full-sync":
            till.stop()
            store.close()
            return figures

        change_prices(engine, tenant_id=tenant_id, count=args.changes)
        started = time.perf_counter()
        applied = till.pull()
        figures["delta_pull_s"] = time.perf_counter() - started
        figures["delta_changes"] = applied

        with engine.connect() as conn:
            product_ids = [r[0] for r in conn.execute(text("SELECT id FROM products LIMIT 1000"))]
        push_s = raw_s = 0.0
        for part in range(args.rounds):
            events = args.events // args.rounds
            ring_up(store, events=events, product_ids=product_ids, lines=args.lines, seed=7 + part)
            started = time.perf_counter()
            till.push()
            push_s += time.perf_counter() - started
            raw_s += raw_insert_seconds(
                engine,
                tenant_id=tenant_id,
                branch_id=branch_id,
                events=events,
                product_ids=product_ids,
                lines=args.lines,
                batch=200,
                seed=11 + part,
            )
        pushed = args.events // args.rounds * args.rounds
        figures["push_events_per_s"] = pushed / push_s
        figures["raw_events_per_s"] = pushed / raw_s
        till.stop()
        store.close()
    finally:
        server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=5, help="push and raw inserts alternate this many times"
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument(
        "--only",
        choices=["full-sync", "server-cpu"],
        help="time only this part (default: all of them); server-cpu: the app server's CPU "
        "per push and per pull on PostgreSQL (bench/sync_cpu.py)",
    )
    sync_cpu.add_arguments(parser)
    args = parser.parse_args()
    if args.only == "server-cpu":
        sync_cpu.report(args, sync_cpu.measure(args))
        return
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        engine = make_engine(f"sqlite:///{work / 'server.db'}")
        results["sqlite"] = run_backend("sqlite", engine, work, args)
        engine.dispose()
        if not args.no_pg:
            from tests import pgserver

            pg = pgserver.start()
            try:
                admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text("CREATE DATABASE bench"))
                admin.dispose()
                engine = make_engine(f"{pg.url}/bench")
                results["postgresql"] = run_backend("postgresql", engine, work, args)
                engine.dispose()
            finally:
                pg.stop()
    if args.only == "full-sync":
        print(f"\nSync benchmark, first full sync only ({args.products} products)")
    else:
        print(
            f"\nSync benchmark ({args.products} products, {args.events} sale events of "
            f"{args.lines} lines, pushed and inserted raw in {args.rounds} alternating rounds)"
        )
    for name, f in results.items():
        if args.only == "full-sync":
            print(
                f"[{name}] first full sync {f['full_sync_s']:7.2f} s  "
                f"(process CPU {f['full_sync_cpu_s']:.2f} s; "
                f"{int(f['replicated_products'])} products; seed {f['seed_s']:.1f} s)"
            )
            continue
        ratio = f["push_events_per_s"] / f["raw_events_per_s"]
        print(f"[{name}]")
        print(
            f"  first full sync     {f['full_sync_s']:7.2f} s  "
            f"({int(f['replicated_products'])} products; budget ≤ {BUDGET_FULL_SYNC_S:.0f} s)"
        )
        print(
            f"  delta pull          {f['delta_pull_s'] * 1000:7.0f} ms "
            f"({int(f['delta_changes'])} changes)"
        )
        print(f"  push ingest         {f['push_events_per_s']:7.0f} events/s")
        print(f"  raw insert          {f['raw_events_per_s']:7.0f} events/s (same rows)")
        print(f"  ratio               {ratio:7.2f}   (budget ≥ {BUDGET_INGEST_RATIO:.2f})")


if __name__ == "__main__":
    main()
