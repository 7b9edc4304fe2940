"""A cloned till: two machines run the same enrolled till data."""

from __future__ import annotations

import pytest

from pos_client.services.sync_engine import SyncEngine
from tests.chaos.harness import FULL, make_till, sync_until_drained
from tests.chaos.scenario import clone_store, figures_of, pending, products
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def test_a_cloned_till_is_detected_and_neither_machine_loses_a_sale(server, tmp_path):
    """Two machines run the same enrolled till data: the clash is refused and reported."""
    original = make_till(tmp_path, server.url, server.enrol_code(), name="Till-O")
    clone = SyncEngine(
        clone_store(original, tmp_path / "clone.db"), timeout=5, batch_size=50, backoff_base=0.05
    )
    stock = products(original)
    per_machine = 30 if FULL else 10
    for n in range(per_machine):
        sell_locally(original.store, product_id=stock[n % len(stock)])
        sell_locally(clone.store, product_id=stock[(n + 1) % len(stock)])
    sync_until_drained(original)
    told = clone.sync_once()
    figures = figures_of(
        "cloned till",
        server,
        [original],
        cashier=f"clone's status: {told.rejected} sales refused ({told.last_error or '-'})",
    )
    alerts = server.get("/alerts", kind="device_cloned")["items"]
    letters = server.get("/sync/dead-letters")["items"]
    figures.manager_told = alerts[0]["details"]["message"] if alerts else "nothing"
    figures.sales_completed += per_machine
    figures.notes = (
        f"clone's {told.rejected} sales kept in its outbox and as {len(letters)} dead letters"
    )
    figures.lost = figures.sales_completed - figures.sales_on_server - len(letters)
    figures.record()
    # Both machines numbered the same series: the clone's sales clash and are refused...
    assert figures.sales_on_server == per_machine and figures.duplicates == 0
    assert told.rejected == per_machine
    # ...but kept, on the server as dead letters a manager resolves, and on the clone.
    assert len(letters) == per_machine and figures.lost == 0
    assert pending(clone) == per_machine
    assert len(alerts) == 1 and "Two machines" in alerts[0]["details"]["message"]
    for engine in (original, clone):
        engine.stop()
        engine.store.close()
