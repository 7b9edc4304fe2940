"""Gift cards and store credit over the API, on both engines: issue, top up, redeem, PIN, ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from common import giftcards as numbers
from sync_server.db import transaction
from sync_server.giftcards.models import GiftCard
from sync_server.integrity.ledger import verify_ledgers

D = Decimal


def _issue(api, **body):
    response = api.post("giftcards", json={"amount": "100.00", **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_card_is_sold_topped_up_redeemed_and_its_ledger_adds_up(world) -> None:
    cashier = world.api("cashier")
    card = _issue(cashier, reference="sale-of-card-1")
    number = card["number"]
    assert numbers.is_valid(number) and numbers.kind_of(number) == "gift_card"
    assert card["balance"] == "100.00" and card["offline_limit"] == "2000.00"
    assert not card["has_pin"]

    up = cashier.post(f"giftcards/{number}/top-ups", json={"amount": "25.50"})
    assert up.status_code == 201 and up.json()["balance_after"] == "125.50"
    spent = cashier.post(
        f"giftcards/{number}/redemptions", json={"amount": "120", "reference": "pay-1"}
    )
    assert spent.status_code == 201 and spent.json()["balance_after"] == "5.50"
    # The same reference again books nothing twice.
    again = cashier.post(
        f"giftcards/{number}/redemptions", json={"amount": "1", "reference": "pay-1"}
    )
    assert again.status_code == 409

    # Beyond the balance: refused with the balance, nothing booked.
    over = cashier.post(f"giftcards/{number}/redemptions", json={"amount": "6.00"})
    assert over.status_code == 409
    assert over.headers["content-type"].startswith("application/problem+json")
    assert "holds only" in over.json()["detail"] and over.json()["balance"] == "5.5000"
    # Typed with spaces, as printed on the card.
    balance = cashier.post(f"giftcards/{numbers.grouped(number)}/balance", json={})
    assert balance.status_code == 200 and balance.json()["balance"] == "5.50"

    entries = world.api("manager").get(f"giftcards/{number}/entries").json()
    assert [(e["kind"], e["amount"]) for e in entries] == [
        ("issue", "100.00"),
        ("top_up", "25.50"),
        ("redeem", "-120.00"),
    ]
    assert sum(D(e["amount"]) for e in entries) == D("5.50")
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []


def test_a_pin_protects_the_balance_and_redemptions(world) -> None:
    cashier = world.api("cashier")
    number = _issue(cashier, pin="4321")["number"]
    assert cashier.post(f"giftcards/{number}/balance", json={}).status_code == 403
    wrong = cashier.post(f"giftcards/{number}/redemptions", json={"amount": "5", "pin": "1111"})
    assert wrong.status_code == 403 and "PIN" in wrong.json()["detail"]
    ok = cashier.post(f"giftcards/{number}/redemptions", json={"amount": "5", "pin": "4321"})
    assert ok.status_code == 201
    shown = cashier.post(f"giftcards/{number}/balance", json={"pin": "4321"}).json()
    assert shown["has_pin"] and shown["balance"] == "95.00"


def test_bad_input_gets_a_useful_4xx_and_changes_nothing(world) -> None:
    cashier = world.api("cashier")
    number = _issue(cashier)["number"]
    typo = number[:-1] + str((int(number[-1]) + 1) % 10)
    answer = cashier.post(f"giftcards/{typo}/balance", json={})
    assert answer.status_code == 422 and "mistyped" in answer.json()["detail"]
    unknown = numbers.new_number()
    assert cashier.post(f"giftcards/{unknown}/balance", json={}).status_code == 404
    for body in ({"amount": "0"}, {"amount": "-5"}, {"amount": 5.5}, {"amount": "1.001"}):
        refused = cashier.post(f"giftcards/{number}/top-ups", json=body)
        assert refused.status_code == 422, (body, refused.text)
    # A pre-printed number must be ours and unused; store credit numbers start with 7.
    dup = cashier.post("giftcards", json={"amount": "5", "number": number})
    assert dup.status_code == 409 and "already issued" in dup.json()["detail"]
    wrong_kind = cashier.post(
        "giftcards", json={"amount": "5", "number": number, "kind": "store_credit"}
    )
    assert wrong_kind.status_code == 422
    # Viewers read; they do not sell cards. Another business does not see ours.
    assert world.api("viewer").post("giftcards", json={"amount": "5"}).status_code == 403
    assert world.api("b_admin").post(f"giftcards/{number}/balance", json={}).status_code == 404
    balance = cashier.post(f"giftcards/{number}/balance", json={}).json()["balance"]
    assert balance == "100.00"


def test_a_manager_sets_a_cards_offline_limit_and_blocks_it(world) -> None:
    number = _issue(world.api("cashier"))["number"]
    manager = world.api("manager")
    card = manager.patch(f"giftcards/{number}", json={"offline_limit": "50", "status": "blocked"})
    assert card.status_code == 200, card.text
    assert card.json()["offline_limit"] == "50.00" and card.json()["status"] == "blocked"
    assert world.api("cashier").patch(f"giftcards/{number}", json={}).status_code == 403
    refused = world.api("cashier").post(f"giftcards/{number}/redemptions", json={"amount": "1"})
    assert refused.status_code == 409 and "blocked" in refused.json()["detail"]


def test_ledger_verify_names_a_balance_edited_behind_the_servers_back(world) -> None:
    number = _issue(world.api("cashier"))["number"]
    with transaction(world.sessions()) as session:
        session.execute(update(GiftCard).where(GiftCard.number == number).values(balance=D("900")))
    with transaction(world.sessions(), readonly=True) as session:
        found = verify_ledgers(session, tenant_id=world.a.id)
    assert [(d.kind, d.stored, d.ledger) for d in found] == [
        ("gift_card_balance", "900.00", "100.00")
    ]
    assert number in found[0].where
