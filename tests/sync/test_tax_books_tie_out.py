"""Tax books tie out: a seeded mix of till sales (discounts, split tender, B2B across states,
a legacy one-rate product), returns, a void, online orders (one cancelled, one returned in
part) and wholesale invoices, on one server; the tax summary, the GSTR-1 export and the
sales summary all equal the sum of the documents' own line taxes."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.roles import Role
from common.tax import LineTax, document_totals, gstin_check_char
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, Override, card_payment, cash_payment
from pos_client.store import documents
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.orders.models import Order, OrderLine, OrderReturn, OrderReturnLine
from sync_server.sales.models import ReturnLine, Sale, SaleLine
from sync_server.wholesale.models import SalesRequest, SalesRequestLine
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
        (p[0], {"tax_class_id": classes["5"], "hsn": "1006", "price": "3.78"}),
        (p[1], {"tax_class_id": classes["18"], "hsn": "3401", "price": "49.99"}),
        (p[2], {"tax_rate": "12", "price": "10.00"}),  # a product still on a plain rate
    ):
        assert api.patch(f"products/{product_id}", json=body).is_success
        stock_in(product_id=product_id, branch_id=branch_id, quantity="1000")
    customer = api.post(
        "customers", json={"name": "Mysore Foods", "tax_number": BUYER, "credit_limit": "100000"}
    )
    assert customer.status_code == 201
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = api.post("devices/enrolment-codes", json={"branch_id": branch_id})
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine, customer.json()["id"]
    engine.stop()
    store.close()


def _till_month(world, store, rng: random.Random) -> None:
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("500")).shift_id
    sold: list[str] = []
    for n in range(14):
        cart = Cart(max_discount_percent=D(100))
        with store.session() as session:
            for sku in rng.sample(["ADMIN-0", "ADMIN-1", "ADMIN-2"], k=rng.randint(1, 3)):
                line = cart.add(
                    queries.find_by_codes(session, (sku,)), quantity=D(rng.randint(1, 7))
                )
                if rng.random() < 0.3:
                    cart.set_line_discount(line.line_id, percent=D(rng.choice([5, 10])))
            if n % 4 == 1:
                (buyer,) = queries.find_customers(session, "Mysore")
                cart.set_customer(buyer)
        if rng.random() < 0.3:
            cart.set_order_discount(amount=D("1.11"), override=MANAGER)
        due = cart.totals().total
        payments = (
            [
                card_payment(amount=D("10.00"), reference=f"C{n}"),
                cash_payment(due=due - 10, tendered=due),
            ]
            if due > 20 and n % 3 == 0
            else [cash_payment(due=due, tendered=due + D(rng.choice([0, 5, 50])))]
        )
        with store.transaction() as session:
            done = complete_sale(
                session, cart=cart, payments=payments, cashier=cashier, shift_id=shift_id, shop=SHOP
            )
        sold.append(done.receipt_number)
    for number in rng.sample(sold, k=5):
        with store.transaction() as session:
            sale = returns.find_sale(session, receipt_number=number)
            line = rng.choice(sale.lines)
            returns.return_with_receipt(
                session,
                sale_id=sale.sale_id,
                quantities={line.line_id: D(rng.randint(1, int(line.available)))},
                cashier=cashier,
                shift_id=shift_id,
                reason="changed mind",
                shop=SHOP,
            )
    with store.transaction() as session:
        voided = returns.find_sale(session, receipt_number=sold[-1])
        if not any(line.returned for line in voided.lines):
            documents.void_sale(session, sale_id=voided.sale_id, reason="wrong item")


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


def _documents_line_taxes(world) -> tuple[list[LineTax], Decimal]:
    """Return every document line's tax as recorded, and the tax of completed till sales."""
    with transaction(world.sessions(), readonly=True) as session:
        till = [
            (LineTax.from_wire(line.tax_detail), line.tax)
            for line in session.scalars(
                select(SaleLine).join(Sale).where(Sale.status == "completed")
            )
        ]
        back = [LineTax.from_wire(x.tax_detail) for x in session.scalars(select(ReturnLine))]
        online = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(OrderLine).join(Order).where(Order.status == "delivered")
            )
        ]
        online_back = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(OrderReturnLine).join(OrderReturn).where(OrderReturn.status == "received")
            )
        ]
        wholesale = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(SalesRequestLine).join(SalesRequest).where(SalesRequest.status == "approved")
            )
        ]
    assert all(line.tax == recorded for line, recorded in till)
    every = [t for t, _ in till] + back + online + online_back + wholesale
    return every, sum((recorded for _, recorded in till), D(0))


def test_the_tax_books_tie_out_on_both_engines(world, books):
    till, customer_id = books
    _till_month(world, till.store, random.Random(20))
    _online(world)
    _wholesale(world, customer_id)
    assert till.sync_once().online
    lines, till_sales_tax = _documents_line_taxes(world)
    expected = document_totals(lines)
    assert expected.tax > 0
    manager = world.api("manager")

    by_rate = manager.get("reports/tax-summary", params={"by": "rate"}).json()["rows"]
    by_hsn = manager.get("reports/tax-summary", params={"by": "hsn"}).json()["rows"]
    for rows in (by_rate, by_hsn):
        assert sum(D(r["taxable"]) for r in rows) == expected.taxable
        assert sum(D(r["tax"]) for r in rows) == expected.tax
        assert sum(D(r[k]) for r in rows for k in ("cgst", "sgst", "igst", "other")) == expected.tax

    export = json.loads(manager.get("reports/gstr1").text, parse_float=Decimal)
    gst = document_totals(
        [
            LineTax(t.taxable, tuple(c for c in t.components if c.code != "TAX"))
            for t in lines
            if any(c.code != "TAX" for c in t.components)
        ]
    )

    def items(section: str, key: str) -> list[dict]:
        return [
            i["itm_det"] for party in export[section] for doc in party[key] for i in doc["itms"]
        ]

    def total(rows: list[dict], field: str) -> Decimal:
        return sum((D(str(r.get(field, 0))) for r in rows), D(0))

    for field, figure in (("txval", gst.taxable), ("iamt", None), ("camt", None)):
        reported = (
            total(items("b2b", "inv"), field)
            + total(items("b2cl", "inv"), field)
            - total(items("cdnr", "nt"), field)
            + total(export["b2cs"], field)
        )
        assert reported == total(export["hsn"]["data"], field)
        if figure is not None:
            assert reported == figure
    assert (
        sum(total(export["hsn"]["data"], f) for f in ("iamt", "camt", "samt", "csamt")) == gst.tax
    )

    # The sales summary's tax is the sales' own (returns are shown apart, by amount).
    summary = manager.get("reports/sales-summary", params={"group_by": "channel"}).json()
    by_channel = {r["channel"]: D(r["tax"]) for r in summary["rows"]}
    assert by_channel.get("in_store", D(0)) == till_sales_tax
