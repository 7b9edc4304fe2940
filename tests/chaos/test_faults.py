"""Faults shops really meet, each with nothing lost, nothing duplicated and a clear message.

Run in short form with the suite; `bash scripts/chaos.sh` runs the full form and prints
a table of the figures.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, Product, Sale, utcnow
from pos_client.ui.widgets.sync_status import describe as describe_sync
from tests.chaos.harness import FULL, ChaosProxy, Figures, make_till, sync_until_drained
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def _products(engine: SyncEngine, count: int = 5) -> list[int]:
    with engine.store.transaction() as session:
        ids = session.scalars(select(Product.id).order_by(Product.id).limit(count)).all()
    assert ids, "the till received no catalog"
    return list(ids)


def _pending(engine: SyncEngine) -> int:
    with engine.store.transaction() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0


def _till_receipts(engine: SyncEngine) -> list[str]:
    with engine.store.transaction() as session:
        return list(session.scalars(select(Sale.receipt_number)))


def _server_receipts(server) -> list[str]:
    receipts: list[str] = []
    offset = 0
    while True:
        page = server.get("/sales", limit=200, offset=offset)
        receipts += [row["receipt_number"] for row in page["items"]]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return receipts


def _figures(fault: str, server, tills: list[SyncEngine], **told: str) -> Figures:
    made = [r for till in tills for r in _till_receipts(till)]
    landed = _server_receipts(server)
    counts = Counter(landed)
    return Figures(
        fault=fault,
        engine=server.engine_name,
        sales_completed=len(made),
        sales_on_server=len(set(landed) & set(made)),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=len(set(made) - set(landed)),
        cashier_told=told.get("cashier", ""),
        manager_told=told.get("manager", ""),
        notes=told.get("notes", ""),
    )


def test_flapping_network_drains_the_outbox_exactly_once(server, tmp_path):
    """Connections cut mid-request and mid-reply, delayed and replayed, while two tills trade."""
    proxy = ChaosProxy(upstream_port=server.port, seed=20261204, rate=0.35)
    proxy.enabled = False  # the tills are enrolled on a calm day
    tills = [make_till(tmp_path, proxy.url, server.enrol_code(), name=f"Till-{n}") for n in (1, 2)]
    proxy.enabled = True
    products = _products(tills[0])
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
    for n in range(sales_per_till):
        for till in tills:
            started = time.perf_counter()
            sell_locally(till.store, product_id=products[n % len(products)])
            slowest_sale[0] = max(slowest_sale[0], time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    proxy.enabled = False  # the network settles; whatever is queued goes now
    for till in tills:
        sync_until_drained(till)
    figures = _figures(
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


def test_server_killed_mid_push_applies_each_sale_once(server, tmp_path):
    """SIGKILL the server while it applies a big push; after restart nothing is half-applied."""
    till = make_till(tmp_path, server.url, server.enrol_code(), name="Till-K")
    products = _products(till)
    count = 600 if FULL else 200
    for n in range(count):
        sell_locally(till.store, product_id=products[n % len(products)])
    pushing = threading.Thread(target=till.sync_once, daemon=True)
    pushing.start()
    # Kill it once the first batch was acknowledged: the next one is being applied.
    deadline = time.monotonic() + 60
    while _pending(till) == count and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()
    killed_with = _pending(till)
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
    figures = _figures(
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


def _clone_store(engine: SyncEngine, target) -> LocalStore:
    """Copy a live till database the way a copied disk or VM image would."""
    source = sqlite3.connect(engine.store.path)
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return LocalStore(target)


def test_a_cloned_till_is_detected_and_neither_machine_loses_a_sale(server, tmp_path):
    """Two machines run the same enrolled till data: the clash is refused and reported."""
    original = make_till(tmp_path, server.url, server.enrol_code(), name="Till-O")
    clone = SyncEngine(
        _clone_store(original, tmp_path / "clone.db"), timeout=5, batch_size=50, backoff_base=0.05
    )
    products = _products(original)
    per_machine = 30 if FULL else 10
    for n in range(per_machine):
        sell_locally(original.store, product_id=products[n % len(products)])
        sell_locally(clone.store, product_id=products[(n + 1) % len(products)])
    sync_until_drained(original)
    told = clone.sync_once()
    figures = _figures(
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
    assert _pending(clone) == per_machine
    assert len(alerts) == 1 and "Two machines" in alerts[0]["details"]["message"]
    for engine in (original, clone):
        engine.stop()
        engine.store.close()


@pytest.mark.parametrize("days", [-3, 2])
def test_a_till_with_a_wrong_clock_syncs_and_everyone_is_told(server, tmp_path, days):
    """A CMOS battery died (3 days behind) or someone set the date ahead (2 days)."""
    till = make_till(tmp_path, server.url, server.enrol_code(), name=f"Till-C{days}")
    till.clock = lambda: utcnow() + timedelta(days=days)
    products = _products(till)
    for n in range(5):
        sell_locally(till.store, product_id=products[n % len(products)])
    sync_until_drained(till)  # the device credential does not care about the till's clock
    status = till.sync_once()
    text, state = describe_sync(
        online=status.online,
        offline_since=status.offline_since,
        pending=status.pending,
        clock_skew=status.clock_skew,
    )
    alerts = server.get("/alerts", kind="clock_skew")["items"]
    figures = _figures(
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
