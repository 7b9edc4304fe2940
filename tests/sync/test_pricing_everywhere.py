"""One cart, three ways in: a till offline, POST /orders and a sales request cost the same.

A real server on loopback; the till pulls the rules (snapshot, then the change feed), goes
offline and prices from its replica; the online store and the back office price on the server.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from common.barcodes import make_ean13
from pos_client.services import queries
from pos_client.services.pricing import till_pricing
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart
from pos_client.store.db import LocalStore
from tests.factories import Api

D = Decimal
CART = ((0, "3"), (1, "2"), (2, "4"))  # (product of tenant A, quantity): ₹10.00 each


@pytest.fixture
def till(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Front")
    yield engine
    engine.stop()
    store.close()


def _rules(world, manager: Api) -> None:
    p = world.a.product_ids
    for body in (
        {"name": "2+1", "kind": "buy_x_get_y", "product_ids": [p[0]], "buy_qty": 2, "get_qty": 1},
        {
            "name": "Any 4 for 35",
            "kind": "bundle",
            "product_ids": [p[2]],
            "bundle_qty": 4,
            "price": "35",
        },
    ):
        assert manager.post("promotions", json=body).status_code == 201


def _late_rule(world, manager: Api) -> None:
    body = {"name": "5% over 50", "kind": "basket_percent", "percent": "5", "min_spend": "50"}
    assert manager.post("promotions", json=body).status_code == 201


def _stock(world) -> None:
    from common.codes import MovementCode
    from common.ids import new_id
    from sync_server.db import transaction
    from sync_server.inventory import ledger

    with transaction(world.sessions()) as session:
        for product_id in world.a.product_ids:
            ledger.record_movement(
                session,
                actor=world.principal("admin").actor,
                branch_id=world.a.branch_ids[0],
                product_id=product_id,
                code=MovementCode.RECEIPT,
                quantity=D("20"),
                reference_type="test",
                reference_id=new_id(),
            )


def test_the_same_cart_costs_the_same_at_the_till_online_and_wholesale(world, live_server, till):
    manager = world.api("manager")
    _rules(world, manager)
    till.sync_once()  # the snapshot brings the first rules
    _late_rule(world, manager)
    till.sync_once()  # the change feed brings the later one
    live_server.stop()  # the till prices offline, from its replica

    cart = Cart()
    with till.store.session() as session:
        cart.pricing = till_pricing(session)
        for index, qty in CART:
            code = make_ean13(f"{4000000000 + world.a.id * 100 + index:012d}")
            cart.add(queries.find_by_codes(session, (code,)), quantity=D(qty))
    at_till = {
        line.item.product_id: (line.unit_price, line.discount, line.total) for line in cart.lines
    }
    till_total = cart.totals().total
    live_server.start()

    _stock(world)
    key = world.api("admin").post(
        "api-keys", json={"name": "web", "scopes": ["orders:write", "catalog:read"]}
    )
    shop = Api(world.client, key.json()["key"])
    order = shop.post(
        "orders",
        json={
            "external_number": "W-1",
            "customer": {"name": "Asha Rao", "email": "asha@example.com"},
            "lines": [{"product_id": world.a.product_ids[i], "quantity": q} for i, q in CART],
            "branch_code": "MAIN",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert order.status_code == 201, order.text
    online = {
        line["product_id"]: (D(line["unit_price"]), D(line["discount"]), D(line["line_total"]))
        for line in order.json()["lines"]
    }

    sales = world.api("sales_admin")
    customer = sales.post("customers", json={"name": "Hotel Grand", "credit_limit": "1000"})
    request = sales.post(
        "sales-requests",
        json={
            "customer_id": customer.json()["id"],
            "branch_id": world.a.branch_ids[0],
            "payment_terms": "cash",
            "lines": [{"product_id": world.a.product_ids[i], "quantity": q} for i, q in CART],
        },
    )
    assert request.status_code == 201, request.text
    wholesale = {
        line["product_id"]: (D(line["unit_price"]), D(line["promo_discount"]), D(line["net"]))
        for line in request.json()["lines"]
    }

    # 3 at 2+1 = 20; 2 at list = 20; 4 for 35 = 35; 5 % off the 75 basket, shared by amount.
    assert till_total == D("71.25")
    assert at_till == online == wholesale
    assert D(order.json()["total"]) == till_total == D(request.json()["total"])
