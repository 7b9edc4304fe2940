"""The stock ledger service: movements, levels, reservations, cost, concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from common.codes import MovementCode
from common.errors import Conflict, InsufficientStock, ValidationFailed
from sync_server.alerts.models import Alert
from sync_server.audit.models import AuditEntry
from sync_server.catalog.models import Product
from sync_server.db import make_sessionmaker, transaction
from sync_server.foundation.models import Change
from sync_server.inventory import costing, ledger, reservations
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.migrations.runner import include_object
from sync_server.models import metadata
from tests.invariants import check_ledger

D = Decimal


def _move(session, world, *, code, qty, branch=0, product=0, **kw):
    return ledger.record_movement(
        session,
        actor=world.actor,
        branch_id=world.branch_ids[branch],
        product_id=world.product_ids[product],
        code=code,
        quantity=D(qty),
        reference_type=kw.pop("reference_type", "test"),
        reference_id=kw.pop("reference_id", "t-1"),
        **kw,
    )


def _level(session, world, *, branch=0, product=0):
    return ledger.level(
        session,
        tenant_id=world.tenant_id,
        branch_id=world.branch_ids[branch],
        product_id=world.product_ids[product],
    )


def test_movements_move_the_level_and_write_audit_and_feed(stock):
    world = stock
    with world.tx() as s:
        receipt = _move(s, world, code=MovementCode.RECEIPT, qty="12.5", unit_cost=D("3"))
        _move(s, world, code=MovementCode.SALE, qty="-2.25")
    with world.tx() as s:
        level = _level(s, world)
        assert (level.on_hand, level.reserved, level.available) == (D("10.25"), 0, D("10.25"))
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "stock_movement")
        ).all()
        assert actions == ["stock.receipt", "stock.sale"]
        changes = s.scalars(
            select(Change).where(Change.entity == "stock").order_by(Change.id)
        ).all()
        assert [c.data["on_hand"] for c in changes] == ["12.5", "10.25"]
        assert changes[-1].branch_id == world.branch_ids[0]
        stored = s.scalar(select(StockMovement).where(StockMovement.uuid == receipt.uuid))
        assert stored.actor == "stock-tester" and stored.unit_cost == D("3")
        assert stored.reference_type == "test" and stored.quantity == D("12.5")


def test_stock_out_below_zero_is_refused_and_changes_nothing(stock):
    world = stock
    with world.tx() as s:
        _move(s, world, code=MovementCode.RECEIPT, qty="3")
    with pytest.raises(InsufficientStock) as caught, world.tx() as s:
        _move(s, world, code=MovementCode.ADJUSTMENT, qty="-4", reason="damage")
    assert caught.value.extra["lines"] == [
        {"product_id": world.product_ids[0], "requested": "4", "available": "3"}
    ]
    with world.tx() as s:
        assert _level(s, world).on_hand == D("3")
        assert s.scalar(select(func.count()).select_from(StockMovement)) == 1


def test_a_till_sale_may_go_negative_and_opens_a_negative_alert(stock):
    world = stock
    with world.tx() as s:
        _move(s, world, code=MovementCode.SALE, qty="-2", allow_negative=True)
    with world.tx() as s:
        assert _level(s, world).on_hand == D("-2")
        kinds = s.scalars(select(Alert.kind).where(Alert.status == "open")).all()
        assert kinds == ["negative_stock"]


def test_wrong_signs_and_zero_quantities_are_refused(stock):
    world = stock
    for code, qty in (
        (MovementCode.RECEIPT, "-1"),
        (MovementCode.SALE, "1"),
        (MovementCode.ADJUSTMENT, "0"),
    ):
        with pytest.raises(ValidationFailed), world.tx() as s:
            _move(s, world, code=code, qty=qty)


def test_reserve_is_all_or_nothing_and_lists_every_short_line(stock):
    world = stock
    a, b, c = world.product_ids
    with world.tx() as s:
        _move(s, world, code=MovementCode.RECEIPT, qty="5", product=0)
        _move(s, world, code=MovementCode.RECEIPT, qty="1", product=1)
    with pytest.raises(InsufficientStock) as caught, world.tx() as s:
        reservations.reserve(
            s,
            actor=world.actor,
            branch_id=world.branch_ids[0],
            lines=[(a, D("2")), (b, D("3")), (c, D("1"))],
            reference_type="order",
            reference_id="o-1",
        )
    assert caught.value.extra["lines"] == [
        {"product_id": b, "requested": "3", "available": "1"},
        {"product_id": c, "requested": "1", "available": "0"},
    ]
    with world.tx() as s:
        assert _level(s, world, product=0).reserved == 0
        assert s.scalar(select(func.count()).where(StockMovement.code == "reservation")) == 0


def test_reserve_release_and_commit_keep_reserved_equal_to_open_reservations(stock):
    world = stock
    a, b, _ = world.product_ids
    branch = world.branch_ids[0]
    actor = world.actor
    with world.tx() as s:
        _move(s, world, code=MovementCode.RECEIPT, qty="10", product=0)
        _move(s, world, code=MovementCode.RECEIPT, qty="4", product=1)
        reservations.reserve(
            s,
            actor=actor,
            branch_id=branch,
            lines=[(a, D("6")), (b, D("4"))],
            reference_type="order",
            reference_id="o-1",
        )
    with world.tx() as s:
        level = _level(s, world, product=0)
        assert (level.on_hand, level.reserved, level.available) == (10, 6, 4)
    # Reserved units are not available to anyone else, not even to a manual stock-out.
    with pytest.raises(InsufficientStock), world.tx() as s:
        _move(s, world, code=MovementCode.ADJUSTMENT, qty="-5", reason="damage")
    # A document cannot release more than it holds, nor another document's units.
    with pytest.raises(Conflict), world.tx() as s:
        reservations.release(
            s,
            actor=actor,
            branch_id=branch,
            lines=[(a, D("7"))],
            reference_type="order",
            reference_id="o-1",
        )
    with pytest.raises(Conflict), world.tx() as s:
        reservations.release(
            s,
            actor=actor,
            branch_id=branch,
            lines=[(a, D("1"))],
            reference_type="order",
            reference_id="o-2",
        )
    with world.tx() as s:
        reservations.commit_reservation(
            s,
            actor=actor,
            branch_id=branch,
            lines=[(a, D("4"))],
            reference_type="order",
            reference_id="o-1",
        )
        reservations.release(
            s,
            actor=actor,
            branch_id=branch,
            lines=[(a, D("2")), (b, D("4"))],
            reference_type="order",
            reference_id="o-1",
        )
    with world.tx() as s:
        level = _level(s, world, product=0)
        assert (level.on_hand, level.reserved) == (6, 0)
        assert _level(s, world, product=1).reserved == 0
        held = reservations.open_reservation(
            s,
            tenant_id=world.tenant_id,
            branch_id=branch,
            product_id=a,
            reference_type="order",
            reference_id="o-1",
        )
        assert held == 0
    assert check_ledger(world.engine) == 2


def test_receipts_keep_a_moving_average_cost_over_all_branches(stock):
    world = stock
    actor = world.actor
    pid = world.product_ids[0]
    with world.tx() as s:
        costing.receive(
            s,
            actor=actor,
            branch_id=world.branch_ids[0],
            product_id=pid,
            quantity=D("10"),
            unit_cost=D("5"),
            reference_type="po",
            reference_id="1",
        )
        costing.receive(
            s,
            actor=actor,
            branch_id=world.branch_ids[1],
            product_id=pid,
            quantity=D("30"),
            unit_cost=D("7"),
            reference_type="po",
            reference_id="2",
        )
    with world.tx() as s:
        # (10 x 5 + 30 x 7) / 40 = 6.5
        assert s.get(Product, pid).cost == D("6.5")
        value = costing.valuation(s, tenant_id=world.tenant_id)
        assert value["total_value"] == D("260")
        only_west = costing.valuation(s, tenant_id=world.tenant_id, branch_id=world.branch_ids[1])
        assert only_west["total_value"] == D("195")
        cost_audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "product.cost")).all()
        assert [e.after["cost"] for e in cost_audit] == ["5", "6.5"]


def test_concurrent_writers_lose_no_update(stock):
    """8 threads x 25 movements, each in its own transaction, on one product with no level yet."""
    world = stock
    factory = make_sessionmaker(world.engine)
    actor = world.actor
    branch, pid = world.branch_ids[1], world.product_ids[2]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                with transaction(factory) as s:
                    ledger.record_movement(
                        s,
                        actor=actor,
                        branch_id=branch,
                        product_id=pid,
                        code=MovementCode.RECEIPT if i % 5 else MovementCode.ADJUSTMENT,
                        quantity=D(n + 1) if i % 5 else D("0.5"),
                        reason=None if i % 5 else "found",
                        reference_type="bench",
                        reference_id=f"{n}-{i}",
                    )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    expected = sum(D(n + 1) * 20 + D("0.5") * 5 for n in range(8))
    with transaction(factory) as s:
        level = s.scalar(
            select(StockLevel).where(StockLevel.product_id == pid, StockLevel.branch_id == branch)
        )
        assert level.on_hand == expected
        assert s.scalar(select(func.count()).where(StockMovement.product_id == pid)) == 200


def test_migrations_create_exactly_the_stock_tables_the_models_describe(engine):
    mine = {
        "stock_movements",
        "stock_levels",
        "branch_product_settings",
        "stock_transfers",
        "stock_transfer_lines",
        "stock_counts",
        "stock_count_lines",
        "alerts",
        "notifications",
        "notification_rules",
    }

    def only_mine(obj, name, type_, reflected, compare_to) -> bool:
        # On PostgreSQL, stock_movements' UNIQUE (uuid) is one index per range (include_object).
        if type_ == "table" and name not in mine:
            return False
        return include_object(obj, name, type_, reflected, compare_to)

    with engine.connect() as conn:
        # Only these tables are reflected and compared (the whole schema is test_migrations').
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _: type_ != "table" or name in mine,
                "include_object": only_mine,
            },
        )
        diff = compare_metadata(context, metadata)

    def table_of(op) -> str | None:
        op = op[0] if isinstance(op, list) else op  # column changes come wrapped in a list
        for item in op[1:]:
            if isinstance(item, str) and item in mine:
                return item
            table = getattr(item, "table", None)
            name = getattr(table if table is not None else item, "name", None)
            if name in mine:
                return name
        return None

    ours = [op for op in diff if table_of(op) in mine]
    assert ours == []


def test_racing_reservations_never_oversell(stock):
    """12 clients race for the last 5 units: exactly 5 get one, the rest are refused."""
    world = stock
    with world.tx() as s:
        _move(s, world, code=MovementCode.RECEIPT, qty="5", product=1)
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def client(n: int) -> None:
        start.wait()
        try:
            with world.tx() as s:
                reservations.reserve(
                    s,
                    actor=world.actor,
                    branch_id=world.branch_ids[0],
                    lines=[(world.product_ids[1], D("1"))],
                    reference_type="order",
                    reference_id=f"race-{n}",
                )
            outcomes.append("reserved")
        except InsufficientStock:
            outcomes.append("refused")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["reserved"] * 5
    with world.tx() as s:
        level = _level(s, world, product=1)
        assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)


def test_documents_with_many_lines_in_any_order_do_not_deadlock(stock):
    """Writers touching several products in different orders finish without a deadlock."""
    world = stock
    with world.tx() as s:
        for product in range(3):
            _move(s, world, code=MovementCode.RECEIPT, qty="1000", product=product)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        order = [n % 3, (n + 1) % 3, (n + 2) % 3][: 1 + n % 3]
        start.wait()
        try:
            for i in range(10):
                with world.tx() as s:
                    # As every document does: its levels first, in product order.
                    ledger.lock_levels(
                        s,
                        tenant_id=world.tenant_id,
                        keys=[(world.branch_ids[0], world.product_ids[p]) for p in order],
                    )
                    for product in order if i % 2 else reversed(order):
                        _move(
                            s,
                            world,
                            code=MovementCode.SALE,
                            qty="-1",
                            product=product,
                            reference_id=f"{n}-{i}",
                        )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    sold = sum(10 * (1 + n % 3) for n in range(6))
    with world.tx() as s:
        total = sum(_level(s, world, product=p).on_hand for p in range(3))
    assert total == 3000 - sold
