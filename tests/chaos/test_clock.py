"""A till whose clock is days wrong: sales land, managers and the cashier are told."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pos_client.store.models import utcnow
from pos_client.ui.widgets.sync_status import describe as describe_sync
from tests.chaos.harness import FULL, make_till, sync_until_drained
from tests.chaos.scenario import figures_of, products
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("days", [-3, 2] if FULL else [-3])
def test_a_till_with_a_wrong_clock_syncs_and_everyone_is_told(server, tmp_path, days):
    """A CMOS battery died (3 days behind) or someone set the date ahead (2 days)."""
    till = make_till(tmp_path, server.url, server.enrol_code(), name=f"Till-C{days}")
    till.clock = lambda: utcnow() + timedelta(days=days)
    stock = products(till)
    for n in range(5):
        sell_locally(till.store, product_id=stock[n % len(stock)])
    sync_until_drained(till)  # the device credential does not care about the till's clock
    status = till.sync_once()
    text, state = describe_sync(
        online=status.online,
        offline_since=status.offline_since,
        pending=status.pending,
        clock_skew=status.clock_skew,
    )
    alerts = server.get("/alerts", kind="clock_skew")["items"]
    figures = figures_of(
        f"till clock {abs(days)} days {'behind' if days < 0 else 'ahead'}",
        server,
        [till],
        cashier=text,
        manager=alerts[0]["details"]["message"] if alerts else "nothing",
    )
    figures.record()
    assert figures.lost == 0 and figures.duplicates == 0 and figures.sales_on_server == 5
    assert status.clock_skew is not None and abs(status.clock_skew - days * 86400) < 120
    word = "behind" if days < 0 else "ahead of"
    assert state == "error" and f"Clock {abs(days)} days {word} the server" in text
    assert len(alerts) == 1 and f"{abs(days)} days {word}" in alerts[0]["details"]["message"]
    till.stop()
    till.store.close()
