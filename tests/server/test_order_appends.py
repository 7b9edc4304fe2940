"""An order's append-only rows written set-based store exactly what ORM inserts store.

place_order collects its movements, audit entries and feed changes (buffered_appends) and
inserts each table's rows at once; the long way adds them to the session one by one. Both
place the same order from the same state (each in a transaction rolled back afterwards)
and every row either writes is compared, with ids, times and signatures left out.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, select, update

from sync_server.catalog.models import Product
from sync_server.db import Base, transaction
from sync_server.notifications import service as notifications
from sync_server.orders import service
from sync_server.orders.schemas import OrderCreate
from tests.server.test_orders import order_body, stock

TABLES = (
    "orders",
    "order_lines",
    "customers",
    "stock_levels",
    "stock_movements",
    "audit_entries",
    "change_feed",
    "alerts",
    "notifications",
    "idempotency_records",
)
# Different on every run by nature (ids, clocks, random nonces and what signs them).
VOLATILE = {
    "id",
    "uuid",
    "at",
    "created_at",
    "updated_at",
    "opened_at",
    "occurred_at",
    "recorded_at",
    "reserved_until",
    "next_attempt_at",
    "delivered_at",
    "read_at",
    "nonce",
    "record_mac",
    "hash",
    "prev_hash",
}


def last_ids(session) -> dict[str, int]:
    """Return each compared table's highest id now (0 when empty): where new rows begin."""
    return {
        name: session.scalar(
            select(Base.metadata.tables[name].c.id)
            .order_by(Base.metadata.tables[name].c.id.desc())
            .limit(1)
        )
        or 0
        for name in TABLES
    }


def _rows(session, start: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of each table past `start` (stock levels whole), ids replaced."""
    tables: dict[str, Table] = {name: Base.metadata.tables[name] for name in TABLES}
    found = {}
    for name, table in tables.items():
        stmt = select(table).order_by(table.c.id)
        if name != "stock_levels":
            stmt = stmt.where(table.c.id > start[name])
        found[name] = [dict(row._mapping) for row in session.execute(stmt)]
    # Rows the order made, numbered anew every run, by kind.
    made: dict[str, dict[str, str]] = {
        kind: {str(row[column]): f"{kind.upper()}-{i}" for i, row in enumerate(found[table])}
        for kind, table, column in (
            ("order", "orders", "id"),
            ("customer", "customers", "id"),
            ("alert", "alerts", "id"),
            ("stock_movement", "stock_movements", "uuid"),
        )
    }
    # Where a row names another: a column, or an audit entry's / feed change's own kind.
    points_at = {"order_id": "order", "customer_id": "customer", "alert_id": "alert"}
    kinds = {"customer_price_group": "customer"}  # feed entities keyed by another row's id

    def norm(value: Any, key: str = "", kind: str = "") -> Any:
        if isinstance(value, dict):
            own = (
                value.get("entity_type") or value.get("entity") or value.get("reference_type") or ""
            )
            own = kinds.get(own, own)
            return {k: norm(v, k, own) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [norm(v, key, kind) for v in value]
        target = points_at.get(key) or (
            kind if key in ("entity_id", "entity_key", "reference_id") else ""
        )
        if target in made and str(value) in made[target]:
            return made[target][str(value)]
        if isinstance(value, str) and value.startswith("order:"):
            return "order:" + made["order"].get(value.removeprefix("order:"), value)
        return value

    return {name: [norm(row) for row in rows] for name, rows in found.items()}


def _place(world, *, number: str, buffered: bool, monkeypatch) -> dict[str, Any]:
    """Place one order the chosen way, read back what it wrote, and roll it all back."""
    if not buffered:
        monkeypatch.setattr(service, "buffered_appends", lambda session: contextlib.nullcontext())
    data = OrderCreate.model_validate(order_body(number, ("ADMIN-0", "8"), ("ADMIN-1", "1")))
    with world.sessions()() as session:
        start = last_ids(session)
        outcome = service.place_order(
            session,
            principal=world.principal("admin"),
            key="ORDER-KEY-1",
            data=data,
            instance="/api/v1/orders",
        )
        session.flush()
        rows = _rows(session, start)
        session.rollback()
    monkeypatch.undo()
    assert outcome.status == 201, outcome.body
    return rows


@pytest.mark.parametrize("ruled", [False, True], ids=["nobody-listens", "rules-listen"])
def test_set_based_appends_store_what_orm_inserts_store(world, monkeypatch, ruled):
    stock(world, quantity="10")
    stock(world, product=1, quantity="10")
    with transaction(world.sessions()) as session:
        # Reserving 8 of 10 crosses the threshold: a low-stock alert opens as well.
        session.execute(
            update(Product)
            .where(Product.id == world.a.product_ids[0])
            .values(low_stock_threshold=Decimal("5"))
        )
        if ruled:
            for name in ("order.*", "stock.available", "alert.*"):
                notifications.create_rule(
                    session,
                    actor=world.principal("admin").actor,
                    event=name,
                    channel="in_app",
                    role="manager",
                )
    fast = _place(world, number="SET-1", buffered=True, monkeypatch=monkeypatch)
    slow = _place(world, number="SET-1", buffered=False, monkeypatch=monkeypatch)
    for name in TABLES:
        assert fast[name] == slow[name], name
    assert len(fast["stock_movements"]) == 2 and len(fast["audit_entries"]) == 4
    assert len(fast["alerts"]) == 1 and fast["change_feed"]
    assert any(n["event"] == "order.created" for n in fast["notifications"]) == ruled
