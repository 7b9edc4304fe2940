"""The report keeper and the writers it races on PostgreSQL (every server process runs one).

Rows take their ids from sequences as they are inserted, so a push still open can hold an id
below one another push has committed. The keeper must never set a watermark past such a row
(it would never be summed), must not hold new sales off while it sums, and a keeper finding a
tenant being refreshed by another process goes on instead of queueing behind it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from sync_server.db import transaction
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.reports import keeper, summary
from sync_server.reports.models import ProductDaily, StockSnapshot, SummaryState
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)

D = Decimal
# Long enough for a keeper that would wait to be seen waiting, even on a busy machine.
WAITING_S = 1.5


def _sale(session: Session, world, number: str, quantity: int) -> None:
    a = world.a
    sale = Sale(
        tenant_id=a.id,
        uuid=f"u-{number}",
        receipt_number=number,
        status="completed",
        branch_id=a.branch_ids[0],
        cashier_id=a.users["cashier"],
        channel="in_store",
        subtotal=D(quantity),
        total=D(quantity),
        change_due=D(0),
        occurred_at=datetime.now(UTC) - timedelta(hours=1),
    )
    sale.lines.append(
        SaleLine(
            tenant_id=a.id,
            line_uuid=f"{number}-0",
            product_id=a.product_ids[0],
            sku="x",
            name="x",
            quantity=D(quantity),
            unit_price=D(1),
            discount=D(0),
            tax=D(0),
            total=D(quantity),
        )
    )
    session.add(sale)
    session.flush()  # the INSERT draws the sale's id now


def _return(session: Session, world, number: str, quantity: int) -> None:
    a = world.a
    session.add(
        Return(
            tenant_id=a.id,
            uuid=f"r-{number}",
            receipt_number=f"R{number}",
            branch_id=a.branch_ids[0],
            cashier_id=a.users["cashier"],
            total=D(quantity),
            occurred_at=datetime.now(UTC) - timedelta(hours=1),
            lines=[
                ReturnLine(
                    tenant_id=a.id,
                    line_uuid=f"r-{number}-0",
                    product_id=a.product_ids[0],
                    quantity=D(quantity),
                    amount=D(quantity),
                    tax=D(0),
                )
            ],
        )
    )
    session.flush()


def _movement(session: Session, world, name: str, quantity: int, when: datetime) -> int:
    a = world.a
    movement = StockMovement(
        tenant_id=a.id,
        uuid=name,
        branch_id=a.branch_ids[0],
        product_id=a.product_ids[0],
        code="receipt",
        quantity=D(quantity),
        unit_cost=D(2),
        reference_type="test",
        reference_id=name,
        occurred_at=when,
    )
    session.add(movement)
    session.flush()
    return movement.id


def _summed_quantity(world) -> Decimal:
    with transaction(world.sessions(), readonly=True) as s:
        total = s.scalar(
            select(func.sum(ProductDaily.quantity)).where(ProductDaily.tenant_id == world.a.id)
        )
    return D(total or 0)


def _keeper_in_a_thread(world) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            keeper.keep_once(world.sessions())
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, failures


def _keeper_waits_for(world, early: Session, waited: str) -> None:
    """Run the keeper while `early` is still open: it must wait, then finish once it commits."""
    thread, failures = _keeper_in_a_thread(world)
    thread.join(WAITING_S)
    assert thread.is_alive(), waited
    early.commit()
    early.close()
    thread.join(60)
    assert not thread.is_alive() and not failures


def test_a_sale_still_being_written_below_a_committed_one_is_summed_once(world):
    early = world.sessions()()
    _sale(early, world, "EARLY", 3)  # the lower id, not committed yet
    with transaction(world.sessions()) as s:
        _sale(s, world, "LATE", 5)
    _keeper_waits_for(world, early, "the keeper summed while a sale below its top was open")
    assert _summed_quantity(world) == 8
    keeper.keep_once(world.sessions())  # nothing new: nothing summed twice
    assert _summed_quantity(world) == 8


def test_a_push_writing_a_return_then_a_sale_does_not_deadlock_with_the_keeper(world):
    # A push's events in one transaction, a return first: it holds its write lock on the
    # returns table while the keeper waits for it there. The keeper must hold no lock on the
    # sales table meanwhile, or the push's sale would wait for the keeper and the keeper for
    # the push (PostgreSQL would then abort one of them).
    with transaction(world.sessions()) as s:
        _sale(s, world, "BEFORE", 2)
    push = world.sessions()()
    _return(push, world, "BACK", 1)
    thread, failures = _keeper_in_a_thread(world)
    thread.join(WAITING_S)
    assert thread.is_alive(), "the keeper summed while a return below its top was open"
    try:
        push.execute(text("SET LOCAL lock_timeout = '5s'"))
        _sale(push, world, "AFTER", 4)  # waits for no one
        push.commit()
    finally:
        push.close()
    thread.join(60)
    assert not thread.is_alive() and not failures, failures
    keeper.keep_once(world.sessions())  # the sale drawn after the keeper's top: next round
    assert _summed_quantity(world) == 2 + 4 - 1  # net of the return
    with transaction(world.sessions(), readonly=True) as s:
        state = s.scalars(select(SummaryState).where(SummaryState.tenant_id == world.a.id)).one()
        top_return = s.scalar(select(func.max(Return.id)).where(Return.tenant_id == world.a.id))
    assert state.return_id_through == top_return


def test_a_movement_still_being_written_below_a_committed_one_reaches_the_snapshots(world):
    when = datetime.now(UTC) - timedelta(days=70)
    early = world.sessions()()
    early_id = _movement(early, world, "m-early", 7, when)
    with transaction(world.sessions()) as s:
        late_id = _movement(s, world, "m-late", 5, when)
        # The level the two receipts make (the ledger's invariant is checked after the test).
        s.add(
            StockLevel(
                tenant_id=world.a.id,
                branch_id=world.a.branch_ids[0],
                product_id=world.a.product_ids[0],
                on_hand=D(12),
                reserved=D(0),
            )
        )
    assert early_id < late_id
    _keeper_waits_for(world, early, "the keeper took its top while a movement below it was open")
    with transaction(world.sessions(), readonly=True) as s:
        state = s.scalar(select(SummaryState).where(SummaryState.tenant_id == world.a.id))
        assert state is not None and state.snapshot_through is not None
        assert state.movement_id_through >= late_id
        latest = s.scalar(
            select(StockSnapshot.quantity).where(
                StockSnapshot.tenant_id == world.a.id,
                StockSnapshot.as_of == state.snapshot_through,
                StockSnapshot.branch_id == world.a.branch_ids[0],
                StockSnapshot.product_id == world.a.product_ids[0],
            )
        )
    assert latest == 12  # both receipts: the one committed last is not left out


def test_new_sales_are_not_held_off_while_the_keeper_sums(world):
    with transaction(world.sessions()) as s:
        _sale(s, world, "FIRST", 2)
    summing = world.sessions()()
    done = summary.refresh(summing, tenant_id=world.a.id)
    assert done["rows"] == 1  # the keeper's transaction is still open, its state locked
    try:
        with transaction(world.sessions()) as s:
            # A push that had to wait for the keeper's commit would give up here.
            s.execute(text("SET LOCAL lock_timeout = '2s'"))
            _sale(s, world, "DURING", 4)
    finally:
        summing.commit()
        summing.close()
    keeper.keep_once(world.sessions())
    assert _summed_quantity(world) == 6


def test_a_keeper_leaves_a_tenant_another_process_is_refreshing_to_it(world):
    keeper.keep_once(world.sessions())  # the tenant's summary state exists, as on any server
    with transaction(world.sessions()) as s:
        _sale(s, world, "ONE", 1)
    other = world.sessions()()
    summary.refresh(other, tenant_id=world.a.id)  # the other process's step, not committed
    with transaction(world.sessions()) as s:
        _sale(s, world, "TWO", 2)
    thread, failures = _keeper_in_a_thread(world)
    thread.join(30)
    alive = thread.is_alive()
    other.commit()
    other.close()
    thread.join(30)
    assert not alive, "the keeper queued behind the other process's refresh"
    assert not failures
    assert _summed_quantity(world) == 1  # TWO is left for the next round
    keeper.keep_once(world.sessions())
    assert _summed_quantity(world) == 3
