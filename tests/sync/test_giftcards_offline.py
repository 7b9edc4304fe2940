"""Gift cards across tills over real HTTP, on both engines.

Two tills take the same card offline beyond its balance: both sales land on the server (no
sale is ever lost), the card is booked overdrawn, managers get an alert and a dead letter
that they resolve; then a return goes back as store credit the server issues on push.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from common import giftcards as numbers
from common.errors import ValidationFailed
from common.roles import Role
from pos_client.services import giftcards, queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine, SyncFailed
from pos_client.services.till import Cart, cash_payment
from pos_client.store import documents
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from sync_server.sales.models import Sale as ServerSale

D = Decimal
SHOP = ShopInfo(shop_name="Test Shop")


@pytest.fixture
def tills(world, live_server, tmp_path, stock_in):
    """Two tills enrolled at branch 0 over real HTTP, catalog pulled, a shift open on each."""
    for product in world.a.product_ids:
        stock_in(product_id=product, branch_id=world.a.branch_ids[0], quantity="100")
    made = []
    for name in ("Till A", "Till B"):
        store = LocalStore(tmp_path / f"{name}.db")
        engine = SyncEngine(store, timeout=30, backoff_base=0.05)
        code = world.api("admin").post(
            "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
        )
        engine.enrol(server_url=live_server.url, code=code.json()["code"], name=name)
        assert engine.sync_once().online
        made.append(engine)
    yield made
    for engine in made:
        engine.stop()
        engine.store.close()


def _cashier(world) -> Cashier:
    return Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )


def _sell(world, till: SyncEngine, *, quantity: str, pay) -> tuple[str, Decimal]:
    """Ring up product 0 on a till and pay with what pay(session, due) returns."""
    store = till.store
    cart = Cart()
    with store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-0",)), quantity=D(quantity))
    with store.transaction() as session:
        shift = queries.current_shift(session)
        if shift is None:
            shift = shifts.open_shift(session, cashier=_cashier(world), opening_float=D("0"))
        due = cart.totals().total
        done = complete_sale(
            session,
            cart=cart,
            payments=pay(session, due),
            cashier=_cashier(world),
            shift_id=shift.shift_id,
            shop=SHOP,
        )
    return done.receipt_number, due


def _letters(world) -> list[dict]:
    answer = world.api("manager").get("sync/dead-letters", params={"resolved": "false"})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_two_tills_take_a_card_offline_beyond_its_balance(world, live_server, tills) -> None:
    till_a, till_b = tills
    card = world.api("cashier").post("giftcards", json={"amount": "100.00"}).json()
    number = card["number"]
    # Till A saw the card online (balance 100); till B never did.
    seen = giftcards.check_online(till_a, number=number)
    assert seen.balance == D("100") and seen.offline_limit == D("2000")
    with till_a.store.transaction() as session:
        giftcards.remember(session, seen)

    live_server.stop()
    with pytest.raises(SyncFailed) as gone:
        giftcards.check_online(till_b, number=number)
    assert gone.value.unreachable

    def by_card(session, due):
        return [
            giftcards.gift_card_payment(
                session, number=number, amount=due, seen=None, currency="INR"
            )
        ]

    # Till A knows the balance: more than 100 offline is refused in words.
    with till_a.store.transaction() as session, pytest.raises(ValidationFailed, match="at most"):
        giftcards.gift_card_payment(
            session, number=number, amount=D("110"), seen=None, currency="INR"
        )
    receipt_a, paid_a = _sell(world, till_a, quantity="7", pay=by_card)  # 70.00
    # ...and what it took since counts: only 30.00 is left to it.
    with till_a.store.transaction() as session, pytest.raises(ValidationFailed, match="30.00"):
        giftcards.gift_card_payment(
            session, number=number, amount=D("40"), seen=None, currency="INR"
        )
    # Till B only knows the business's offline limit.
    receipt_b, paid_b = _sell(world, till_b, quantity="6", pay=by_card)  # 60.00
    assert (paid_a, paid_b) == (D("70.00"), D("60.00"))

    live_server.start()
    assert till_a.sync_once().pending == 0
    assert _letters(world) == []
    status_b = till_b.sync_once()
    assert status_b.online and status_b.pending == 0 and status_b.rejected == 0

    # Both sales are on the server: none lost.
    with transaction(world.sessions(), readonly=True) as session:
        receipts = set(session.scalars(select(ServerSale.receipt_number)))
        assert {receipt_a, receipt_b} <= receipts
        assert verify_ledgers(session, tenant_id=world.a.id) == []
    shown = world.api("cashier").post(f"giftcards/{number}/balance", json={}).json()
    assert shown["balance"] == "-30.00"
    entries = world.api("manager").get(f"giftcards/{number}/entries").json()
    assert [e["balance_after"] for e in entries] == ["100.00", "30.00", "-30.00"]

    alerts = world.api("manager").get("alerts").json()["items"]
    overdrawn = [a for a in alerts if a["kind"] == "giftcard_overdrawn"]
    assert len(overdrawn) == 1
    assert "overdrawn by ₹30.00" in overdrawn[0]["details"]["message"]
    assert receipt_b in overdrawn[0]["details"]["message"]

    [letter] = _letters(world)
    assert letter["type"] == "giftcard.overdrawn" and receipt_b in letter["reason"]
    manager = world.api("manager")
    retry = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={"retry": True})
    assert retry.status_code == 409 and "already booked" in retry.json()["detail"]
    done = manager.post(
        f"sync/dead-letters/{letter['id']}/resolve",
        json={"note": "customer paid the 30.00 in cash"},
    )
    assert done.status_code == 200, done.text
    assert _letters(world) == []


def test_offline_limits_set_by_the_server_bound_each_card_and_the_till(
    world, live_server, tills
) -> None:
    till_a, _ = tills
    admin = world.api("admin")
    for key, value in (
        ("giftcard_offline_card_limit", "50"),
        ("giftcard_offline_till_limit", "80"),
    ):
        assert admin.put(f"settings/{key}", json={"value": value}).status_code == 200
    assert till_a.sync_once().online
    cards = [
        world.api("cashier").post("giftcards", json={"amount": "500"}).json()["number"]
        for _ in range(2)
    ]
    live_server.stop()

    def pay_with(number):
        return lambda session, due: [
            giftcards.gift_card_payment(
                session, number=number, amount=due, seen=None, currency="INR"
            )
        ]

    with till_a.store.transaction() as session:
        with pytest.raises(ValidationFailed, match="at most ₹50.00 from card"):
            giftcards.gift_card_payment(
                session, number=cards[0], amount=D("60"), seen=None, currency="INR"
            )
        # A mistyped number never reaches the limits.
        typo = cards[0][:-1] + str((int(cards[0][-1]) + 1) % 10)
        with pytest.raises(ValidationFailed, match="mistyped"):
            giftcards.gift_card_payment(
                session, number=typo, amount=D("1"), seen=None, currency="INR"
            )
    _sell(world, till_a, quantity="5", pay=pay_with(cards[0]))  # 50.00 of the till's 80.00
    with (
        till_a.store.transaction() as session,
        pytest.raises(ValidationFailed, match="₹30.00 more in gift cards"),
    ):
        giftcards.gift_card_payment(
            session, number=cards[1], amount=D("40"), seen=None, currency="INR"
        )
    live_server.start()
    assert till_a.sync_once().pending == 0
    # Synced: the till's allowance is whole again.
    with till_a.store.transaction() as session:
        assert giftcards.gift_card_payment(
            session, number=cards[1], amount=D("40"), seen=None, currency="INR"
        ).amount == D("40")


def test_a_return_goes_back_as_store_credit_and_a_card_sold_at_the_till(
    world, live_server, tills
) -> None:
    till_a, _ = tills
    receipt, paid = _sell(
        world, till_a, quantity="3", pay=lambda s, due: [cash_payment(due=due, tendered=due)]
    )
    credit = giftcards.new_store_credit()
    with till_a.store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=receipt)
        shift = queries.current_shift(session)
        back = returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={sale.lines[0].line_id: D(2)},
            cashier=_cashier(world),
            shift_id=shift.shift_id,
            reason="changed mind",
            shop=SHOP,
            store_credit=credit,
        )
        assert [r.method.value for r in back.refunds] == ["gift_card"]
        sold = giftcards.sell_card(
            session, amount=D("250"), cashier=_cashier(world), shift_id=shift.shift_id
        )
        # The card's cash is in the drawer: the shift expects it.
        assert documents.shift_totals(session, shift_id=shift.shift_id)["cash_in"] == D("250")
    assert till_a.sync_once().pending == 0
    cashier = world.api("cashier")
    store_credit = cashier.post(f"giftcards/{credit}/balance", json={}).json()
    assert store_credit["kind"] == "store_credit" and store_credit["balance"] == "20.00"
    gift = cashier.post(f"giftcards/{sold.number}/balance", json={}).json()
    assert gift["kind"] == "gift_card" and gift["balance"] == "250.00"
    assert numbers.kind_of(credit) == "store_credit"
    # The store credit pays online, within its balance only.
    with till_a.store.transaction() as session:
        seen = giftcards.check_online(till_a, number=credit)
        with pytest.raises(ValidationFailed, match="holds only ₹20.00"):
            giftcards.gift_card_payment(
                session, number=credit, amount=D("25"), seen=seen, currency="INR"
            )


def test_a_voided_gift_card_sale_gives_the_money_back_to_the_card(
    world, live_server, tills
) -> None:
    till_a, _ = tills
    number = world.api("cashier").post("giftcards", json={"amount": "50.00"}).json()["number"]

    # Asked before the sale's transaction: the till's engine reads its own store to call.
    seen = giftcards.check_online(till_a, number=number)

    def by_card(session, due):
        return [
            giftcards.gift_card_payment(
                session, number=number, amount=due, seen=seen, currency="INR"
            )
        ]

    receipt, paid = _sell(world, till_a, quantity="2", pay=by_card)  # 20.00
    assert till_a.sync_once().pending == 0
    assert (
        world.api("cashier").post(f"giftcards/{number}/balance", json={}).json()["balance"]
        == "30.00"
    )
    with till_a.store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=receipt)
        documents.void_sale(session, sale_id=sale.sale_id, reason="wrong customer")
    assert till_a.sync_once().pending == 0
    entries = world.api("manager").get(f"giftcards/{number}/entries").json()
    assert [(e["kind"], e["amount"]) for e in entries] == [
        ("issue", "50.00"),
        ("redeem", "-20.00"),
        ("refund", "20.00"),
    ]
    assert entries[-1]["balance_after"] == "50.00"
