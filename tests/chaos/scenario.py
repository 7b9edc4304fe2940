"""Helpers the fault scenarios share: what the till made, what the server holds."""

from __future__ import annotations

import sqlite3
from collections import Counter

from sqlalchemy import func, select

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, Product, Sale
from tests.chaos.harness import Figures


def products(engine: SyncEngine, count: int = 5) -> list[int]:
    with engine.store.transaction() as session:
        ids = session.scalars(select(Product.id).order_by(Product.id).limit(count)).all()
    assert ids, "the till received no catalog"
    return list(ids)


def pending(engine: SyncEngine) -> int:
    with engine.store.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0


def till_receipts(engine: SyncEngine) -> list[str]:
    with engine.store.transaction() as session:
        return list(session.scalars(select(Sale.receipt_number)))


def server_receipts(server) -> list[str]:
    receipts: list[str] = []
    offset = 0
    while True:
        page = server.get("/sales", limit=200, offset=offset)
        receipts += [row["receipt_number"] for row in page["items"]]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return receipts


def figures_of(fault: str, server, tills: list[SyncEngine], **told: str) -> Figures:
    made = [r for till in tills for r in till_receipts(till)]
    landed = server_receipts(server)
    counts = Counter(landed)
    return Figures(
        fault=fault,
        engine=server.engine_name,
        sales_completed=len(made),
        sales_on_server=len(set(landed) & set(made)),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=len(set(made) - set(landed)),
        cashier_told=told.get("cashier", ""),
        manager_told=told.get("manager", ""),
        notes=told.get("notes", ""),
    )


def clone_store(engine: SyncEngine, target) -> LocalStore:
    """Copy a live till database the way a copied disk or VM image would."""
    source = sqlite3.connect(engine.store.path)
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return LocalStore(target)


def server_database(server):
    """Open the server's own database (the SQLite file or the PostgreSQL database)."""
    from sqlalchemy import create_engine

    url = server.database_url or f"sqlite:///{(server.data_dir / 'stockpilot.db').resolve()}"
    return create_engine(url)


def feed_state(server) -> tuple[list[int], int, int]:
    """Return the feed's numbered seqs, its unnumbered changes and the unsealed audit entries."""
    from sqlalchemy import text

    database = server_database(server)
    try:
        with database.connect() as conn:
            seqs = list(
                conn.execute(
                    text("SELECT seq FROM change_feed WHERE seq IS NOT NULL ORDER BY seq")
                ).scalars()
            )
            unnumbered = conn.execute(
                text("SELECT count(*) FROM change_feed WHERE seq IS NULL")
            ).scalar_one()
            unsealed = conn.execute(
                text("SELECT count(*) FROM audit_entries WHERE seq IS NULL")
            ).scalar_one()
    finally:
        database.dispose()
    return seqs, unnumbered, unsealed
