"""Loyalty points, on both engines: earned by the business's rules on a sale pushed from a
till, burned online and offline on two tills beyond the balance (one reconciled, one alerted
and dead-lettered), and shown on the customer's points statement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from common.errors import ValidationFailed
from common.loyalty import EarningLine, LoyaltyRules, points_earned, points_for
from common.roles import Role
from pos_client.services import loyalty, queries, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store.db import LocalStore
from pos_client.store.models import Customer
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from tests.server.test_orders import order_body, post, stock, store

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")


def test_points_follow_the_rules_by_category_channel_and_exclusion() -> None:
    rules = LoyaltyRules(
        points_per_100=D("2"),
        category_rates={"7": D("5"), "9": D("0")},
        excluded_skus=frozenset({"TOBACCO"}),
        channels=frozenset({"in_store"}),
    )
    lines = [
        EarningLine(amount=D("149.99"), sku="RICE", category_id=None),  # 2.9998
        EarningLine(amount=D("100"), sku="TEA", category_id=7),  # 5
        EarningLine(amount=D("500"), sku="MILK", category_id=9),  # excluded category
        EarningLine(amount=D("300"), sku="TOBACCO", category_id=None),  # excluded item
    ]
    assert points_earned(lines, rules=rules, channel="in_store") == 7
    assert points_earned(lines, rules=rules, channel="online") == 0
    assert points_for(D("10.10"), rules=LoyaltyRules(point_value=D("0.25"))) == 41


@pytest.fixture
def tills(world, live_server, tmp_path, stock_in):
    admin = world.api("admin")
    for key, value in (
        ("loyalty_points_per_100", "10"),
        ("loyalty_point_value", "1"),
        ("loyalty_excluded_skus", "ADMIN-1"),
    ):
        assert admin.put(f"settings/{key}", json={"value": value}).status_code == 200
    for product in world.a.product_ids:
        stock_in(product_id=product, branch_id=world.a.branch_ids[0], quantity="100")
    made = []
    for name in ("Till A", "Till B"):
        store = LocalStore(tmp_path / f"{name}.db")
        engine = SyncEngine(store, timeout=30, backoff_base=0.05)
        code = admin.post("devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]})
        engine.enrol(server_url=live_server.url, code=code.json()["code"], name=name)
        made.append(engine)
    yield made
    for engine in made:
        engine.stop()
        engine.store.close()


def _cashier(world) -> Cashier:
    return Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )


def _sell(world, till, *, customer_id, lines, pay) -> str:
    store = till.store
    cart = Cart()
    with store.session() as session:
        for sku, quantity in lines:
            cart.add(queries.find_by_codes(session, (sku,)), quantity=D(quantity))
        local_id = session.scalar(
            select(Customer.local_id).where(Customer.server_id == customer_id)
        )
        cart.set_customer(queries.customer_credit(session, local_id))
    with store.transaction() as session:
        shift = queries.current_shift(session) or shifts.open_shift(
            session, cashier=_cashier(world), opening_float=D("0")
        )
        return complete_sale(
            session,
            cart=cart,
            payments=pay(session, cart),
            cashier=_cashier(world),
            shift_id=shift.shift_id,
            shop=SHOP,
        ).receipt_number


def test_points_earned_and_burned_online_and_offline_on_two_tills(
    world, live_server, tills
) -> None:
    till_a, till_b = tills
    made = world.api("admin").post("customers", json={"name": "Meera", "phone": "98450 11111"})
    assert made.status_code == 201, made.text
    customer_id = made.json()["id"]
    assert till_a.sync_once().online and till_b.sync_once().online

    def cash(session, cart):
        due = cart.totals().total
        return [cash_payment(due=due, tendered=due)]

    # 50.00 of ADMIN-0 earns 5 points; ADMIN-1 is excluded.
    _sell(
        world, till_a, customer_id=customer_id, lines=[("ADMIN-0", "5"), ("ADMIN-1", "2")], pay=cash
    )
    assert till_a.sync_once().pending == 0
    statement = world.api("cashier").get(f"customers/{customer_id}/loyalty").json()
    assert (statement["points"], statement["value"]) == (5, "5.00")
    assert [(e["kind"], e["points"]) for e in statement["entries"]] == [("earn", 5)]

    # Both tills see 5 points online, then lose the server.
    for till in tills:
        seen = loyalty.check_online(till, customer_id=customer_id)
        assert seen.points == 5
        with till.store.transaction() as session:
            loyalty.remember(session, seen)
    live_server.stop()

    def with_points(points: str):
        def pay(session, cart):
            due = cart.totals().total
            first = loyalty.loyalty_payment(
                session,
                customer=cart.customer,
                amount=D(points),
                seen=None,
                currency="INR",
            )
            return [first, cash_payment(due=due - first.amount, tendered=due - first.amount)]

        return pay

    with till_a.store.transaction() as session, pytest.raises(ValidationFailed, match="has 5"):
        cart = Cart()
        cart.set_customer(
            queries.customer_credit(
                session,
                session.scalar(select(Customer.local_id).where(Customer.server_id == customer_id)),
            )
        )
        loyalty.loyalty_payment(
            session, customer=cart.customer, amount=D("6"), seen=None, currency="INR"
        )
    _sell(world, till_a, customer_id=customer_id, lines=[("ADMIN-0", "1")], pay=with_points("4"))
    receipt_b = _sell(
        world, till_b, customer_id=customer_id, lines=[("ADMIN-0", "1")], pay=with_points("3")
    )
    live_server.start()
    assert till_a.sync_once().pending == 0
    status = till_b.sync_once()
    assert status.pending == 0 and status.rejected == 0

    statement = world.api("cashier").get(f"customers/{customer_id}/loyalty").json()
    assert statement["points"] == -2
    assert [(e["kind"], e["points"]) for e in statement["entries"]] == [
        ("earn", 5),
        ("burn", -4),
        ("burn", -3),
    ]
    assert statement["entries"][-1]["overdrawn"]
    alerts = world.api("manager").get("alerts").json()["items"]
    assert [a["details"]["receipt_number"] for a in alerts if a["kind"] == "loyalty_overdrawn"] == [
        receipt_b
    ]
    letters = world.api("manager").get("sync/dead-letters", params={"resolved": "false"}).json()
    assert [(x["type"], receipt_b in x["reason"]) for x in letters["items"]] == [
        ("loyalty.overdrawn", True)
    ]
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []
    # Back online the till hears the truth and refuses more points.
    seen = loyalty.check_online(till_a, customer_id=customer_id)
    with till_a.store.transaction() as session, pytest.raises(ValidationFailed, match="has 0"):
        loyalty.loyalty_payment(
            session,
            customer=queries.customer_credit(
                session,
                session.scalar(select(Customer.local_id).where(Customer.server_id == customer_id)),
            ),
            amount=D("1"),
            seen=seen,
            currency="INR",
        )


def test_a_paid_online_order_earns_points_unless_the_channel_is_left_out(world) -> None:
    admin = world.api("admin")
    assert admin.put("settings/loyalty_points_per_100", json={"value": "10"}).status_code == 200
    stock(world, quantity="10")
    shop = store(world)
    placed = post(shop, order_body("W-1", ("ADMIN-0", "3"))).json()  # 30.00 -> 3 points
    paid = shop.post(f"orders/{placed['id']}/payment", json={"amount": placed["total"]})
    assert paid.status_code == 200, paid.text
    customer_id = paid.json()["customer_id"]
    statement = world.api("cashier").get(f"customers/{customer_id}/loyalty").json()
    assert [(e["kind"], e["points"], e["channel"]) for e in statement["entries"]] == [
        ("earn", 3, "online")
    ]
    # Online sales left out of the rules earn nothing.
    assert admin.put("settings/loyalty_channels", json={"value": "in_store"}).status_code == 200
    again = post(shop, order_body("W-2", ("ADMIN-0", "2"))).json()
    paid_again = shop.post(f"orders/{again['id']}/payment", json={"amount": again["total"]})
    assert paid_again.status_code == 200, paid_again.text
    assert world.api("cashier").get(f"customers/{customer_id}/loyalty").json()["points"] == 3
