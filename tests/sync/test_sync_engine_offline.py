"""The sync engine with no server: status, backoff with jitter, nothing lost."""

from __future__ import annotations

import socket

from sqlalchemy import select

from common.ids import new_id
from common.sync.protocol import ChangeOp, PulledChange
from pos_client.services.sync_engine import SyncEngine
from pos_client.store import documents, replica
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent
from tests.sync.sync_helpers import sell_locally


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_backs_off_with_jitter_and_keeps_the_outbox(tmp_path):
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        documents.configure_device(
            session,
            device_id=new_id(),
            token="spd_x",
            tenant_id=1,
            branch_id=1,
            branch_code="K",
            receipt_prefix="K-T01",
            server_url=f"http://127.0.0.1:{_closed_port()}",
        )
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="product",
                    key="5",
                    op=ChangeOp.UPSERT,
                    data={"id": 5, "sku": "S", "name": "Soap", "price": "3.00"},
                )
            ],
        )
    seen = []
    # A refused connection is retried within seconds (see below); here the exponential part.
    engine = SyncEngine(
        store,
        timeout=1,
        backoff_base=1,
        backoff_max=30,
        connect_retry_max=60,
        on_status=seen.append,
    )
    assert engine.next_delay() == engine.poll_interval
    sell_locally(store, product_id=5)
    delays = []
    for _ in range(7):
        status = engine.sync_once()
        delays.append(engine.next_delay())
    assert not status.online and status.offline_since is not None
    assert status.pending == 1 and "unreachable" in status.last_error
    assert seen and seen[-1] == status
    # Exponential with full jitter in [ceiling/2, ceiling], capped at backoff_max.
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(30, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    first_offline = status.offline_since
    assert engine.sync_once().offline_since == first_offline  # "offline since" does not move
    # Each failed push is counted on the queued event, with the reason.
    with store.transaction() as session:
        (event,) = session.scalars(select(OutboxEvent)).all()
        assert event.attempts == 8 and "unreachable" in (event.last_error or "")
    store.close()


def _offline_till(tmp_path, port: int) -> LocalStore:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        documents.configure_device(
            session,
            device_id=new_id(),
            token="spd_x",
            tenant_id=1,
            branch_id=1,
            branch_code="K",
            receipt_prefix="K-T01",
            server_url=f"http://127.0.0.1:{port}",
        )
    return store


def test_a_refused_connection_is_retried_within_seconds_and_a_sale_resets_backoff(tmp_path):
    store = _offline_till(tmp_path, _closed_port())
    engine = SyncEngine(store, timeout=1, backoff_base=1, backoff_max=120)
    for _ in range(10):
        engine.sync_once()
    # Nothing is listening: trying again costs the server nothing, so the wait stays short
    # and the till catches up within seconds of the server coming back.
    assert all(engine.next_delay() <= 5 for _ in range(50))
    engine._refused = False  # as after a timeout or a 5xx: the full backoff applies
    assert max(engine.next_delay() for _ in range(50)) > 5
    engine.trigger(reset_backoff=True)  # after a sale or "Sync now"
    assert engine.next_delay() == engine.poll_interval
    engine.sync_once()
    assert engine.next_delay() <= 1
    store.close()


def test_offline_since_survives_a_restart_of_the_till(tmp_path):
    port = _closed_port()
    store = _offline_till(tmp_path, port)
    first = SyncEngine(store, timeout=1).sync_once()
    assert first.offline_since is not None
    store.close()

    reopened = LocalStore(tmp_path / "till.db")
    again = SyncEngine(reopened, timeout=1)
    assert again.status.offline_since == first.offline_since  # before any new attempt
    assert again.sync_once().offline_since == first.offline_since
    reopened.close()
