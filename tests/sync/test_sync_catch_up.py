"""A till whose server was down for a while catches up within seconds of it coming back."""

from __future__ import annotations

import time

import pytest

from pos_client.qt.threads import start_thread
from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from tests.sync.sync_helpers import sell_locally


# What is under test is the till's backoff against a server that went away and came back
# (20 s of real time): the server's database engine plays no part, so it runs on one.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_sync_catches_up_within_seconds_of_the_server_returning(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=5)  # the till's real backoff (1 s base, 120 s cap)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    live_server.stop()
    try:
        start_thread(engine.run, name="till-sync")  # what SyncWorker.start does
        sell_locally(store, product_id=world.a.product_ids[0])
        engine.trigger(reset_backoff=True)
        # Down long enough for the old backoff to have grown well past a minute.
        deadline = time.monotonic() + 20
        while engine._failures < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert engine._failures >= 6 and not engine.status.online
        live_server.start()
        back = time.monotonic()
        while (engine.status.pending or not engine.status.online) and time.monotonic() - back < 15:
            time.sleep(0.1)
        took = time.monotonic() - back
        assert engine.status.pending == 0 and engine.status.online
        assert took < 8, f"took {took:.1f} s to catch up"
    finally:
        engine.stop()
        store.close()
