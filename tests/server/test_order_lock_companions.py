"""An order counts its products' live stock alerts with the levels' locks (ledger.lock_companion).

When none is live, judging the reservation reads no alert (one round trip less under the
locks). The count comes from the lock statement's snapshot, taken before it waits for a
lock: an order that waited while another writer moved the level (and opened an alert) must
not trust it, and reads the alerts again; it then refreshes that alert instead of opening a
second one.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update

from common.ids import new_id
from common.schemas.partners import CustomerCreate
from sync_server.alerts.models import Alert
from sync_server.catalog.models import Product
from sync_server.db import transaction
from sync_server.inventory import reservations
from sync_server.orders import service
from sync_server.orders.idempotency import Outcome
from sync_server.orders.schemas import OrderCreate
from sync_server.partners import service as partners
from tests.server.test_order_fast_paths import Statements
from tests.server.test_orders import stock


def _shop(world) -> int:
    """Ten units of ADMIN-0 with a low-stock threshold of 5; return a known customer's id."""
    stock(world, quantity="10")
    with transaction(world.sessions()) as session:
        session.execute(
            update(Product)
            .where(Product.id == world.a.product_ids[0])
            .values(low_stock_threshold=Decimal("5"))
        )
        customer = partners.create_customer(
            session, actor=world.principal("admin"), data=CustomerCreate(name="Known")
        )
        return customer.id


def _order(world, number: str, customer_id: int, quantity: str = "1") -> Outcome:
    data = OrderCreate.model_validate(
        {
            "external_number": number,
            "customer": {"id": customer_id},
            "lines": [{"sku": "ADMIN-0", "quantity": quantity}],
            "branch_code": "MAIN",
        }
    )
    with transaction(world.sessions()) as session:
        return service.place_order(
            session,
            principal=world.principal("admin"),
            key=new_id(),
            data=data,
            instance="/api/v1/orders",
        )


def _alert_reads(sql: Statements) -> int:
    """The reads of the alerts themselves (the lock statement only counts them)."""
    return sum(1 for s in sql.seen if s.lstrip().startswith("SELECT alerts."))


def _live_alerts(world) -> list[tuple[str, Decimal]]:
    with transaction(world.sessions(), readonly=True) as session:
        rows = session.scalars(
            select(Alert).where(
                Alert.tenant_id == world.a.id,
                Alert.product_id == world.a.product_ids[0],
                Alert.status != "cleared",
            )
        ).all()
        return [(alert.kind, Decimal(alert.details["available"])) for alert in rows]


def test_no_live_alert_is_read_with_the_locks_and_an_alert_is_still_opened(world):
    customer_id = _shop(world)
    with Statements(world.engine) as sql:
        first = _order(world, "LOCK-1", customer_id, "4")  # 6 left: above the threshold
    assert first.status == 201, first.body
    postgres = world.engine.dialect.name == "postgresql"
    # PostgreSQL counts them with the locks (none live: no read); SQLite reads them.
    assert _alert_reads(sql) == (0 if postgres else 1), sql.seen
    assert _live_alerts(world) == []
    second = _order(world, "LOCK-2", customer_id, "2")  # 4 left: below it
    assert second.status == 201, second.body
    assert _live_alerts(world) == [("low_stock", Decimal("4"))]
    with Statements(world.engine) as sql:
        third = _order(world, "LOCK-3", customer_id)  # one live: it is read, and refreshed
    assert third.status == 201, third.body
    assert _alert_reads(sql) == 1, sql.seen
    assert _live_alerts(world) == [("low_stock", Decimal("3"))]


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_order_that_waited_for_the_lock_reads_the_alerts_the_writer_opened(world):
    """Concurrency on PostgreSQL (SQLite has one writer at a time: nothing to wait for)."""
    customer_id = _shop(world)
    admin = world.principal("admin")
    outcome: list[Outcome] = []
    holder = world.sessions()()
    try:
        # A writer takes the level's lock and moves it below the threshold (opens low_stock).
        reservations.reserve(
            holder,
            actor=admin.actor,
            branch_id=world.a.branch_ids[0],
            lines=[(world.a.product_ids[0], Decimal("6"))],
            reference_type="test",
            reference_id=new_id(),
        )
        holder.flush()
        waiting = threading.Thread(
            target=lambda: outcome.append(_order(world, "LOCK-WAIT", customer_id))
        )
        waiting.start()
        # The order's lock statement has started (its snapshot taken) and waits for the lock.
        deadline = time.monotonic() + 20
        with world.engine.connect() as probe:
            while time.monotonic() < deadline:
                blocked = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE NOT l.granted AND a.datname = current_database()"
                    )
                ).scalar()
                probe.rollback()
                if blocked:
                    break
                time.sleep(0.05)
        assert blocked, "the order never waited for the level's lock"
        holder.commit()
    finally:
        holder.close()
    waiting.join(timeout=30)
    assert outcome and outcome[0].status == 201, outcome and outcome[0].body
    # One live alert, refreshed by the order (3 available), not a second one opened.
    assert _live_alerts(world) == [("low_stock", Decimal("3"))]
    with transaction(world.sessions(), readonly=True) as session:
        count = session.scalar(
            select(func.count()).where(
                Alert.tenant_id == world.a.id, Alert.product_id == world.a.product_ids[0]
            )
        )
    assert count == 1


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_one_branchs_levels_are_locked_as_the_pairs_form_locks_them(world):
    """An order's levels (one branch) are locked by one array of products: the same rows, in
    the same order, with the same companions' values as the (branch, product) pairs' form."""
    from sync_server.inventory import ledger

    _shop(world)
    stock(world, product=1, quantity="7")
    stock(world, product=1, quantity="3", branch=1)
    tenant_id, (main, other) = world.a.id, world.a.branch_ids[:2]
    products = world.a.product_ids[:3]  # the third has no level at either branch
    ledger._companions()
    for keys in (
        [(main, p) for p in products],
        [(main, products[1])],
        [(other, products[1]), (other, products[0])],
        [(main, products[1]), (other, products[1])],  # two branches: the pairs' form
    ):
        ordered = sorted(keys)
        with world.sessions()() as session:
            locked = ledger._lock_with_companions(session, tenant_id=tenant_id, keys=ordered)
            got = {key: (row.id, row.on_hand, row.reserved) for key, row in locked.items()}
            session.rollback()
        with world.sessions()() as session:
            stmt = ledger._LEVELS.add_columns(
                ledger._LEVEL_CURRENT, *(c.column for c in ledger._COMPANIONS)
            ).with_for_update(of=ledger.StockLevel, key_share=True)
            pairs = session.execute(stmt, {"tenant_id": tenant_id, "keys": ordered}).all()
            want = {
                (level.branch_id, level.product_id): (level.id, level.on_hand, level.reserved)
                for level, *_ in pairs
            }
            session.rollback()
        assert got == want, keys
        assert list(got) == [key for key in ordered if key in want]
    # The one-branch statement takes the array (its text is the same for any number).
    with world.sessions()() as session, Statements(world.engine) as sent:
        ledger._lock_with_companions(
            session, tenant_id=tenant_id, keys=[(main, p) for p in products[:2]]
        )
        session.rollback()
    [lock] = [s for s in sent.seen if "FOR NO KEY UPDATE" in s]
    assert "stock_levels.product_id = ANY" in lock, lock
    assert "(stock_levels.branch_id, stock_levels.product_id) IN" not in lock, lock


def test_the_lock_statement_expands_nothing_per_run():
    """The live-alert count read with the locks binds its kinds one by one: the compiled lock
    statement has no list to expand into its text on each run (on SQLite it is not sent)."""
    from sqlalchemy.dialects import postgresql

    from sync_server.alerts.service import LIVE_AT_LEVEL, STOCK_KINDS
    from sync_server.inventory import ledger

    compiled = (
        select(ledger.StockLevel.id, LIVE_AT_LEVEL)
        .with_for_update(key_share=True)
        .compile(dialect=postgresql.dialect())
    )
    assert not compiled.literal_execute_params and not compiled.post_compile_params
    assert sorted(v for v in compiled.params.values() if v in STOCK_KINDS) == sorted(STOCK_KINDS)
