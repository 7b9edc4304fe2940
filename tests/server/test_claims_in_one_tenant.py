"""Background claims lock one tenant's rows per statement, and share a round between tenants.

A database sharded by tenant (the README's "Growing past one primary") allows row locks only
within one shard, so the notification dispatcher and the expiry of unpaid orders claim their
work tenant by tenant. On PostgreSQL the statements are watched: every one that locks rows
names exactly one tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event, select

from common.codes import MovementCode
from common.ids import new_id
from sync_server.db import make_sessionmaker, transaction, utcnow
from sync_server.inventory import ledger
from sync_server.notifications.dispatcher import _claim_rows
from sync_server.notifications.models import Notification
from sync_server.orders.expiry import expire_due
from sync_server.orders.models import Order
from tests.factories import Api


@contextmanager
def locking_statements(engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if "FOR UPDATE" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", watch)


def _one_tenant_each(statements: list[str], table: str) -> None:
    assert statements
    for statement in statements:
        assert f"{table}.tenant_id = " in statement, statement


def _notifications(world, tenant_id: int, count: int, *, due: bool = True) -> list[int]:
    when = utcnow() - timedelta(minutes=1) if due else utcnow() + timedelta(hours=1)
    with transaction(world.sessions()) as session:
        rows = [
            Notification(
                tenant_id=tenant_id,
                event="test.claim",
                channel="webhook",
                recipient="http://127.0.0.1:9/hook",
                subject=f"n{i}",
                next_attempt_at=when,
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_the_dispatcher_claims_tenant_by_tenant_and_shares_a_round(world, engine, backend):
    a = _notifications(world, world.a.id, 5)
    b = _notifications(world, world.b.id, 2)
    _notifications(world, world.b.id, 1, due=False)
    factory = make_sessionmaker(engine)
    with locking_statements(engine) as statements, transaction(factory) as session:
        # A round of 4: tenant A's long queue does not starve tenant B.
        claimed = [row.id for row in _claim_rows(session, now=utcnow(), limit=4)]
    assert set(claimed) == set(a[:2]) | set(b[:2])
    with transaction(factory) as session:
        rest = {row.id for row in _claim_rows(session, now=utcnow(), limit=50)}
    assert rest == set(a) | set(b)  # the same due rows (the lease is set by _claim)
    if backend == "postgresql":
        _one_tenant_each(statements, "notifications")
        assert len(statements) == 2
    else:
        assert statements == []  # SQLite's one writer needs no row locks


def _store(world, admin: str) -> Api:
    made = world.api(admin).post("api-keys", json={"name": "web", "scopes": ["orders:write"]})
    assert made.status_code == 201, made.text
    return Api(world.client, made.json()["key"])


def test_unpaid_orders_of_every_tenant_expire_one_tenant_at_a_time(world, engine, backend):
    placed = {}
    for tenant, admin, sku in ((world.a, "admin", "ADMIN-0"), (world.b, "b_admin", "B_ADMIN-0")):
        with transaction(world.sessions()) as session:
            ledger.record_movement(
                session,
                actor=world.principal(admin).actor,
                branch_id=tenant.branch_ids[0],
                product_id=tenant.product_ids[0],
                code=MovementCode.RECEIPT,
                quantity=Decimal("10"),
                reference_type="test",
                reference_id=new_id(),
            )
        body = {
            "external_number": f"X-{tenant.id}",
            "customer": {"name": "Asha Rao", "email": "asha@example.com"},
            "lines": [{"sku": sku, "quantity": "3"}],
            "branch_code": "MAIN",
        }
        answer = _store(world, admin).post(
            "orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert answer.status_code == 201, answer.text
        placed[tenant.id] = answer.json()["id"]
    factory = make_sessionmaker(engine)
    with locking_statements(engine) as statements:
        assert expire_due(factory, utcnow() + timedelta(minutes=31)) == 2
    with transaction(factory, readonly=True) as session:
        statuses = dict(session.execute(select(Order.id, Order.status)).all())
    assert {statuses[i] for i in placed.values()} == {"expired"}
    if backend == "postgresql":
        orders = [s for s in statements if "FROM orders" in s]
        _one_tenant_each(orders, "orders")
        assert len(orders) == 2
        for statement in statements:  # the stock levels released: one tenant per statement
            assert "tenant_id = " in statement, statement
