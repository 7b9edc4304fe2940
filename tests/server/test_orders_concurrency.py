"""The last units under fire: 50 store clients over real HTTP while tills sell the same product."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from common.codes import MovementCode
from common.ids import new_id
from common.schemas.partners import CustomerCreate
from sync_server.config import Settings
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.inventory.models import StockMovement
from sync_server.orders.models import Order
from sync_server.partners import service as partners
from tests import web

CLIENTS = 50
LAST_UNITS = 10
TILL_SALES = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The server's settings, with time for every client of the rush to be served.

    This test is about overselling, not admission (test_admission and test_contention check
    that a burst beyond the pool is answered 503 promptly): on a machine busy with the whole
    suite, 54 writers on one stock row can queue past the 1.5 s a request waits by default.
    """
    return settings.model_copy(update={"db_wait_seconds": 20})


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_fifty_clients_and_tills_never_oversell_the_last_units(world, live_server):
    admin = world.principal("admin")
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=admin.actor,
            branch_id=branch_id,
            product_id=product_id,
            code=MovementCode.RECEIPT,
            quantity=Decimal(LAST_UNITS),
            reference_type="test",
            reference_id=new_id(),
        )
        regular = partners.create_customer(
            session, actor=admin, data=CustomerCreate(name="Regular", email="regular@example.com")
        )
    key = world.api("admin").post("api-keys", json={"name": "web", "scopes": ["orders:write"]})
    headers = {"X-API-Key": key.json()["key"]}
    requests = [
        (
            str(uuid.uuid4()),
            {
                "external_number": f"RUSH-{i}",
                # Half are known customers, half new ones: both lock paths race each other.
                "customer": (
                    {"id": regular.id}
                    if i % 2
                    else {"name": f"Buyer {i}", "email": f"buyer{i}@example.com"}
                ),
                "lines": [{"sku": "ADMIN-0", "quantity": "1"}],
                "branch_code": "MAIN",
            },
        )
        for i in range(CLIENTS)
    ]
    start = threading.Barrier(CLIENTS + TILL_SALES)
    cashier = world.principal("cashier").actor

    def order(request: tuple[str, dict]) -> httpx.Response:
        idem, body = request
        with web.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            return http.post(
                "/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": idem}
            )

    def till_sale(n: int) -> None:
        # A till's sale is a fact from the shop floor: it is recorded even below zero.
        start.wait()
        with transaction(world.sessions()) as session:
            ledger.record_movement(
                session,
                actor=cashier,
                branch_id=branch_id,
                product_id=product_id,
                code=MovementCode.SALE,
                quantity=Decimal("-1"),
                reference_type="sale",
                reference_id=f"till-{n}",
                allow_negative=True,
            )

    with ThreadPoolExecutor(max_workers=CLIENTS + TILL_SALES) as pool:
        tills = [pool.submit(till_sale, n) for n in range(TILL_SALES)]
        responses = list(pool.map(order, requests))
        for till in tills:
            till.result()

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code >= 500]
    won = statuses.count(201)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["type"].endswith("/insufficient-stock")
        assert Decimal(refused.json()["lines"][0]["available"]) <= 0

    # Walk the ledger in lock order (every writer locks the level row before it appends).
    with transaction(world.sessions(), readonly=True) as session:
        movements = session.scalars(
            select(StockMovement)
            .where(StockMovement.product_id == product_id, StockMovement.branch_id == branch_id)
            .order_by(StockMovement.id)
        ).all()
        orders = session.scalar(select(func.count()).select_from(Order))
    on_hand = reserved = Decimal(0)
    online = till_before_sellout = 0
    sold_out = False
    for m in movements:
        if m.code == MovementCode.RESERVATION:
            assert not sold_out and on_hand - reserved >= m.quantity, "oversold online"
            reserved += m.quantity
            online += 1
        elif m.code == MovementCode.SALE:
            on_hand += m.quantity
            till_before_sellout += 0 if sold_out else 1
        else:
            on_hand += m.quantity
        sold_out = sold_out or on_hand - reserved <= 0
    assert sold_out and won == online == orders
    # Every one of the last units went either to a till or to exactly one online order.
    assert online + till_before_sellout == LAST_UNITS
    assert on_hand == LAST_UNITS - TILL_SALES and reserved == online
    with transaction(world.sessions(), readonly=True) as session:
        level = ledger.level(
            session, tenant_id=world.a.id, branch_id=branch_id, product_id=product_id
        )
        assert (level.on_hand, level.reserved) == (on_hand, reserved)

    # Every request replayed with its key: the same answers, and nothing moves.
    with web.Client(base_url=live_server.url, timeout=60) as http:
        for (idem, body), first in zip(requests, responses, strict=True):
            again = http.post(
                "/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": idem}
            )
            assert (again.status_code, again.json()) == (first.status_code, first.json())
    with transaction(world.sessions(), readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(StockMovement)) == len(movements)


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_plenty_of_stock_every_concurrent_order_succeeds_without_deadlocks(world, live_server):
    """New and known customers, two products, tills selling: no order may fail or time out."""
    admin = world.principal("admin")
    branch_id = world.a.branch_ids[0]
    with transaction(world.sessions()) as session:
        for product_id in world.a.product_ids[:2]:
            ledger.record_movement(
                session,
                actor=admin.actor,
                branch_id=branch_id,
                product_id=product_id,
                code=MovementCode.RECEIPT,
                quantity=Decimal(1000),
                reference_type="test",
                reference_id=new_id(),
            )
        regular = partners.create_customer(
            session, actor=admin, data=CustomerCreate(name="Regular", email="regular@example.com")
        )
    key = world.api("admin").post("api-keys", json={"name": "web", "scopes": ["orders:write"]})
    headers = {"X-API-Key": key.json()["key"]}
    start = threading.Barrier(CLIENTS + TILL_SALES)

    def order(i: int) -> int:
        lines = [{"sku": "ADMIN-0", "quantity": "1"}, {"sku": "ADMIN-1", "quantity": "2"}]
        body = {
            "external_number": f"CALM-{i}",
            "customer": {"id": regular.id} if i % 2 else {"name": f"N{i}", "phone": f"9{i:04d}"},
            "lines": lines if i % 3 else lines[::-1],
            "branch_code": "MAIN",
        }
        with web.Client(base_url=live_server.url, timeout=60) as http:
            start.wait()
            response = http.post(
                "/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": f"calm-{i}"}
            )
            return response.status_code

    def till_sale(n: int) -> None:
        start.wait()
        # Lines in product order: every ledger writer locks levels in the same order.
        with transaction(world.sessions()) as session:
            for product_id in sorted(world.a.product_ids[:2]):
                ledger.record_movement(
                    session,
                    actor=world.principal("cashier").actor,
                    branch_id=branch_id,
                    product_id=product_id,
                    code=MovementCode.SALE,
                    quantity=Decimal("-1"),
                    reference_type="sale",
                    reference_id=f"till-{n}",
                    allow_negative=True,
                )

    with ThreadPoolExecutor(max_workers=CLIENTS + TILL_SALES) as pool:
        tills = [pool.submit(till_sale, n) for n in range(TILL_SALES)]
        statuses = list(pool.map(order, range(CLIENTS)))
        for till in tills:
            till.result()
    assert statuses == [201] * CLIENTS
    with transaction(world.sessions(), readonly=True) as session:
        for product_id, per_order in zip(world.a.product_ids[:2], (1, 2), strict=True):
            level = ledger.level(
                session, tenant_id=world.a.id, branch_id=branch_id, product_id=product_id
            )
            assert level.reserved == CLIENTS * per_order
            assert level.on_hand == 1000 - TILL_SALES
