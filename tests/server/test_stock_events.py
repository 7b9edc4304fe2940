"""Recording movements publishes one "stock changed" event; alerts receive it in every process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from common.codes import MovementCode
from sync_server import events
from sync_server.alerts.models import Alert
from sync_server.alerts.receivers import judge_moved_levels, judge_new_threshold
from sync_server.inventory import ledger, thresholds
from sync_server.inventory.events import StockChanged, ThresholdChanged

ROOT = Path(__file__).resolve().parents[2]


def test_alerts_receive_stock_and_threshold_changes() -> None:
    assert judge_moved_levels in events.receivers(StockChanged)
    assert judge_new_threshold in events.receivers(ThresholdChanged)


def test_a_batch_of_movements_publishes_one_event_in_the_transaction(
    stock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[StockChanged] = []
    receivers = events.receivers(StockChanged)
    monkeypatch.setitem(events._RECEIVERS, StockChanged, [*receivers, seen.append])
    p0, p1, p2 = stock.product_ids
    with stock.tx() as session:
        for product_id in (p0, p1, p2):
            thresholds.set_thresholds(
                session,
                actor=stock.actor,
                branch_id=stock.branch_ids[0],
                product_id=product_id,
                low_stock_threshold=Decimal("5"),
                reorder_quantity=None,
            )
    with stock.tx() as session:
        ledger.record_movements(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            lines=[
                ledger.MovementLine(p0, MovementCode.RECEIPT, Decimal("2")),
                ledger.MovementLine(p1, MovementCode.RECEIPT, Decimal("50")),
                ledger.MovementLine(p2, MovementCode.RECEIPT, Decimal("3")),
            ],
            reference_type="test",
            reference_id="batch",
        )
        [event] = seen
        assert event.session is session
        assert (event.tenant_id, event.branch_id) == (stock.tenant_id, stock.branch_ids[0])
        assert [change.level.product_id for change in event.changes] == [p0, p1, p2]
        assert [change.level.on_hand for change in event.changes] == [2, 50, 3]
    with stock.factory() as session:
        # The alerts receiver ran in the same transaction: the low levels have their alert.
        low = session.scalars(select(Alert.product_id).where(Alert.status == "open")).all()
        assert sorted(low) == [p0, p2]


def test_a_refused_batch_leaves_no_alert_behind(stock) -> None:
    p0 = stock.product_ids[0]
    with stock.tx() as session:
        thresholds.set_thresholds(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=p0,
            low_stock_threshold=Decimal("5"),
            reorder_quantity=None,
        )
    with pytest.raises(Exception, match="Not enough stock"), stock.tx() as session:
        ledger.record_movement(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=p0,
            code=MovementCode.RECEIPT,
            quantity=Decimal("1"),
            reference_type="test",
            reference_id="in",
        )
        # Judged low and announced above; the refusal below rolls all of it back.
        ledger.record_movement(
            session,
            actor=stock.actor,
            branch_id=stock.branch_ids[0],
            product_id=p0,
            code=MovementCode.SALE,
            quantity=Decimal("-5"),
            reference_type="test",
            reference_id="out",
        )
    with stock.factory() as session:
        assert session.scalars(select(Alert)).all() == []


SCRIPT = """
import sys
from decimal import Decimal

from sqlalchemy import select

from common.codes import MovementCode
from sync_server.catalog.models import Product
from sync_server.db import make_engine, make_sessionmaker, transaction
from sync_server.foundation.principal import Actor
from sync_server.inventory import ledger
from sync_server.migrations.runner import upgrade
from sync_server.org.models import Branch, Tenant

engine = make_engine(sys.argv[1])
upgrade(engine)
assert "sync_server.alerts.service" not in sys.modules, "imported before the first event"
with transaction(make_sessionmaker(engine)) as session:
    tenant = Tenant(name="Script Shop", currency="INR")
    session.add(tenant)
    session.flush()
    branch = Branch(tenant_id=tenant.id, name="Main", code="MAIN")
    product = Product(
        tenant_id=tenant.id, sku="S-1", name="Soap", price=Decimal("10"), cost=Decimal("6"),
        low_stock_threshold=Decimal("5"), attributes={},
    )
    session.add_all([branch, product])
    session.flush()
    ledger.record_movement(
        session, actor=Actor(tenant_id=tenant.id, label="script"), branch_id=branch.id,
        product_id=product.id, code=MovementCode.RECEIPT, quantity=Decimal("2"),
        reference_type="script", reference_id="1",
    )
from sync_server.alerts.models import Alert

with make_sessionmaker(engine)() as session:
    print(session.scalars(select(Alert.kind)).all())
"""


def test_a_process_that_imported_only_the_ledger_still_has_the_alerts_receiver(
    tmp_path: Path,
) -> None:
    """A benchmark or script that never imports alerts still opens the low-stock alert."""
    url = f"sqlite:///{tmp_path / 'script.db'}"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['low_stock']"
