"""One scenario generator for the books tie-out test: a month of mixed activity on one server.

Purchase receipts at varying cost and a part payment to the supplier; two till shifts (the
first synced as it goes, the second sold offline and synced on reconnection) with discounts,
rice weighed by the kilogram, split tender with change, on-account sales, returns, a void,
cash in and out and a short drawer; online orders (one cancelled, one returned in part);
wholesale invoices (one left waiting for approval); customer payments; a transfer received
short and a count with a loss. The `books` fixture sets up the shop, its tax classes and an
enrolled till; `seed_month` runs the month and returns what only the scenario knows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.money import round_money
from common.roles import Role
from common.tax import gstin_check_char
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import (
    Cart,
    Override,
    account_payment,
    card_payment,
    cash_payment,
)
from pos_client.store import documents
from pos_client.store.db import LocalStore
from sync_server.catalog.models import Product
from sync_server.db import transaction
from tests.factories import Api

D = Decimal
SHOP = ShopInfo(shop_name="Books Shop")
SELLER = "27AAPFU0939F1Z" + gstin_check_char("27AAPFU0939F1Z")
BUYER = "29AAGCB7383J1Z" + gstin_check_char("29AAGCB7383J1Z")
MANAGER = Override(manager_id=1, manager_name="M", action="", detail="")


@pytest.fixture
def books(world, live_server, tmp_path, stock_in):
    api = world.api("admin")
    branch_id = world.a.branch_ids[0]
    assert api.patch(f"branches/{branch_id}", json={"gstin": SELLER}).is_success
    classes = {
        rate: api.post(
            "tax-classes",
            json={"code": f"GST{rate}", "name": f"GST {rate}%", "rates": [{"gst_rate": rate}]},
        ).json()["id"]
        for rate in ("5", "18")
    }
    p = world.a.product_ids
    for product_id, body in (
        # Rice, sold loose by the kilogram.
        (
            p[0],
            {
                "tax_class_id": classes["5"],
                "hsn": "1006",
                "price": "3.78",
                "unit": "kg",
                "cost": "2.20",
            },
        ),
        (p[1], {"tax_class_id": classes["18"], "hsn": "3401", "price": "49.99", "cost": "30.00"}),
        (
            p[2],
            {"tax_rate": "12", "price": "10.00", "cost": "6.50"},
        ),  # a product still on a plain rate
    ):
        assert api.patch(f"products/{product_id}", json=body).is_success
        stock_in(product_id=product_id, branch_id=branch_id, quantity="1000")
    with transaction(world.sessions(), readonly=True) as session:
        costs = {x.id: x.cost for x in session.scalars(select(Product).where(Product.id.in_(p)))}
    customer = api.post(
        "customers", json={"name": "Mysore Foods", "tax_number": BUYER, "credit_limit": "100000"}
    )
    assert customer.status_code == 201
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = api.post("devices/enrolment-codes", json={"branch_id": branch_id})
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine, customer.json()["id"], costs
    engine.stop()
    store.close()


@dataclass
class Month:
    """What the scenario did that only the test knows (the rest is in the stored documents)."""

    z_reports: list[shifts.ZReport] = field(default_factory=list)
    customer_payments: Decimal = D(0)
    supplier_id: int = 0
    vendor_payments: Decimal = D(0)


def _till_shift(
    store, *, cashier: Cashier, rng: random.Random, sales: int, month: Month, buyer_note: str
) -> None:
    """Sell, take back, void and move cash through one shift; close it against a count."""
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("500")).shift_id
    sold: list[str] = []
    for n in range(sales):
        cart = Cart(max_discount_percent=D(100))
        with store.session() as session:
            for sku in rng.sample(["ADMIN-0", "ADMIN-1", "ADMIN-2"], k=rng.randint(1, 3)):
                # ADMIN-0 is rice sold loose by the kilogram: weighed, three decimals.
                quantity = (
                    D(rng.randint(250, 4750)) / 1000 if sku == "ADMIN-0" else D(rng.randint(1, 7))
                )
                line = cart.add(queries.find_by_codes(session, (sku,)), quantity=quantity)
                if rng.random() < 0.3:
                    cart.set_line_discount(line.line_id, percent=D(rng.choice([5, 10])))
            buyer = None
            if n % 4 == 1:
                (buyer,) = queries.find_customers(session, "Mysore")
                cart.set_customer(buyer)
        if rng.random() < 0.3:
            cart.set_order_discount(amount=D("1.11"), override=MANAGER)
        due = cart.totals().total
        if buyer is not None and n % 8 == 1:
            payments = [account_payment(amount=due, credit=buyer)]  # on account
        elif buyer is not None:
            half = round_money(due / 2)
            payments = [
                account_payment(amount=half, credit=buyer),
                cash_payment(due=due - half, tendered=due - half + D(20)),
            ]
        elif due > 20 and n % 3 == 0:  # split tender, change from the cash part
            payments = [
                card_payment(amount=D("10.00"), reference=f"{buyer_note}{n}"),
                cash_payment(due=due - 10, tendered=(due - 10).to_integral_value() + 10),
            ]
        else:
            payments = [cash_payment(due=due, tendered=due + D(rng.choice([0, 5, 50])))]
        with store.transaction() as session:
            done = complete_sale(
                session, cart=cart, payments=payments, cashier=cashier, shift_id=shift_id, shop=SHOP
            )
        sold.append(done.receipt_number)
    for number in rng.sample(sold[:-1], k=sales // 3):
        with store.transaction() as session:
            sale = returns.find_sale(session, receipt_number=number)
            line = rng.choice(sale.lines)
            available = line.available
            quantity = available if available < 1 else D(rng.randint(1, int(available)))
            returns.return_with_receipt(
                session,
                sale_id=sale.sale_id,
                quantities={line.line_id: quantity},
                cashier=cashier,
                shift_id=shift_id,
                reason="changed mind",
                shop=SHOP,
            )
    with store.transaction() as session:
        voided = returns.find_sale(session, receipt_number=sold[-1])
        documents.void_sale(session, sale_id=voided.sale_id, reason="wrong item")
        shifts.move_cash(
            session,
            cashier=cashier,
            shift_id=shift_id,
            direction="out",
            amount=D("120.00"),
            reason="bank deposit",
        )
        shifts.move_cash(
            session,
            cashier=cashier,
            shift_id=shift_id,
            direction="in",
            amount=D("50"),
            reason="float",
        )
    with store.transaction() as session:
        expected = shifts.x_report(session, cashier=cashier, shift_id=shift_id).expected_cash
        # The drawer comes up 2.00 short: the variance must reach the server's report too.
        report = shifts.close_shift(
            session, cashier=cashier, shift_id=shift_id, counted_cash=expected - 2
        )
    month.z_reports.append(report)


def _till_month(world, till: SyncEngine, month: Month, rng: random.Random) -> None:
    """Two shifts: the first synced as it goes, the second with the server out of reach."""
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    _till_shift(till.store, cashier=cashier, rng=rng, sales=14, month=month, buyer_note="A")
    assert till.sync_once().online
    # The network goes: a till pointed at a port nobody answers keeps selling offline.
    offline = SyncEngine(till.store, server_url="http://127.0.0.1:9", timeout=2)
    _till_shift(till.store, cashier=cashier, rng=rng, sales=12, month=month, buyer_note="B")
    status = offline.sync_once()
    assert not status.online and status.pending > 0
    offline.stop()


def _online(world) -> None:
    api = world.api("admin")
    key = api.post("api-keys", json={"name": "web", "scopes": ["orders:write", "catalog:read"]})
    shop = Api(world.client, key.json()["key"])
    orders = []
    for n, quantity in enumerate(("3", "2", "5")):
        order = shop.post(
            "orders",
            json={
                "external_number": f"W-{n}",
                "customer": {"name": "Asha Rao", "email": "asha@example.com"},
                "lines": [
                    {"sku": "ADMIN-0", "quantity": quantity},
                    {"sku": "ADMIN-1", "quantity": "1"},
                ],
                "branch_code": "MAIN",
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert order.status_code == 201, order.text
        orders.append(order.json())
    assert shop.post(f"orders/{orders[1]['id']}/cancel", json={}).status_code == 200
    for order in (orders[0], orders[2]):
        oid = order["id"]
        assert shop.post(f"orders/{oid}/payment", json={"amount": order["total"]}).is_success
        for step in ("picking", "packed"):
            assert shop.post(f"orders/{oid}/{step}").is_success
        shipment = {"carrier": "BlueDart", "tracking_number": f"BD{oid}"}
        assert shop.post(f"orders/{oid}/shipment", json=shipment).is_success
        assert shop.post(f"orders/{oid}/delivered").is_success
    line = orders[2]["lines"][0]
    ret = shop.post(
        f"orders/{orders[2]['id']}/returns",
        json={"lines": [{"line_id": line["id"], "quantity": "2"}]},
    )
    received = shop.post(
        f"orders/{orders[2]['id']}/returns/{ret.json()['id']}/receive",
        json={"lines": [{"line_id": line["id"], "restock_quantity": "2"}], "refund_amount": "7.56"},
    )
    assert received.status_code == 200, received.text


def _wholesale(world, customer_id: int) -> None:
    p = world.a.product_ids
    for quantity in ("11", "4"):
        request = world.api("sales_admin").post(
            "sales-requests",
            json={
                "customer_id": customer_id,
                "branch_id": world.a.branch_ids[0],
                "payment_terms": "account",
                "order_discount_percent": "2.5",
                "lines": [
                    {"product_id": p[0], "quantity": quantity, "discount_percent": "3"},
                    {"product_id": p[2], "quantity": "2", "unit_price": "9.99"},
                ],
            },
        )
        assert request.status_code == 201, request.text
        approved = world.api("manager").post(
            f"sales-requests/{request.json()['id']}/approve", json={}
        )
        assert approved.status_code == 200, approved.text


def _pending_request(world, customer_id: int) -> None:
    """Leave one wholesale request waiting for approval (the dashboard counts it)."""
    request = world.api("sales_admin").post(
        "sales-requests",
        json={
            "customer_id": customer_id,
            "branch_id": world.a.branch_ids[0],
            "payment_terms": "account",
            "lines": [{"product_id": world.a.product_ids[1], "quantity": "1"}],
        },
    )
    assert request.status_code == 201, request.text


def _purchases(world, month: Month) -> None:
    """Buy the same goods twice at different costs, receive in parts, pay part of it."""
    buyer = world.api("purchase_admin")
    supplier = buyer.post("suppliers", json={"name": "Konkan Traders"})
    assert supplier.status_code == 201, supplier.text
    month.supplier_id = supplier.json()["id"]
    p = world.a.product_ids
    for costs in (("2.10", "31.40"), ("2.65", "29.95")):
        po = buyer.post(
            "purchase-orders",
            json={
                "supplier_id": month.supplier_id,
                "branch_id": world.a.branch_ids[0],
                "expected_date": "2026-12-01",
                "lines": [
                    {"product_id": p[0], "quantity": "40", "unit_cost": costs[0], "tax_rate": "5"},
                    {"product_id": p[1], "quantity": "12", "unit_cost": costs[1]},
                ],
            },
        )
        assert po.status_code == 201, po.text
        po_id, lines = po.json()["id"], po.json()["lines"]
        assert buyer.post(f"purchase-orders/{po_id}/submit").status_code == 200
        assert world.api("manager").post(f"purchase-orders/{po_id}/approve").status_code == 200
        first, second = lines
        for body in (
            # The rice comes in at a cost other than ordered; the rest arrives later.
            [{"line_id": first["id"], "quantity": "25", "unit_cost": "2.37"}],
            [
                {"line_id": first["id"], "quantity": "15"},
                {"line_id": second["id"], "quantity": "12"},
            ],
        ):
            received = buyer.post(f"purchase-orders/{po_id}/receipts", json={"lines": body})
            assert received.status_code == 201, received.text
    for amount in ("150.00", "99.99"):
        paid = buyer.post(
            f"suppliers/{month.supplier_id}/payments", json={"amount": amount, "method": "bank"}
        )
        assert paid.status_code == 201, paid.text
        month.vendor_payments += D(amount)


def _stock_work(world) -> None:
    """Send stock to the other branch (received short), and count a shelf with a loss."""
    api = world.api("admin")
    main, west = world.a.branch_ids
    p = world.a.product_ids
    created = api.post(
        "transfers",
        json={
            "source_branch_id": main,
            "destination_branch_id": west,
            "lines": [
                {"product_id": p[0], "quantity": "30"},
                {"product_id": p[1], "quantity": "6"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert api.post(f"transfers/{tid}/dispatch").status_code == 200
    received = api.post(
        f"transfers/{tid}/receive",
        json={
            "lines": [
                {"product_id": p[0], "quantity": "30"},
                {"product_id": p[1], "quantity": "5"},
            ],
            "close": True,
        },
    )
    assert received.status_code == 200, received.text
    level = api.get("stock/levels", params={"branch_id": main, "product_id": p[2]}).json()
    on_hand = D(level["items"][0]["on_hand"])
    count = api.post("counts", json={"branch_id": main})
    assert count.status_code == 201, count.text
    cid = count.json()["id"]
    counted = api.post(
        f"counts/{cid}/lines", json={"product_id": p[2], "quantity": str(on_hand - 3)}
    )
    assert counted.status_code == 200, counted.text
    assert api.post(f"counts/{cid}/post").status_code == 200


def _customer_pays(world, customer_id: int, month: Month) -> None:
    for amount, method in (("300.00", "cash"), ("45.50", "bank")):
        paid = world.api("sales_admin").post(
            f"customers/{customer_id}/payments", json={"amount": amount, "method": method}
        )
        assert paid.status_code == 201, paid.text
        month.customer_payments += D(amount)


def seed_month(world, till: SyncEngine, customer_id: int) -> Month:
    """Seed a month of mixed activity on one server, the till offline for part of it."""
    month = Month()
    _purchases(world, month)
    _till_month(world, till, month, random.Random(20))
    # While the till is offline the server goes on: online orders, wholesale, stock work.
    _online(world)
    _wholesale(world, customer_id)
    _pending_request(world, customer_id)
    _customer_pays(world, customer_id, month)
    back = till.sync_once()  # back online: the offline shift arrives
    assert back.online and back.pending == 0
    _stock_work(world)
    return month
