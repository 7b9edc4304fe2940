"""Price lists and promotions through the API: who may write them, bad input, tenants, preview."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from sync_server.foundation.models import Change
from tests.factories import Api

HAPPY_HOUR = {"weekdays": [0, 1, 2, 3, 4], "time_from": "17:00:00", "time_to": "19:00:00"}
WEDNESDAY_1730 = "2026-12-02T17:30:00+05:30"


def _preview(api, lines, **ctx):
    body = {"lines": [{"product_id": p, "quantity": q} for p, q in lines], **ctx}
    response = api.post("pricing/preview", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_manager_creates_previews_and_ends_a_buy_two_get_one(world):
    manager = world.api("manager")
    tea, soap, _ = world.a.product_ids  # ₹10.00 each
    created = manager.post(
        "promotions",
        json={
            "name": "Tea 2+1",
            "kind": "buy_x_get_y",
            "product_ids": [tea],
            "buy_qty": 2,
            "get_qty": 1,
        },
    )
    assert created.status_code == 201, created.text
    promo = created.json()
    assert promo["active"] is True and promo["spec"]["kind"] == "buy_x_get_y"

    priced = _preview(manager, [(tea, "3"), (soap, "1")])
    assert priced["total"] == "30.00" and priced["discount"] == "10.00"
    tea_line = priced["lines"][0]
    assert [r["text"] for r in tea_line["reasons"]] == ["Catalog price", "Tea 2+1"]
    assert priced["applied"] == [
        {"promotion_id": promo["id"], "name": "Tea 2+1", "amount": "10.00", "coupon_code": None}
    ]

    ended = manager.post(f"promotions/{promo['id']}/end")
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert _preview(manager, [(tea, "3")])["total"] == "30.00"
    again = manager.post(f"promotions/{promo['id']}/end")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert manager.get("promotions", params={"active": "true"}).json()["total"] == 0

    # The tills learn of it, then of its end, through the change feed.
    with world.sessions()() as session:
        ops = session.execute(
            select(Change.op).where(Change.entity == "promotion").order_by(Change.id)
        ).all()
    assert [op for (op,) in ops] == ["upsert", "delete"]


def test_happy_hour_and_branch_in_the_preview(world):
    admin = world.api("admin")
    tea = world.a.product_ids[0]
    main, west = world.a.branch_ids
    body = {
        "name": "Happy hour",
        "kind": "percent_off",
        "percent": "20",
        "window": {**HAPPY_HOUR, "branch_ids": [main]},
    }
    assert admin.post("promotions", json=body).status_code == 201
    assert _preview(admin, [(tea, "1")], at=WEDNESDAY_1730, branch_id=main)["total"] == "8.00"
    assert _preview(admin, [(tea, "1")], at=WEDNESDAY_1730, branch_id=west)["total"] == "10.00"
    late = "2026-12-02T19:00:00+05:30"
    assert _preview(admin, [(tea, "1")], at=late, branch_id=main)["total"] == "10.00"


def test_a_wholesale_price_list_with_a_quantity_break(world):
    admin = world.api("admin")
    tea = world.a.product_ids[0]
    body = {
        "name": "Wholesale",
        "window": {"customer_groups": ["wholesale"]},
        "items": [
            {"mode": "list_minus", "value": "10"},
            {"mode": "fixed", "value": "7.50", "product_id": tea, "min_quantity": "12"},
        ],
    }
    created = admin.post("price-lists", json=body)
    assert created.status_code == 201, created.text
    group = {"customer_group": "wholesale"}
    assert _preview(admin, [(tea, "2")], **group)["lines"][0]["unit_price"] == "9.00"
    line = _preview(admin, [(tea, "12")], **group)["lines"][0]
    assert line["unit_price"] == "7.50" and line["reasons"][0]["text"] == "Wholesale (12+)"
    assert _preview(admin, [(tea, "12")])["lines"][0]["unit_price"] == "10.00"
    replaced = admin.put(f"price-lists/{created.json()['id']}", json={**body, "name": "Trade"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "Trade"


BAD_PROMOTIONS = [
    ({"name": "x", "kind": "basket_amount", "amount": "5", "max_uses": 1}, "give a coupon_code"),
    ({"name": "x", "kind": "percent_off"}, "needs a percent"),
    ({"name": "x", "kind": "percent_off", "percent": "150"}, "between 0 and 100"),
    ({"name": "x", "kind": "buy_x_get_y", "buy_qty": 2}, "buy_qty and get_qty"),
    ({"name": "x", "kind": "bundle", "bundle_qty": 3}, "bundle_qty"),
    ({"name": "x", "kind": "teleport"}, "kind"),
    ({"name": "x", "kind": "amount_off", "amount": 5.5}, "amount"),
    (
        {
            "name": "x",
            "kind": "percent_off",
            "percent": "5",
            "window": {"valid_from": "2026-01-01T00:00:00"},
        },
        "time zone",
    ),
    (
        {"name": "x", "kind": "percent_off", "percent": "5", "coupon_code": "bad code"},
        "coupon_code",
    ),
]


def test_bad_promotions_are_problems_that_change_nothing(world):
    admin = world.api("admin")
    for body, words in BAD_PROMOTIONS:
        response = admin.post("promotions", json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.text, body
    assert admin.get("promotions").json()["total"] == 0


def test_only_price_writers_write_and_tenants_never_meet(world):
    tea = world.a.product_ids[0]
    body = {"name": "Tea 10%", "kind": "percent_off", "percent": "10", "product_ids": [tea]}
    for role in ("cashier", "viewer", "purchase_admin"):
        assert world.api(role).post("promotions", json=body).status_code == 403, role
    created = world.api("manager").post("promotions", json=body).json()
    stranger = world.api("b_admin")
    assert stranger.get(f"promotions/{created['id']}").status_code == 404
    assert stranger.post(f"promotions/{created['id']}/end").status_code == 404
    assert stranger.get("promotions").json()["total"] == 0
    # Another tenant's product is not something this tenant can discount or preview.
    refused = stranger.post("promotions", json=body)
    assert refused.status_code == 422 and f"no product with id {tea}" in refused.json()["detail"]
    assert (
        stranger.post(
            "pricing/preview", json={"lines": [{"product_id": tea, "quantity": "1"}]}
        ).status_code
        == 422
    )
    # A price-list id is not a promotion.
    assert world.api("manager").get(f"price-lists/{created['id']}").status_code == 404


def test_a_coupon_code_is_live_on_one_promotion_at_a_time(world):
    admin = world.api("admin")
    body = {"name": "Save 5", "kind": "basket_amount", "amount": "5", "coupon_code": "SAVE5"}
    first = admin.post("promotions", json=body)
    assert first.status_code == 201
    assert admin.post("promotions", json=body).status_code == 409
    tea = world.a.product_ids[0]
    assert _preview(admin, [(tea, "2")])["total"] == "20.00"
    assert _preview(admin, [(tea, "2")], coupon_codes=["SAVE5"])["total"] == "15.00"
    admin.post(f"promotions/{first.json()['id']}/end")
    assert admin.post("promotions", json=body).status_code == 201


def test_a_customers_price_group_prices_their_sales_request(world):
    tea = world.a.product_ids[0]
    admin, sales = world.api("admin"), world.api("sales_admin")
    trade = {
        "name": "Trade",
        "window": {"customer_groups": ["trade"]},
        "items": [{"mode": "list_minus", "value": "20"}],
    }
    assert admin.post("price-lists", json=trade).status_code == 201
    hotel = sales.post("customers", json={"name": "Hotel", "price_group": "trade"}).json()
    walk_in = sales.post("customers", json={"name": "Walk-in"}).json()
    assert hotel["price_group"] == "trade" and walk_in["price_group"] is None
    prices = {}
    for customer in (hotel, walk_in):
        body = {
            "customer_id": customer["id"],
            "branch_id": world.a.branch_ids[0],
            "payment_terms": "cash",
            "lines": [{"product_id": tea, "quantity": "2"}],
        }
        answer = sales.post("sales-requests", json=body)
        assert answer.status_code == 201, answer.text
        prices[customer["name"]] = answer.json()["lines"][0]["unit_price"]
    assert prices == {"Hotel": "8.00", "Walk-in": "10.00"}
    # Tills learn each customer's group through the feed, beside the customer.
    with world.sessions()() as session:
        groups = session.execute(
            select(Change.entity_key, Change.data).where(Change.entity == "customer_price_group")
        ).all()
    assert groups == [(str(hotel["id"]), {"price_group": "trade"}), (str(walk_in["id"]), None)]


def test_an_online_order_with_a_single_use_coupon(world):
    from common.codes import MovementCode
    from common.ids import new_id
    from sync_server.db import transaction
    from sync_server.inventory import ledger

    tea = world.a.product_ids[0]
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[0],
            product_id=tea,
            code=MovementCode.RECEIPT,
            quantity=Decimal("10"),
            reference_type="test",
            reference_id=new_id(),
        )
    admin = world.api("admin")
    coupon = {"name": "Take 3", "kind": "basket_amount", "amount": "3", "coupon_code": "TAKE3"}
    assert admin.post("promotions", json={**coupon, "max_uses": 1}).status_code == 201
    key = admin.post("api-keys", json={"name": "web", "scopes": ["orders:write"]}).json()["key"]
    shop = Api(world.client, key)

    def order(number: str, codes: list[str]):
        body = {
            "external_number": number,
            "customer": {"name": "Asha", "email": "asha@example.com"},
            "lines": [{"product_id": tea, "quantity": "2"}],
            "branch_code": "MAIN",
            "coupon_codes": codes,
        }
        return shop.post("orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    first = order("W-1", ["take3"])
    assert first.status_code == 201, first.text
    assert first.json()["total"] == "17.00" and first.json()["lines"][0]["discount"] == "3.00"
    for codes, words in ((["TAKE3"], "already used 1 time"), (["NOPE"], "not valid")):
        refused = order("W-2", codes)
        assert refused.status_code == 409 and words in refused.json()["detail"], refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert order("W-2", []).json()["total"] == "20.00"


def test_a_sales_request_coupon_once_per_customer(world):
    tea = world.a.product_ids[0]
    admin, sales = world.api("admin"), world.api("sales_admin")
    body = {"name": "Trade ₹5", "kind": "basket_amount", "amount": "5", "coupon_code": "TRADE5"}
    assert admin.post("promotions", json={**body, "max_uses_per_customer": 1}).status_code == 201
    hotel = sales.post("customers", json={"name": "Hotel"}).json()["id"]
    cafe = sales.post("customers", json={"name": "Cafe"}).json()["id"]

    def request(customer_id: int):
        return sales.post(
            "sales-requests",
            json={
                "customer_id": customer_id,
                "branch_id": world.a.branch_ids[0],
                "payment_terms": "cash",
                "lines": [{"product_id": tea, "quantity": "3"}],
                "coupon_codes": ["trade5"],
            },
        )

    first = request(hotel)
    assert first.status_code == 201 and first.json()["total"] == "25.00", first.text
    again = request(hotel)
    assert again.status_code == 409 and "by this customer" in again.json()["detail"]
    assert request(cafe).json()["total"] == "25.00"
    assert sales.get("sales-requests").json()["total"] == 2
