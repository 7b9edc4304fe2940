"""Append-only rows written as one plain statement store what the Core inserts store.

On PostgreSQL buffered_appends writes every table's collected rows in one statement built by
hand (sync_server/db.write_appends); the Core way (one compiled insert per table) is what it
replaces. Both are run here on the same rows and read back column by column: values through
each column's type (money, quantities, JSON, times), the defaults of the columns not given,
the order of the ids within a table, and several runs of one table with different columns.
A sale with its lines and payments (insert_with_children) is compared the same way, and one
row inserted plainly (insert_row_plainly: an order's key claim). On SQLite the default is the
Core way itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from sync_server.audit.models import AuditEntry
from sync_server.db import (
    append_row,
    buffered_appends,
    insert_row_plainly,
    insert_with_children,
    is_sqlite,
    transaction,
    write_appends,
)
from sync_server.foundation.models import Change
from sync_server.inventory import ledger
from sync_server.inventory.models import StockMovement
from sync_server.orders.models import IdempotencyRecord
from sync_server.sales.models import Sale, SaleLine, SalePayment
from sync_server.sync.models import ReceivedEvent
from tests.factories import World

MODELS = (StockMovement, Change, AuditEntry, ReceivedEvent)
# Filled by the database or the clock: compared for being set, not for their value.
VARYING = {"id", "at", "recorded_at", "received_at"}


def _rows(world: World, tag: str, device_id: str | None) -> list[tuple[Any, dict[str, Any]]]:
    tenant_id, branch_id = world.a.id, world.a.branch_ids[0]
    product_id = world.a.product_ids[0]
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows: list[tuple[Any, dict[str, Any]]] = []
    for n, quantity in enumerate(("-1", "2.5", "-1.5")):  # nets out: the level stays 0
        rows.append(
            (
                StockMovement,
                {
                    "uuid": f"{tag}-movement-{n}",
                    "tenant_id": tenant_id,
                    "branch_id": branch_id,
                    "product_id": product_id,
                    "code": "sale",
                    "quantity": Decimal(quantity),
                    "unit_cost": Decimal("3.40") if n else None,
                    "reason": None,
                    "reference_type": "sale",
                    "reference_id": f"{tag}-sale",
                    "actor_id": None,
                    "device_id": device_id,
                    "occurred_at": at + timedelta(seconds=n),
                    # actor and recorded_at left to their defaults
                },
            )
        )
        rows.append(
            (
                Change,
                {
                    "tenant_id": tenant_id,
                    "seq": None,
                    "branch_id": branch_id if n != 1 else None,
                    "entity": "stock",
                    "entity_key": f"{tag}-{n}",
                    "op": "upsert" if n != 2 else "delete",
                    "data": {"on_hand": quantity, "nested": [1, "two", None]} if n != 2 else None,
                },
            )
        )
        rows.append(
            (
                AuditEntry,
                {
                    "tenant_id": tenant_id,
                    "seq": None,
                    "actor_id": None,
                    "action": "stock.sale",
                    "entity_type": "stock_movement",
                    "entity_id": f"{tag}-movement-{n}",
                    "before": {"on_hand": "1"} if n else None,
                    "after": {"on_hand": quantity, "reason": None},
                    "prev_hash": None,
                    "hash": None,
                    # at and actor left to their defaults
                },
            )
        )
    # A second run of one table with other columns: the audit entry of the sale itself.
    rows.append(
        (
            AuditEntry,
            {
                "tenant_id": tenant_id,
                "at": at,
                "actor": "till",
                "action": "sale.recorded",
                "entity_type": "sale",
                "entity_id": f"{tag}-sale",
                "after": {"total": "12.50", "lines": 3},
            },
        )
    )
    if device_id is not None:
        for n in range(2):
            claim = {
                "tenant_id": tenant_id,
                "event_id": f"{tag}-event-{n}",
                "device_id": device_id,
                "type": "sale.completed",
                "status": "applied",
                "occurred_at": at,
            }
            if n:
                claim["result"] = {"customer_id": 7, "merged": False}
            rows.append((ReceivedEvent, claim))
    return rows


def _write(world: World, tag: str, device_id: str | None, *, combined: bool | None) -> None:
    with transaction(world.sessions()) as session:
        # The movements' level (the ledger invariant checked after each test wants one).
        ledger.lock_levels(
            session,
            tenant_id=world.a.id,
            keys=[(world.a.branch_ids[0], world.a.product_ids[0])],
        )
        if combined is None:  # the way buffered_appends takes by default
            with buffered_appends(session):
                for model, values in _rows(world, tag, device_id):
                    append_row(session, model, values)
            return
        with buffered_appends(session):
            for model, values in _rows(world, tag, device_id):
                append_row(session, model, values)
            runs = session.info["buffered_appends"]
            write_appends(session, dict(runs), combined=combined)
            runs.clear()


def _read(world: World, tag: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    with transaction(world.sessions(), readonly=True) as session:
        for model in MODELS:
            table = model.__table__
            rows = [dict(r._mapping) for r in session.execute(select(table).order_by(table.c.id))]
            mine = [r for r in rows if any(tag in str(v) for v in r.values())]
            ids = [r["id"] for r in mine]
            assert ids == sorted(ids)
            for row in mine:
                for column in VARYING & row.keys():
                    assert row.pop(column) is not None, (model.__name__, column)
            found[model.__name__] = [
                {k: (v.replace(tag, "TAG") if isinstance(v, str) else v) for k, v in r.items()}
                for r in mine
            ]
    return found


def _device(world: World) -> str:
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    answer = world.client.post(
        "/api/v1/devices/enrol", json={"code": code.json()["code"], "name": "Till"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["device_id"])


def test_plain_statement_stores_what_core_inserts_store(world: World) -> None:
    device_id = _device(world)
    _write(world, "coreway", device_id, combined=False)
    _write(world, "defaultway", device_id, combined=None)
    core, default = _read(world, "coreway"), _read(world, "defaultway")
    assert [len(core[m.__name__]) for m in MODELS] == [3, 3, 4, 2]
    assert default == core
    # Defaults were given as the Core insert gives them.
    assert {r["actor"] for r in core["StockMovement"]} == {"system"}
    assert [r["actor"] for r in core["AuditEntry"]] == ["system"] * 3 + ["till"]
    assert core["Change"][2]["data"] is None
    assert core["StockMovement"][1]["quantity"] == Decimal("2.5")
    assert core["StockMovement"][1]["unit_cost"] == Decimal("3.40")


def test_appends_go_out_as_one_statement_on_postgresql(world: World) -> None:
    """Four tables' rows: one statement on PostgreSQL, one insert per run of columns on SQLite."""
    device_id = _device(world)
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        sent.append(statement)

    event.listen(world.engine, "before_cursor_execute", count)
    try:
        with transaction(world.sessions()) as session:
            ledger.lock_levels(
                session,
                tenant_id=world.a.id,
                keys=[(world.a.branch_ids[0], world.a.product_ids[0])],
            )
            with buffered_appends(session):
                for model, values in _rows(world, "counted", device_id):
                    append_row(session, model, values)
            sqlite = is_sqlite(session.get_bind())
    finally:
        event.remove(world.engine, "before_cursor_execute", count)
    inserts = [s for s in sent if "INSERT" in s and "INTO stock_levels" not in s]
    assert len(inserts) == (6 if sqlite else 1), inserts


def test_a_large_batch_is_split_below_the_parameter_limit(world: World) -> None:
    """More rows than one statement may carry parameters for still all arrive, in order."""
    tenant_id = world.a.id
    with transaction(world.sessions()) as session, buffered_appends(session):
        for n in range(4000):  # 4,000 x 8 columns > one statement's share
            append_row(
                session,
                Change,
                {
                    "tenant_id": tenant_id,
                    "seq": None,
                    "branch_id": None,
                    "entity": "bulk",
                    "entity_key": f"bulk-{n}",
                    "op": "upsert",
                    "data": {"n": n},
                },
            )
    with transaction(world.sessions(), readonly=True) as session:
        keys = session.scalars(
            select(Change.entity_key).where(Change.entity == "bulk").order_by(Change.id)
        ).all()
    assert keys == [f"bulk-{n}" for n in range(4000)]


def _sale_rows(world: World, tag: str, device_id: str) -> list[Any]:
    """Two sales as record_sale makes their rows: (sale, lines, payments)."""
    tenant_id, branch_id = world.a.id, world.a.branch_ids[0]
    at = datetime(2026, 3, 1, 9, 0, 0, 654321, tzinfo=UTC)
    sales = []
    for n in range(2):
        uuid = f"{tag}-sale-{n}"
        sale = {
            "tenant_id": tenant_id,
            "uuid": uuid,
            "receipt_number": f"{tag}-{n}",
            "channel": "in_store",
            "branch_id": branch_id,
            "device_id": device_id,
            "shift_uuid": None,
            "cashier_id": None,
            "customer_id": None,
            "subtotal": Decimal("12.50"),
            "discount_total": Decimal("0"),
            "tax_total": Decimal("1.25"),
            "total": Decimal("12.50"),
            "change_due": Decimal("0.50"),
            "overrides": [{"kind": "price", "line": n}] if n else [],
            "occurred_at": at,
            "buyer_gstin": "",
            "buyer_state": "",
        }
        lines = [
            {
                "tenant_id": tenant_id,
                "line_uuid": f"{uuid}-line-{k}",
                "product_id": product_id,
                "sku": "SKU",
                "name": f"Item {k}",
                "quantity": Decimal("1.5") if k else Decimal("-1"),
                "unit_price": Decimal("4.20"),
                "discount": Decimal("0"),
                "tax_rate": Decimal("5"),
                "tax": Decimal("0.21"),
                "total": Decimal("6.30"),
                "tax_detail": {"parts": [{"name": "GST", "amount": "0.21"}]},
                "hsn": "",
            }
            for k, product_id in enumerate(world.a.product_ids[:3])
        ]
        payments = [
            {
                "tenant_id": tenant_id,
                "payment_uuid": f"{uuid}-pay-{k}",
                "method": method,
                "amount": Decimal("6.25"),
                "reference": None if k else "ref",
            }
            for k, method in enumerate(("cash", "card"))
        ]
        sales.append((sale, lines, payments))
    return sales


def test_a_sale_with_its_lines_in_one_statement_stores_what_three_inserts_store(
    world: World,
) -> None:
    device_id = _device(world)
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        sent.append(statement)

    for tag, combined in (("coreway", False), ("defaultway", None)):
        rows = _sale_rows(world, tag, device_id)
        event.listen(world.engine, "before_cursor_execute", count)
        try:
            with transaction(world.sessions()) as session:
                sent.clear()
                insert_with_children(
                    session,
                    Sale,
                    [sale for sale, _, _ in rows],
                    key="uuid",
                    children=[
                        (SaleLine, "sale_id", [(s["uuid"], x) for s, xs, _ in rows for x in xs]),
                        (SalePayment, "sale_id", [(s["uuid"], x) for s, _, xs in rows for x in xs]),
                    ],
                    combined=combined,
                )
                sqlite = is_sqlite(session.get_bind())
        finally:
            event.remove(world.engine, "before_cursor_execute", count)
        assert len([s for s in sent if "INSERT" in s]) == (3 if combined is False or sqlite else 1)

    def stored(tag: str) -> dict[str, list[dict[str, Any]]]:
        with transaction(world.sessions(), readonly=True) as session:
            sales = session.execute(
                select(Sale.__table__).where(Sale.uuid.like(f"{tag}-%")).order_by(Sale.id)
            ).all()
            ids = {row.id: row.uuid for row in sales}
            found: dict[str, list[dict[str, Any]]] = {"sales": [dict(r._mapping) for r in sales]}
            for name, model in (("lines", SaleLine), ("payments", SalePayment)):
                table = model.__table__
                found[name] = [
                    {**r._mapping, "sale_id": ids[r.sale_id]}
                    for r in session.execute(
                        select(table).where(table.c.sale_id.in_(ids)).order_by(table.c.id)
                    )
                ]
        out: dict[str, list[dict[str, Any]]] = {}
        for name, rows in found.items():
            ids_in_order = [r["id"] for r in rows]
            assert ids_in_order == sorted(ids_in_order)
            out[name] = []
            for row in rows:
                assert row.pop("id") is not None
                assert row.pop("recorded_at", "absent") is not None
                out[name].append(
                    {
                        k: (v.replace(tag, "TAG") if isinstance(v, str) else v)
                        for k, v in row.items()
                    }
                )
        return out

    core, default = stored("coreway"), stored("defaultway")
    assert [len(core[k]) for k in ("sales", "lines", "payments")] == [2, 6, 4]
    assert default == core
    assert core["lines"][0]["sale_id"] == "TAG-sale-0"
    assert core["sales"][1]["overrides"] == [{"kind": "price", "line": 1}]
    assert core["lines"][1]["quantity"] == Decimal("1.5")


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_one_row_inserted_plainly_stores_what_the_core_insert_stores(world: World) -> None:
    """An order's Idempotency-Key claim (PostgreSQL: insert_row_plainly, its text made once)."""
    table = IdempotencyRecord.__table__
    at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)

    def row(key: str) -> dict[str, Any]:
        return {"tenant_id": world.a.id, "key": key, "request_hash": "f" * 64, "created_at": at}

    with transaction(world.sessions()) as session:
        core = session.execute(insert(table).values(row("core-claim")).returning(table.c.id))
        core_id = core.scalar()
        plain_id = insert_row_plainly(
            session, table, row("plain-claim"), then=" RETURNING id"
        ).scalar()
        # A key taken already: nothing inserted, nothing returned (the claim's conflict).
        again = insert_row_plainly(
            session,
            table,
            row("plain-claim"),
            then=" ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id",
        ).scalar()
    assert again is None and plain_id > core_id
    with transaction(world.sessions(), readonly=True) as session:
        stored = {
            r.key: {k: v for k, v in r._mapping.items() if k not in ("id", "key")}
            for r in session.execute(select(table).where(table.c.key.like("%-claim")))
        }
    assert stored["plain-claim"] == stored["core-claim"]
    assert stored["core-claim"]["status_code"] == 0 and stored["core-claim"]["response"] is None
