"""A server killed while it numbers the change feed and seals the audit chain.

On SQLite a push numbers its changes and chains its audit entries inside its own
transaction, so a SIGKILL mid-push is a kill mid-numbering and mid-sealing. On PostgreSQL
writers leave both to the keeper (and to readers); the test holds the two heads locked
from outside while a push piles up a backlog, lets go, and kills the server a moment later,
while the keeper is numbering and sealing that backlog.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from sqlalchemy import select, text

from pos_client.store.models import StockLevel
from tests.chaos.harness import FULL, make_till, sync_until_drained
from tests.chaos.scenario import feed_state, figures_of, pending, products, server_database
from tests.sync.sync_helpers import sell_locally

pytestmark = pytest.mark.chaos


def _levels(engine) -> dict[int, str]:
    with engine.store.transaction() as session:
        return {
            row.product_id: str(row.on_hand.normalize())
            for row in session.scalars(select(StockLevel))
        }


def test_server_killed_while_numbering_the_feed_and_sealing_audit(server, tmp_path):
    """Nothing half-applied, a feed without holes, an intact audit chain, a reader in step."""
    seller = make_till(tmp_path, server.url, server.enrol_code(), name="Till-S")
    reader = make_till(tmp_path, server.url, server.enrol_code(), name="Till-R")
    stock = products(seller)
    count = 400 if FULL else 60
    # Several batches, so the kill below finds batches still to go: with two batches of 50
    # the second (of 10) could be acknowledged before the loop saw the first, on SQLite.
    seller.batch_size = min(seller.batch_size, count // 6)
    for n in range(count):
        sell_locally(seller.store, product_id=stock[n % len(stock)])
    postgres = server.database_url is not None
    holder = None
    if postgres:
        # Hold both heads: pushes commit their changes unnumbered and their entries unsealed.
        database = server_database(server)
        holder = database.connect()
        holder.begin()
        holder.execute(text("SELECT id FROM feed_heads FOR UPDATE"))
        holder.execute(text("SELECT id FROM audit_heads FOR UPDATE"))
    stop = threading.Event()

    def keep_pulling() -> None:
        # A second till of the branch pulls all along: it must never step over a change.
        while not stop.is_set():
            with contextlib.suppress(Exception):
                reader.sync_once()
            time.sleep(0.02)

    pulling = threading.Thread(target=keep_pulling, daemon=True)
    pulling.start()
    # A failed assertion must not leave the thread pulling into the worker's next tests.
    try:
        pushing = threading.Thread(target=seller.sync_once, daemon=True)
        pushing.start()
        deadline = time.monotonic() + 120
        # Kill mid-push: about half the sales acknowledged, the next batch being applied.
        while pending(seller) > count // 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        if holder is not None:
            # The waiting push and the keeper now number and seal the backlog, and are killed at
            # it: at once, since a batch numbers and seals a backlog of this size in a few ms.
            holder.rollback()
        server.kill()
        if holder is not None:
            holder.close()
            database.dispose()
        killed_with = pending(seller)
        _, unnumbered_at_kill, unsealed_at_kill = feed_state(server)
        pushing.join(timeout=60)
        assert 0 < killed_with < count, "the kill did not land mid-push"
        if postgres:
            assert unnumbered_at_kill > 0 and unsealed_at_kill > 0, "the kill found no backlog"
        told = seller.sync_once()
        server.start()
        sync_until_drained(seller)
        # PostgreSQL's keeper numbers and seals what the killed one left; wait for it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seqs, unnumbered, unsealed = feed_state(server)
            if not unnumbered and not unsealed:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        pulling.join(timeout=60)
    reader.sync_once()
    fresh = make_till(tmp_path, server.url, server.enrol_code(), name="Till-Fresh")
    verify = server.cli("audit", "verify")
    ledger = server.cli("ledger", "verify")
    figures = figures_of(
        "server killed while numbering the feed and sealing audit",
        server,
        [seller],
        cashier=f"status: offline ({told.last_error}), {told.pending} waiting; then synced",
        manager=verify.strip().splitlines()[-1],
        notes=(
            f"{count} sales; SIGKILL with {killed_with} to push, {unnumbered_at_kill} changes "
            f"unnumbered and {unsealed_at_kill} audit entries unsealed; afterwards feed "
            f"1..{seqs[-1] if seqs else 0} without holes"
        ),
    )
    figures.record()
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.sales_on_server == figures.sales_completed == count
    assert unnumbered == 0 and unsealed == 0
    assert seqs == list(range(1, len(seqs) + 1)), "the feed has a hole or a repeated number"
    assert "chain intact" in verify and "not chained" not in verify
    assert "BROKEN" not in ledger
    # The till that pulled throughout holds exactly what a till pulling from zero holds now.
    assert _levels(reader) == _levels(fresh)
    for engine in (seller, reader, fresh):
        engine.stop()
        engine.store.close()
