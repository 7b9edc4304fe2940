"""A flapping network: connections cut, delayed and replayed while tills trade."""

from __future__ import annotations

import threading
import time

import pytest

from pos_client.services.sync_engine import SyncEngine
from tests.chaos.harness import FULL, ChaosProxy, make_till, sync_until_drained
from tests.chaos.scenario import figures_of, products
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def test_flapping_network_drains_the_outbox_exactly_once(server, tmp_path):
    """Connections cut mid-request and mid-reply, delayed and replayed, while two tills trade."""
    proxy = ChaosProxy(upstream_port=server.port, seed=20261204, rate=0.35)
    proxy.enabled = False  # the tills are enrolled on a calm day
    tills = [make_till(tmp_path, proxy.url, server.enrol_code(), name=f"Till-{n}") for n in (1, 2)]
    proxy.enabled = True
    stock = products(tills[0])
    sales_per_till = 150 if FULL else 40
    stop = threading.Event()
    errors: list[str] = []
    slowest_sale = [0.0]

    def sync_loop(engine: SyncEngine) -> None:
        while not stop.is_set():
            status = engine.sync_once()
            if status.last_error:
                errors.append(status.last_error)
            time.sleep(0.02)

    threads = [threading.Thread(target=sync_loop, args=(t,), daemon=True) for t in tills]
    for thread in threads:
        thread.start()
    try:
        for n in range(sales_per_till):
            for till in tills:
                started = time.perf_counter()
                sell_locally(till.store, product_id=stock[n % len(stock)])
                slowest_sale[0] = max(slowest_sale[0], time.perf_counter() - started)
    finally:
        # Stopped whatever happens, so no thread syncs on into the worker's next tests.
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    proxy.enabled = False  # the network settles; whatever is queued goes now
    for till in tills:
        sync_until_drained(till)
    figures = figures_of(
        "flapping network",
        server,
        tills,
        cashier="nothing: sales commit locally; the status bar showed "
        f"{len(errors)} sync errors ({errors[0] if errors else 'none'})",
        notes=f"proxy faults {proxy.counts}; slowest local sale {slowest_sale[0] * 1000:.0f} ms",
    )
    figures.record()
    proxy.close()
    assert sum(v for k, v in proxy.counts.items() if k != "pass") > 0, "no fault was injected"
    assert figures.sales_completed == 2 * sales_per_till
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server == figures.sales_completed
    for till in tills:
        till.stop()
        till.store.close()
