"""The shop's profile is edited through the API, reaches an enrolled till and heads its papers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.roles import Role
from common.tax import gstin_check_char
from pos_client.printing.receipt import layout_report, render_text
from pos_client.services import queries, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store.db import LocalStore

D = Decimal
UNSYNCED = ShopInfo(shop_name="StockPilot Store")
GSTIN = "27AAPFU0939F1Z" + gstin_check_char("27AAPFU0939F1Z")


def _profile(api, branch_id: int) -> None:
    for key, value in {
        "trade_name": "Demo Kirana",
        "legal_name": "Demo Kirana Private Limited",
        "shop_email": "hello@demokirana.in",
        "receipt_header": "Open 8am to 10pm, all days",
    }.items():
        answer = api.put(f"settings/{key}", json={"value": value})
        assert answer.status_code == 200, answer.text
    answer = api.patch(
        f"branches/{branch_id}",
        json={
            "name": "Andheri",
            "address": "12 SV Road, Andheri West",
            "city": "Mumbai",
            "phone": "+91 22 5555 0101",
            "gstin": GSTIN.lower(),
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The state comes from the GSTIN when not given; the GSTIN is kept in capitals.
    assert (body["gstin"], body["state_code"], body["state"]) == (GSTIN, "27", "Maharashtra")


def test_a_wrong_gstin_is_refused_in_words_and_changes_nothing(world):
    api = world.api("admin")
    branch_id = world.a.branch_ids[0]
    wrong = GSTIN[:-1] + ("A" if GSTIN[-1] != "A" else "B")
    answer = api.patch(f"branches/{branch_id}", json={"gstin": wrong})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "check digit" in answer.text
    other_state = api.patch(f"branches/{branch_id}", json={"gstin": GSTIN, "state_code": "29"})
    assert other_state.status_code == 422 and "not in state 29" in other_state.text
    assert api.get(f"branches/{branch_id}").json()["gstin"] == ""
    assert world.api("cashier").put("settings/trade_name", json={"value": "X"}).status_code == 403


@pytest.fixture
def till(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    yield engine
    engine.stop()
    store.close()


def test_an_enrolled_till_prints_the_shop_branch_and_gstin_on_receipts_and_z_reports(
    world, live_server, till
):
    api = world.api("admin")
    branch_id = world.a.branch_ids[0]
    code = api.post("devices/enrolment-codes", json={"branch_id": branch_id})
    till.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert till.sync_once().online
    # Edited after the till enrolled: the change feed carries it.
    _profile(api, branch_id)
    assert till.sync_once().online

    store = till.store
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("100")).shift_id
    cart = Cart()
    with store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-0",)), quantity=D(1))
    with store.transaction() as session:
        done = complete_sale(
            session,
            cart=cart,
            payments=[cash_payment(due=cart.totals().total, tendered=D("100"))],
            cashier=cashier,
            shift_id=shift_id,
            shop=UNSYNCED,
        )
    text = "\n".join(render_text(done.receipt))
    assert "StockPilot Store" not in text
    for words in (
        "Demo Kirana",
        "Andheri",
        "12 SV Road, Andheri West",
        "Mumbai",
        f"GSTIN {GSTIN}",
        "Maharashtra (27)",
        "hello@demokirana.in",
        "Open 8am to 10pm",
    ):
        assert words in text, words

    with store.transaction() as session:
        z = shifts.close_shift(session, cashier=cashier, shift_id=shift_id, counted_cash=D("110"))
    printed = "\n".join(line.text for line in layout_report(z.title, rows=z.rows(), width=42))
    for words in ("Demo Kirana", "Andheri", f"GSTIN {GSTIN}"):
        assert words in printed, words
