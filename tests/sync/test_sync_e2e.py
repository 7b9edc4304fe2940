"""Till ↔ server over real HTTP: a uvicorn server on loopback and till stores on disk."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, Product, Sale, StockLevel
from sync_server.alerts.models import Alert
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.sales.models import Sale as ServerSale
from tests import web
from tests.sync.lossy_proxy import LossyProxy
from tests.sync.sync_helpers import sell_locally


@pytest.fixture
def make_till(world, tmp_path):
    """Return a function that enrols a new till store (through url) at branch 0."""
    made: list[tuple[SyncEngine, LocalStore]] = []

    def _make(url: str, name: str = "Till") -> SyncEngine:
        store = LocalStore(tmp_path / f"{name}-{len(made)}.db")
        engine = SyncEngine(store, timeout=30, batch_size=80, pull_limit=400, backoff_base=0.05)
        code = world.api("admin").post(
            "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
        )
        engine.enrol(server_url=url, code=code.json()["code"], name=name)
        made.append((engine, store))
        return engine

    yield _make
    for engine, store in made:
        engine.stop()
        store.close()


def _server_on_hand(world, product_id: int) -> Decimal:
    with transaction(world.sessions(), readonly=True) as session:
        return ledger.level(
            session, tenant_id=world.a.id, branch_id=world.a.branch_ids[0], product_id=product_id
        ).on_hand


def _server_receipts(world) -> list[str]:
    with transaction(world.sessions(), readonly=True) as session:
        return list(session.scalars(select(ServerSale.receipt_number)))


def test_200_sales_made_offline_land_exactly_once(world, live_server, make_till, stock_in):
    products = world.a.product_ids
    for product in products:
        stock_in(product_id=product, branch_id=world.a.branch_ids[0], quantity="100")
    till = make_till(live_server.url)
    status = till.sync_once()
    assert status.online and status.last_error is None
    with till.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 3
        assert session.get(StockLevel, products[0]).on_hand == Decimal("100")

    live_server.stop()
    for i in range(200):
        sell_locally(till.store, product_id=products[i % 3])
    offline = till.sync_once()
    assert not offline.online and offline.offline_since is not None
    assert offline.pending == 200 and "unreachable" in offline.last_error

    live_server.start()
    back = till.sync_once()
    assert back.online and back.pending == 0, back
    with till.store.transaction() as session:
        local = set(session.scalars(select(Sale.receipt_number)))
        assert session.scalar(select(func.count()).where(Sale.synced_at.is_(None))) == 0
        # The pull after the push brought the server's stock back to the replica.
        assert session.get(StockLevel, products[0]).on_hand == Decimal("33")
    receipts = _server_receipts(world)
    assert len(receipts) == 200 and set(receipts) == local
    assert [_server_on_hand(world, p) for p in products] == [
        Decimal("33"),
        Decimal("33"),
        Decimal("34"),
    ]


def test_reply_lost_in_transit_is_retried_as_duplicate(world, live_server, make_till):
    proxy = LossyProxy(upstream_port=live_server.port)
    try:
        till = make_till(proxy.url)
        assert till.sync_once().online
        for _ in range(3):
            sell_locally(till.store, product_id=world.a.product_ids[0])
        proxy.mode = "cut"
        lost = till.sync_once()
        assert proxy.cuts >= 1
        assert lost.pending == 3 and not lost.online
        # The server did apply them; only the answer was lost (it may still be committing).
        deadline = time.monotonic() + 10
        while len(_server_receipts(world)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_server_receipts(world)) == 3
        proxy.mode = "pass"
        proxy.replies.clear()
        again = till.sync_once()
        assert again.pending == 0 and again.online
        answered = b"".join(proxy.replies)
        assert answered.count(b'"duplicate"') == 3 and b'"applied"' not in answered
        assert len(_server_receipts(world)) == 3
    finally:
        proxy.close()


def test_two_tills_sell_the_last_unit_offline(world, live_server, make_till, stock_in):
    product = world.a.product_ids[0]
    stock_in(product_id=product, branch_id=world.a.branch_ids[0], quantity="1")
    first, second = make_till(live_server.url, "Front"), make_till(live_server.url, "Back")
    for till in (first, second):
        assert till.sync_once().online
    live_server.stop()
    sell_locally(first.store, product_id=product)
    sell_locally(second.store, product_id=product)
    live_server.start()
    assert first.sync_once().pending == 0
    assert second.sync_once().pending == 0
    assert len(_server_receipts(world)) == 2
    assert _server_on_hand(world, product) == Decimal("-1")
    with transaction(world.sessions(), readonly=True) as session:
        alert = session.scalars(
            select(Alert).where(
                Alert.kind == "negative_stock", Alert.product_id == product, Alert.status == "open"
            )
        ).one()
        assert alert.branch_id == world.a.branch_ids[0]


def test_price_change_arrives_and_archived_product_still_sells(world, live_server, make_till):
    cheap, archived = world.a.product_ids[1], world.a.product_ids[2]
    till = make_till(live_server.url)
    till.sync_once()
    admin = world.api("admin")
    assert admin.patch(f"products/{cheap}", json={"price": "99.99"}).status_code == 200
    till.sync_once()
    with till.store.transaction() as session:
        assert session.get(Product, cheap).price == Decimal("99.99")

    live_server.stop()
    sale_id = sell_locally(till.store, product_id=archived, quantity="2")
    live_server.start()
    assert admin.patch(f"products/{archived}", json={"active": False}).status_code == 200
    status = till.sync_once()
    assert status.pending == 0 and status.rejected == 0
    with transaction(world.sessions(), readonly=True) as session:
        sale = session.scalars(select(ServerSale).where(ServerSale.uuid == sale_id)).one()
        assert sale.lines[0].product_id == archived and sale.lines[0].quantity == Decimal("2")
    with till.store.transaction() as session:
        assert session.get(Product, archived).active is False


def test_revoked_till_stops_syncing_and_keeps_its_sales(world, live_server, make_till):
    till = make_till(live_server.url)
    till.sync_once()
    device_id = world.api("admin").get("devices").json()["items"][0]["id"]
    assert world.api("admin").post(f"devices/{device_id}/revoke").status_code == 200
    sell_locally(till.store, product_id=world.a.product_ids[0])
    status = till.sync_once()
    assert status.revoked and "device revoked" in status.last_error
    assert status.pending == 1


class _CountingTransport(httpx.HTTPTransport):
    """Count requests in flight, to prove cycles never overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0
        self.lock = threading.Lock()

    def handle_request(self, request):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            return super().handle_request(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_concurrent_triggers_coalesce_into_one_cycle_at_a_time(world, live_server, tmp_path):
    transport = _CountingTransport()
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, transport=transport, batch_size=5)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="T")
    engine.pull()
    for _ in range(20):
        sell_locally(store, product_id=world.a.product_ids[0])
    threads = [threading.Thread(target=engine.sync_once) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A trigger that arrived mid-cycle was run by the running cycle, not in parallel.
    engine.sync_once()
    assert transport.most == 1
    assert engine.status.pending == 0 and len(_server_receipts(world)) == 20
    store.close()


def test_an_event_the_server_cannot_read_does_not_hold_back_the_rest(world, live_server, make_till):
    till = make_till(live_server.url)
    till.sync_once()
    for _ in range(3):
        sell_locally(till.store, product_id=world.a.product_ids[0])
    with till.store.transaction() as session:
        middle = session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)).all()[1]
        body = json.loads(middle.body)
        body["occurred_at"] = "2026-01-01T10:00:00"  # no zone: the whole request is refused
        middle.body = json.dumps(body)
    status = till.sync_once()
    assert status.pending == 1 and status.rejected == 1
    assert len(_server_receipts(world)) == 2
    with till.store.transaction() as session:
        left = session.scalars(select(OutboxEvent)).one()
        assert left.rejected and "refused by the server" in left.last_error


def test_event_applied_from_dead_letters_leaves_the_till_outbox(world, live_server, make_till):
    from pos_client.store import documents
    from tests.sync.sync_helpers import sale_payload

    till = make_till(live_server.url)
    till.sync_once()
    with till.store.transaction() as session:
        customer = documents.create_customer_offline(session, name="Zoya", phone="777")
        state = documents.get_state(session)
        token = state.device_token
        documents.record_sale(
            session,
            sale_payload(
                branch_id=state.branch_id,
                product_id=world.a.product_ids[0],
                receipt=documents.next_receipt_number(session),
                method="account",
                customer_local_id=customer.local_id,
            ),
        )
        # The customer's event is held back, as if it had been lost before the sale's.
        held = session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)).first()
        held_body = json.loads(held.body)
        session.delete(held)
    first = till.sync_once()
    assert first.rejected == 1 and first.pending == 1
    pushed = web.post(
        f"{live_server.url}/api/v1/sync/push",
        json={"events": [held_body]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert pushed.json()["results"][0]["status"] == "applied"
    manager = world.api("manager")
    letter = manager.get("sync/dead-letters").json()["items"][0]
    resolved = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={"retry": True})
    assert resolved.status_code == 200
    after = till.sync_once()
    assert after.pending == 0 and after.rejected == 0
    assert len(_server_receipts(world)) == 1
