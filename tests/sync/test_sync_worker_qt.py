"""The Qt sync worker: runs the engine off the GUI thread; status and changes arrive as signals."""

from __future__ import annotations

import threading

from pos_client.qt.sync_worker import SyncWorker
from pos_client.services.changes import OpChanges
from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from tests.sync.sync_helpers import sell_locally


def test_worker_syncs_in_the_background_and_signals_on_the_gui_thread(
    qtbot, world, live_server, tmp_path
):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=10, poll_interval=60)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Qt till")
    worker = SyncWorker(engine)
    threads: set[int] = set()
    statuses = []

    def seen(status) -> None:
        threads.add(threading.get_ident())
        statuses.append(status)

    changes: list[OpChanges] = []

    def changed(change: OpChanges) -> None:
        threads.add(threading.get_ident())
        changes.append(change)

    worker.status_changed.connect(seen)
    worker.changed.connect(changed)
    try:
        worker.start()
        qtbot.waitUntil(lambda: worker.status.online and not worker.status.syncing, timeout=20000)
        # The first pull brought the branch's catalog and stock: screens showing them refresh.
        assert any(c.catalog for c in changes) and any(c.stock for c in changes)
        assert not any(c.outbox for c in changes)  # nothing was queued yet
        changes.clear()
        sell_locally(store, product_id=world.a.product_ids[0])
        worker.sync_now()  # what the till does after a sale
        qtbot.waitUntil(
            lambda: statuses and statuses[-1].pending == 0 and statuses[-1].online, timeout=20000
        )
        # The sale left the outbox, and the worker said so: the pending count follows that.
        qtbot.waitUntil(lambda: any(c.outbox for c in changes), timeout=5000)
        assert threads == {threading.get_ident()}  # delivered on the GUI thread
    finally:
        worker.stop()
        store.close()
