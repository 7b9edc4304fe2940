"""A server killed mid-push: nothing half-applied, nothing lost or doubled."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from pos_client.store.models import Product
from tests.chaos.harness import FULL, make_till, sync_until_drained
from tests.chaos.scenario import figures_of, pending, products
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def test_server_killed_mid_push_applies_each_sale_once(server, tmp_path):
    """SIGKILL the server while it applies a big push; after restart nothing is half-applied."""
    till = make_till(tmp_path, server.url, server.enrol_code(), name="Till-K")
    stock = products(till)
    count = 600 if FULL else 200
    for n in range(count):
        sell_locally(till.store, product_id=stock[n % len(stock)])
    pushing = threading.Thread(target=till.sync_once, daemon=True)
    pushing.start()
    # Kill it once the first batch was acknowledged: the next one is being applied.
    deadline = time.monotonic() + 60
    while pending(till) == count and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()
    killed_with = pending(till)
    pushing.join(timeout=60)
    told = till.sync_once()  # the server is down now: the cashier sees it
    assert 0 < killed_with < count, "the kill did not land mid-push"
    assert not told.online and told.pending > 0
    server.start()
    sync_until_drained(till)
    # The feed a till pulls has no gap to fall into: a fresh pull from zero is contiguous.
    fresh = make_till(tmp_path, server.url, server.enrol_code(), name="Till-Fresh")
    with fresh.store.transaction() as session:
        assert session.scalar(select(Product.id).limit(1)) is not None
    figures = figures_of(
        "server killed mid-push",
        server,
        [till],
        cashier=f"status: offline ({told.last_error}), {told.pending} waiting; then synced",
        notes=f"{count} sales queued; server SIGKILLed with {killed_with} still to push",
    )
    figures.record()
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server == figures.sales_completed == count
    for engine in (till, fresh):
        engine.stop()
        engine.store.close()
