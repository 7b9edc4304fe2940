"""Deposits and layaway, on both engines: goods reserved against a deposit at a till, paid in
two parts and handed over; another released on cancellation into store credit; a third
refunded in cash. Stock, reservations, the drawer and the store credit all agree."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from common.roles import Role
from pos_client.services import layaways, queries, shifts
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine, SyncFailed
from pos_client.services.till import Cart
from pos_client.store import documents
from pos_client.store.db import LocalStore
from pos_client.store.models import Customer
from tests.server.test_orders import level, stock

D = Decimal


@pytest.fixture
def till(world, live_server, tmp_path):
    store_ = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store_, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    yield engine
    engine.stop()
    store_.close()


def _cart(till, customer_id: int, quantity: str) -> Cart:
    cart = Cart()
    with till.store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-0",)), quantity=D(quantity))
        local_id = session.scalar(
            select(Customer.local_id).where(Customer.server_id == customer_id)
        )
        cart.set_customer(queries.customer_credit(session, local_id))
    return cart


def test_a_layaway_paid_in_two_parts_and_others_cancelled(world, live_server, till) -> None:
    stock(world, quantity="10")
    customer = world.api("admin").post("customers", json={"name": "Ravi", "phone": "98450 22222"})
    customer_id = customer.json()["id"]
    assert till.sync_once().online
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with till.store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("0")).shift_id
    who = {"cashier": cashier, "shift_id": shift_id}

    # 4 × 10.00 held against a 15.00 deposit.
    first = layaways.start(till, cart=_cart(till, customer_id, "4"), deposit=D("15"), **who)
    assert (first.status, first.total, first.paid, first.due) == ("open", D("40"), D("15"), D("25"))
    assert level(world) == (D("10"), D("4"))
    with pytest.raises(SyncFailed, match="left to pay"):
        layaways.pay(till, layaway_id=first.id, amount=D("30"), **who)
    part = layaways.pay(till, layaway_id=first.id, amount=D("10"), **who)
    assert (part.status, part.due) == ("open", D("15"))
    done = layaways.pay(till, layaway_id=first.id, amount=D("15"), **who)
    assert (done.status, done.due) == ("completed", D("0"))
    assert level(world) == (D("6"), D("0"))  # handed over: the reservation became a sale

    # Cancelled into store credit: the stock comes back, the deposit is on a card.
    second = layaways.start(till, cart=_cart(till, customer_id, "2"), deposit=D("5"), **who)
    assert level(world) == (D("6"), D("2"))
    gone = layaways.cancel(till, layaway_id=second.id, outcome="store_credit", **who)
    assert (gone.status, gone.outcome) == ("cancelled", "store_credit")
    assert level(world) == (D("6"), D("0"))
    credit = world.api("cashier").post(f"giftcards/{gone.credit_number}/balance", json={})
    assert credit.json()["kind"] == "store_credit" and credit.json()["balance"] == "5.00"

    # Cancelled with the deposit given back in cash.
    third = layaways.start(till, cart=_cart(till, customer_id, "1"), deposit=D("3"), **who)
    back = layaways.cancel(till, layaway_id=third.id, outcome="refunded", **who)
    assert back.outcome == "refunded" and level(world) == (D("6"), D("0"))
    with till.store.transaction() as session:
        totals = documents.shift_totals(session, shift_id=shift_id)
    assert (totals["cash_in"], totals["cash_out"]) == (D("48"), D("3"))

    # Bad input: a deposit of the whole amount, more than in stock, closed layaways.
    with pytest.raises(SyncFailed, match="less than the total"):
        layaways.start(till, cart=_cart(till, customer_id, "1"), deposit=D("10"), **who)
    with pytest.raises(SyncFailed, match="Not enough stock"):
        layaways.start(till, cart=_cart(till, customer_id, "7"), deposit=D("1"), **who)
    with pytest.raises(SyncFailed, match="completed"):
        layaways.cancel(till, layaway_id=first.id, outcome="kept", **who)
    assert level(world) == (D("6"), D("0"))
