"""A single-use coupon redeemed offline on two tills: both sales kept, one use a dead letter."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from common.barcodes import make_ean13
from common.errors import ValidationFailed
from common.roles import Role
from pos_client.services import queries, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.pricing import till_pricing
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.pricing.models import CouponRedemption
from sync_server.sales.models import Sale as ServerSale

D = Decimal


def _sell_with_coupon(world, till: SyncEngine, code: str) -> Cart:
    """Ring up two of product 0 with the coupon and complete the sale, offline."""
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with till.store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("100")).shift_id
    cart = Cart()
    with till.store.session() as session:
        cart.pricing = till_pricing(session)
        barcode = make_ean13(f"{4000000000 + world.a.id * 100:012d}")
        cart.add(queries.find_by_codes(session, (barcode,)), quantity=D("2"))
    cart.add_coupon(code.lower())  # as typed
    total = cart.totals().total
    with till.store.transaction() as session:
        complete_sale(
            session,
            cart=cart,
            payments=[cash_payment(due=total, tendered=total)],
            cashier=cashier,
            shift_id=shift_id,
            shop=ShopInfo(shop_name="Shop"),
        )
    return cart


def test_a_single_use_coupon_used_offline_on_two_tills(world, live_server, tmp_path):
    admin = world.api("admin")
    promo = admin.post(
        "promotions",
        json={
            "name": "Welcome ₹5",
            "kind": "basket_amount",
            "amount": "5",
            "coupon_code": "WELCOME5",
            "max_uses": 1,
            "offline_uses_per_till": 1,
        },
    )
    assert promo.status_code == 201, promo.text
    tills = []
    for name in ("Front", "Back"):
        engine = SyncEngine(LocalStore(tmp_path / f"{name}.db"), timeout=30)
        code = admin.post("devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]})
        engine.enrol(server_url=live_server.url, code=code.json()["code"], name=name)
        engine.sync_once()
        tills.append(engine)
    try:
        live_server.stop()
        carts = [_sell_with_coupon(world, till, "WELCOME5") for till in tills]
        assert [c.totals().total for c in carts] == [D("15.00"), D("15.00")]
        assert [c.used_coupons() for c in carts] == [["WELCOME5"], ["WELCOME5"]]
        # Each till may redeem it once offline: a second try on the same till is refused.
        with tills[0].store.session() as session:
            again = Cart()
            again.pricing = till_pricing(session)
        try:
            again.add_coupon("WELCOME5")
            raise AssertionError("a used-up coupon was accepted")
        except ValidationFailed as exc:
            assert "used up at this till" in exc.detail
        live_server.start()
        for till in tills:
            status = till.sync_once()
            assert status.pending == 0 and status.rejected == 0  # both sales are facts

        with transaction(world.sessions(), readonly=True) as session:
            assert len(session.scalars(select(ServerSale)).all()) == 2
            uses = session.scalars(select(CouponRedemption).order_by(CouponRedemption.id)).all()
        assert [(u.code, u.within_limit) for u in uses] == [("WELCOME5", True), ("WELCOME5", False)]

        manager = world.api("manager")
        letters = manager.get("sync/dead-letters", params={"resolved": "false"}).json()["items"]
        assert [x["type"] for x in letters] == ["coupon.over_limit"]
        assert "WELCOME5" in letters[0]["reason"] and "was kept" in letters[0]["reason"]
        url = f"sync/dead-letters/{letters[0]['id']}/resolve"
        refused = manager.post(url, json={"retry": True, "note": "x"})
        assert refused.status_code == 409  # the sale is recorded; retrying would double it
        done = manager.post(url, json={"retry": False, "note": "accepted the loss"})
        assert done.status_code == 200, done.text
        with transaction(world.sessions(), readonly=True) as session:
            assert len(session.scalars(select(ServerSale)).all()) == 2
    finally:
        for till in tills:
            till.stop()
            till.store.close()
