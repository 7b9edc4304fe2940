"""A push's batch writes changed levels and alerts in one UPDATE each (db.write_changes_plainly);
an order sends them with its appended rows, in their one statement (db.changes_with_appends).

Compared with the ORM's flush of the same changes, row for row; and a savepoint rolled back
after the plain UPDATE leaves the session's rows as the ORM leaves rows it flushed there:
expired, so they read the database's values again (the push's fallback to one event at a
time moves the levels it still holds). On SQLite one_flush_at_end only flushes: the same
assertions hold there through the ORM.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from sync_server.alerts.models import Alert
from sync_server.db import (
    buffered_appends,
    changes_with_appends,
    is_sqlite,
    one_flush_at_end,
    transaction,
    update_with_appends,
)
from sync_server.inventory import ledger
from sync_server.inventory.models import StockLevel
from tests.factories import World, sent_statements

AT = datetime(2026, 4, 2, 8, 15, 30, 250000, tzinfo=UTC)


def _setup(world: World) -> tuple[list[int], list[int]]:
    """Two levels and two alerts per side: ids of (ORM side, plain side), levels then alerts."""
    tenant_id = world.a.id
    p0, p1 = world.a.product_ids[:2]
    keys = [(branch, product) for branch in world.a.branch_ids[:2] for product in (p0, p1)]
    with transaction(world.sessions()) as session:
        levels = ledger.lock_levels(session, tenant_id=tenant_id, keys=keys)
        alerts = [
            Alert(
                tenant_id=tenant_id,
                kind="low_stock",
                branch_id=branch,
                product_id=product,
                details={"message": "old"},
            )
            for branch, product in keys
        ]
        session.add_all(alerts)
        session.flush()
        level_ids = [levels[key].id for key in keys]
        alert_ids = [alert.id for alert in alerts]
    return level_ids[:2] + alert_ids[:2], level_ids[2:] + alert_ids[2:]


def _restore_levels(world: World, ids: list[int]) -> None:
    """Put the levels back to what their movements say (the invariant checked after tests)."""
    with transaction(world.sessions()) as session:
        for level_id in ids[:2]:
            level = session.get(StockLevel, level_id)
            level.on_hand, level.reserved = Decimal("0"), Decimal("0")


def _change(session: Any, ids: list[int]) -> None:
    l0, l1, a0, a1 = ids
    # All loaded first: a load after a change would flush it (autoflush).
    level0, level1 = session.get(StockLevel, l0), session.get(StockLevel, l1)
    alert0, alert1 = session.get(Alert, a0), session.get(Alert, a1)
    level0.on_hand, level0.updated_at = Decimal("-2.5"), AT
    level1.on_hand, level1.reserved, level1.updated_at = Decimal("7"), Decimal("1.25"), AT
    alert0.details = {"message": "new", "on_hand": "-2.5", "nested": [1, None]}
    alert1.status, alert1.cleared_at = "cleared", AT


def _read(world: World, ids: list[int]) -> list[dict[str, Any]]:
    l0, l1, a0, a1 = ids
    with transaction(world.sessions(), readonly=True) as session:
        rows = []
        for model, row_id in ((StockLevel, l0), (StockLevel, l1), (Alert, a0), (Alert, a1)):
            table = model.__table__
            row = dict(session.execute(select(table).where(table.c.id == row_id)).one()._mapping)
            for key in ("id", "branch_id", "opened_at"):
                row.pop(key, None)
            rows.append(row)
    return rows


def test_plain_update_writes_what_the_flush_writes(world: World) -> None:
    orm_ids, plain_ids = _setup(world)
    with transaction(world.sessions()) as session:
        _change(session, orm_ids)
        session.flush()
    with sent_statements(world.engine) as sent, transaction(world.sessions()) as session:
        _change(session, plain_ids)
        sent.clear()
        with one_flush_at_end(session):
            pass
        sqlite = is_sqlite(session.get_bind())
        assert not session.dirty
    updates = [s for s in sent if s.lstrip().startswith("UPDATE")]
    if not sqlite:
        # One per table and set of changed columns (here each row changes a set of its own).
        assert len(updates) == 4
        assert all("FROM (VALUES" in s for s in updates)
    assert _read(world, plain_ids) == _read(world, orm_ids)
    _restore_levels(world, orm_ids)
    _restore_levels(world, plain_ids)


def test_plain_update_rolled_back_with_its_savepoint_reads_the_database_again(
    world: World,
) -> None:
    tenant_id, branch_id = world.a.id, world.a.branch_ids[0]
    product = world.a.product_ids[0]
    with transaction(world.sessions()) as session:
        held = ledger.lock_levels(session, tenant_id=tenant_id, keys=[(branch_id, product)])
        row = held[(branch_id, product)]
        start = row.on_hand
        with pytest.raises(RuntimeError), session.begin_nested():
            with one_flush_at_end(session):
                row.on_hand = start + Decimal("5")
                row.updated_at = AT
            # Written to the database inside the savepoint, clean for the ORM.
            assert session.scalar(
                select(StockLevel.on_hand).where(StockLevel.id == row.id)
            ) == start + Decimal("5")
            assert not session.dirty
            raise RuntimeError("the batch failed after its flush")
        # The savepoint is gone: the row reads the database again, and lock_levels (which
        # still holds it, locked outside the savepoint) hands out that same current row.
        assert row.on_hand == start
        again = ledger.lock_levels(session, tenant_id=tenant_id, keys=[(branch_id, product)])
        assert again[(branch_id, product)] is row
        assert row.on_hand == start
        # A change after the rollback is written as any other.
        with one_flush_at_end(session):
            row.on_hand = start + Decimal("1")
            row.updated_at = AT
    with transaction(world.sessions(), readonly=True) as session:
        assert session.scalar(
            select(StockLevel.on_hand).where(StockLevel.id == row.id)
        ) == start + Decimal("1")
    # The ledger invariant (checked after each test) wants the movements to match: restore.
    with transaction(world.sessions()) as session:
        level = session.get(StockLevel, row.id)
        level.on_hand = start


def test_changes_with_the_appends_write_what_the_flush_writes(world: World) -> None:
    """An order's level (and alert) updates go out in its appends' one statement."""
    orm_ids, plain_ids = _setup(world)
    with transaction(world.sessions()) as session:
        _change(session, orm_ids)
        session.flush()
    with sent_statements(world.engine) as sent, transaction(world.sessions()) as session:
        _change(session, plain_ids)
        sent.clear()
        with buffered_appends(session):
            changes_with_appends(session)
            sqlite = is_sqlite(session.get_bind())
            # Nothing sent yet on PostgreSQL (the block's statement takes them), and the
            # rows are clean for the ORM already (no flush walks them); SQLite's flush
            # writes them, as before.
            assert sqlite or (not sent and not session.dirty)
        session.flush()
        assert not session.dirty
    if not sqlite:
        assert len(sent) == 1 and sent[0].startswith("WITH "), sent
        assert sent[0].count("UPDATE ") == 4 and "FROM (VALUES" in sent[0]
    assert _read(world, plain_ids) == _read(world, orm_ids)
    _restore_levels(world, orm_ids)
    _restore_levels(world, plain_ids)


def test_an_update_with_the_appends_that_matches_no_row_fails(world: World) -> None:
    """As the ORM's flush does (StaleDataError), and the transaction rolls back whole."""
    _, plain_ids = _setup(world)
    table = StockLevel.__table__
    with (
        pytest.raises(StaleDataError, match="UPDATE of stock_levels expected 1 rows"),
        transaction(world.sessions()) as session,
        buffered_appends(session),
    ):
        update_with_appends(
            session,
            table,
            ("id", "tenant_id", "on_hand"),
            [[plain_ids[0], world.a.id + 1_000, Decimal("9")]],  # no such tenant's row
        )
    with transaction(world.sessions(), readonly=True) as session:
        assert session.scalar(select(table.c.on_hand).where(table.c.id == plain_ids[0])) != 9
