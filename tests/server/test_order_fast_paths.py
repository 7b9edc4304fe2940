"""The shortcuts of the online-order path write what the long way writes.

Notification rules are read once per transaction (and forgotten when one is added or
removed), an event nobody listens to builds no message, and stock levels a transaction has
locked are not read again in it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from common.codes import MovementCode
from common.ids import new_id
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.notifications import service as notifications
from sync_server.notifications.models import Notification, NotificationRule
from tests.server.test_orders import level, order_body, post, stock, store


class Statements:
    """Count the statements that reach the database and mention a table."""

    def __init__(self, engine) -> None:
        self.seen: list[str] = []
        self.engine = engine

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, params, context, executemany) -> None:
        self.seen.append(statement)

    def selects(self, table: str) -> int:
        return sum(1 for s in self.seen if s.lstrip().startswith("SELECT") and table in s)


def _notify(session, world, event_name: str = "order.created") -> list[Notification]:
    return notifications.notify(
        session,
        tenant_id=world.a.id,
        event=event_name,
        subject="s",
        body="b",
        payload={},
        branch_id=world.a.branch_ids[0],
    )


def test_rules_are_read_once_per_transaction_and_a_new_rule_is_heard_at_once(world):
    engine = world.engine
    with transaction(world.sessions()) as session, Statements(engine) as sql:
        assert _notify(session, world) == []
        assert _notify(session, world, "stock.available") == []
        assert sql.selects("notification_rules") == 1
        notifications.create_rule(
            session,
            actor=world.principal("admin").actor,
            event="order.*",
            channel="in_app",
            role="manager",
        )
        assert [row.recipient for row in _notify(session, world)] == ["role:manager"]
        # A rule added by hand and not flushed yet is heard too, as the query would find it.
        session.add(
            NotificationRule(
                tenant_id=world.a.id, event="stock.available", channel="in_app", role="admin"
            )
        )
        assert [row.recipient for row in _notify(session, world, "stock.available")] == [
            "role:admin"
        ]
        manager_rule = session.scalar(
            select(NotificationRule).where(NotificationRule.role == "manager")
        )
        notifications.delete_rule(
            session, actor=world.principal("admin").actor, rule_id=manager_rule.id
        )
        assert _notify(session, world) == []
    # A new transaction reads the rules again.
    with transaction(world.sessions()) as session, Statements(engine) as sql:
        assert [row.recipient for row in _notify(session, world, "stock.available")] == [
            "role:admin"
        ]
        assert sql.selects("notification_rules") == 1


def test_levels_locked_in_the_same_transaction_are_not_read_again(world):
    stock(world, quantity="5")
    stock(world, product=1, quantity="5")
    engine = world.engine
    branch = world.a.branch_ids[0]
    first, second = ((branch, p) for p in world.a.product_ids[:2])
    with transaction(world.sessions()) as session, Statements(engine) as sql:
        rows = ledger.lock_levels(session, tenant_id=world.a.id, keys=[first])
        again = ledger.lock_levels(session, tenant_id=world.a.id, keys=[first])
        assert again[first] is rows[first]
        assert sql.selects("stock_levels") == 1
        # Inside a savepoint the outer transaction's locks are still held: nothing is read
        # again for them; a row not held yet is locked by the savepoint itself...
        with pytest.raises(RuntimeError), session.begin_nested():
            inner = ledger.lock_levels(session, tenant_id=world.a.id, keys=[first])
            assert inner[first] is rows[first] and sql.selects("stock_levels") == 1
            ledger.lock_levels(session, tenant_id=world.a.id, keys=[first, second])
            assert sql.selects("stock_levels") == 2
            raise RuntimeError("refused")
        # ... and once it is rolled back (its locks released) that row is locked again.
        rows = ledger.lock_levels(session, tenant_id=world.a.id, keys=[first, second])
        assert sql.selects("stock_levels") == 3
        ledger.lock_levels(session, tenant_id=world.a.id, keys=[second])
        assert sql.selects("stock_levels") == 3
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=branch,
            product_id=world.a.product_ids[0],
            code=MovementCode.RESERVATION,
            quantity=Decimal("2"),
            reference_type="test",
            reference_id=new_id(),
        )
        assert sql.selects("stock_levels") == 3
        assert rows[first].reserved == Decimal("2")


def _last_notification(world) -> int:
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(select(func.coalesce(func.max(Notification.id), 0)))


def _queued_since(world, last: int) -> list[tuple[str, str, str]]:
    with transaction(world.sessions(), readonly=True) as session:
        rows = session.scalars(select(Notification).where(Notification.id > last)).all()
        return sorted((row.event, row.channel, row.recipient) for row in rows)


@pytest.mark.parametrize("ruled", [False, True], ids=["nobody-listens", "rules-listen"])
def test_an_order_queues_the_same_notifications_as_the_long_way(world, monkeypatch, ruled):
    """The shortcut (nothing built when no rule listens) against the long way (always built)."""
    stock(world, quantity="10")
    if ruled:
        with transaction(world.sessions()) as session:
            for name in ("order.*", "stock.available"):
                notifications.create_rule(
                    session,
                    actor=world.principal("admin").actor,
                    event=name,
                    channel="in_app",
                    role="manager",
                )
    shop = store(world)
    last = _last_notification(world)
    assert post(shop, order_body("FAST-1")).status_code == 201
    fast = _queued_since(world, last)
    monkeypatch.setattr(notifications, "listens", lambda *a, **k: True)
    last = _last_notification(world)
    assert post(shop, order_body("SLOW-1")).status_code == 201
    slow = _queued_since(world, last)
    assert fast == slow
    assert bool(fast) == ruled


def test_the_duplicate_number_is_read_with_the_branch_and_still_refused_after_bad_lines(world):
    """One read finds the branch, the currency and an order already under this number."""
    stock(world, quantity="10")
    shop = store(world)
    with Statements(world.engine) as sql:
        first = post(shop, order_body("DUP-1", ("ADMIN-0", "1")))
    assert first.status_code == 201
    # No statement of its own looks the number up: it is a subquery of the branch's read.
    assert not [s for s in sql.seen if s.lstrip().startswith("SELECT orders.id")]
    assert [s for s in sql.seen if "FROM orders" in s] == [
        s for s in sql.seen if s.lstrip().startswith("SELECT branches.")
    ]

    duplicate = post(shop, order_body("DUP-1", ("ADMIN-0", "1")))
    assert duplicate.status_code == 409
    assert duplicate.json()["order_id"] == first.json()["id"]
    # A line the shop does not sell is still reported before the duplicate number.
    unknown = post(shop, order_body("DUP-1", ("NO-SUCH-SKU", "1")))
    assert unknown.status_code == 422 and "NO-SUCH-SKU" in unknown.json()["detail"]
    # An unknown branch is still the first complaint.
    elsewhere = post(shop, order_body("DUP-1", branch_code="NOWHERE"))
    assert elsewhere.status_code == 422 and "NOWHERE" in elsewhere.json()["detail"]
    assert level(world) == (Decimal("10"), Decimal("1"))
