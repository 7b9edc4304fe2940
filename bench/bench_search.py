"""Server-side product search over 100k products, on SQLite and PostgreSQL.

Run: .venv/bin/python -m bench.bench_search [--products N]
Budget (issue: server-side search): a query answers in well under 100 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text

from common.barcodes import make_ean13
from sync_server.catalog.models import Product, ProductBarcode, ProductSearchDoc
from sync_server.catalog.search import search_statement
from sync_server.db import make_engine, make_sessionmaker, transaction, utcnow
from sync_server.migrations.runner import upgrade
from sync_server.org.models import Tenant

WORDS = [
    "rice",
    "tea",
    "coffee",
    "dal",
    "atta",
    "sugar",
    "salt",
    "oil",
    "ghee",
    "soap",
    "shampoo",
    "biscuit",
    "chips",
    "noodles",
    "milk",
    "curd",
    "paneer",
    "butter",
    "masala",
    "chilli",
    "cumin",
    "turmeric",
    "mango",
    "cola",
    "water",
    "detergent",
    "cleaner",
    "tissue",
    "toothpaste",
    "brush",
    "basmati",
    "organic",
    "premium",
    "classic",
    "family",
    "pack",
]
QUERIES = [
    "tea",
    "basmati rice",
    "SKU-0049",
    "premium masala",
    "890",
    "organic family pack",
    "noodles",
    "zzz-not-there",
]


def populate(engine: Engine, *, products: int) -> None:
    """Insert products, barcodes and search documents in bulk."""
    rng = random.Random(7)
    now = utcnow()
    with engine.begin() as conn:
        tenant_id = conn.execute(
            insert(Tenant).values(name="Bench", currency="INR", created_at=now)
        ).inserted_primary_key[0]
        batch = 5000
        for start in range(0, products, batch):
            rows, codes, docs = [], [], []
            for i in range(start, min(start + batch, products)):
                name = " ".join(rng.sample(WORDS, 3)).title() + f" {rng.choice([100, 250, 500])} g"
                sku = f"SKU-{i:06d}"
                code = make_ean13(f"890{i:09d}")
                rows.append(
                    {
                        "id": i + 1,
                        "tenant_id": tenant_id,
                        "sku": sku,
                        "name": name,
                        "description": "",
                        "price": Decimal("10"),
                        "cost": Decimal("8"),
                        "tax_rate": Decimal("5"),
                        "unit": "piece",
                        "low_stock_threshold": Decimal(0),
                        "reorder_quantity": Decimal(0),
                        "attributes": {},
                        "active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                codes.append({"tenant_id": tenant_id, "product_id": i + 1, "code": code})
                docs.append(
                    {
                        "tenant_id": tenant_id,
                        "product_id": i + 1,
                        "document": f"{name} {sku} {code}".lower(),
                    }
                )
            conn.execute(insert(Product.__table__), rows)
            conn.execute(insert(ProductBarcode.__table__), codes)
            conn.execute(insert(ProductSearchDoc.__table__), docs)
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def measure(engine: Engine, *, repeats: int = 20) -> dict[str, list[float]]:
    factory = make_sessionmaker(engine)
    timings: dict[str, list[float]] = {}
    for query in QUERIES:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            with transaction(factory, readonly=True) as session:
                stmt, rank = search_statement(session, tenant_id=1, query=query)
                session.scalars(stmt.order_by(rank.desc(), Product.name).limit(50)).all()
            samples.append((time.perf_counter() - start) * 1000)
        timings[query] = samples
    return timings


def report(label: str, timings: dict[str, list[float]]) -> None:
    print(f"\n{label}")
    print(f"  {'query':<24}{'p50 ms':>10}{'p99 ms':>10}   budget: well under 100 ms")
    for query, samples in timings.items():
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"  {query!r:<24}{statistics.median(ordered):>10.2f}{p99:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        populate(engine, products=args.products)
        report(f"SQLite (FTS5 trigram), {args.products} products", measure(engine))
        engine.dispose()
    try:
        from tests import pgserver

        server = pgserver.start()
    except Exception as exc:  # a machine without PostgreSQL still gets the SQLite figures
        print(f"\nPostgreSQL skipped: {exc}")
        return
    try:
        admin = create_engine(f"{server.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        engine = make_engine(f"{server.url}/bench")
        upgrade(engine)
        populate(engine, products=args.products)
        report(f"PostgreSQL (pg_trgm GIN), {args.products} products", measure(engine))
        engine.dispose()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
