"""Online orders through the store API: idempotent placing with reservation, bad input,
lifecycle, cancellation, expiry, returns, catalog with ETag, listing, picking lists."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from common.codes import MovementCode
from common.ids import new_id
from sync_server.audit.models import AuditEntry
from sync_server.db import make_sessionmaker, transaction, utcnow
from sync_server.inventory import ledger
from sync_server.inventory.models import StockMovement
from sync_server.notifications.models import Notification
from sync_server.orders.expiry import expire_due
from sync_server.orders.models import IdempotencyRecord, Order
from sync_server.partners.models import Customer
from tests.factories import Api


def stock(world, *, product: int = 0, quantity: str = "10", branch: int = 0) -> None:
    """Receive stock of one of tenant A's products into one of its branches."""
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[branch],
            product_id=world.a.product_ids[product],
            code=MovementCode.RECEIPT,
            quantity=Decimal(quantity),
            reference_type="test",
            reference_id=new_id(),
        )


def level(world, *, product: int = 0, branch: int = 0) -> tuple[Decimal, Decimal]:
    """Return (on_hand, reserved) of a product in a branch."""
    with transaction(world.sessions(), readonly=True) as session:
        row = ledger.level(
            session,
            tenant_id=world.a.id,
            branch_id=world.a.branch_ids[branch],
            product_id=world.a.product_ids[product],
        )
        return row.on_hand, row.reserved


def store(world, scopes=("orders:write", "catalog:read"), **extra) -> Api:
    """Return a client that calls as an online store with a fresh API key."""
    response = world.api("admin").post(
        "api-keys", json={"name": "web", "scopes": list(scopes), **extra}
    )
    assert response.status_code == 201, response.text
    return Api(world.client, response.json()["key"])


def order_body(number: str = "W-1", *lines: tuple[str, str], **extra) -> dict:
    return {
        "external_number": number,
        "customer": {"name": "Asha Rao", "email": "asha@example.com", "phone": "+91 98450 00001"},
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in (lines or [("ADMIN-0", "2")])],
        "branch_code": "MAIN",
        **extra,
    }


def post(api: Api, body, key: str | None = None, **kwargs):
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return api.post("orders", json=body, headers=headers, **kwargs)


def counts(world) -> dict[str, int]:
    with transaction(world.sessions(), readonly=True) as session:
        return {
            name: session.scalar(select(func.count()).select_from(model))
            for name, model in (
                ("orders", Order),
                ("movements", StockMovement),
                ("audit", AuditEntry),
                ("customers", Customer),
                ("notifications", Notification),
            )
        }


def test_order_reserves_stock_and_a_replay_returns_the_same_answer(world):
    stock(world, quantity="5")
    shop = store(world)
    first = post(shop, order_body(), key="k-1")
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["status"] == "pending_payment" and order["total"] == "20.00"
    assert order["lines"][0]["sku"] == "ADMIN-0" and order["lines"][0]["quantity"] == "2"
    assert order["reserved_until"] is not None
    assert level(world) == (Decimal("5"), Decimal("2"))
    before = counts(world)
    again = post(shop, order_body(), key="k-1")
    assert again.status_code == 201 and again.json() == order
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(world) == before and level(world) == (Decimal("5"), Decimal("2"))
    # The same key with another body is a client mistake, never a second order.
    changed = post(shop, order_body("W-1", ("ADMIN-0", "3")), key="k-1")
    assert changed.status_code == 422 and "different request" in changed.json()["detail"]
    assert counts(world) == before
    # The store reads the order back, and the customer got a notification row queued.
    assert shop.get(f"orders/{order['id']}").json()["status"] == "pending_payment"


def test_bad_input_gets_a_clear_4xx_and_reserves_nothing(world, api, client):
    stock(world, quantity="10")
    shop = store(world)
    readonly = store(world, scopes=("orders:read", "catalog:read"))
    revoked_response = api.post("api-keys", json={"name": "old", "scopes": ["orders:write"]})
    api.post(f"api-keys/{revoked_response.json()['id']}/revoke")
    revoked = Api(client, revoked_response.json()["key"])
    before = counts(world)
    cases = [
        (shop.post("orders", json=order_body()), 400, "Idempotency-Key"),
        (post(shop, order_body("B1", ("NOPE-9", "1"))), 422, "unknown NOPE-9"),
        (post(shop, order_body("B2", ("ADMIN-0", "0"))), 422, "greater than 0"),
        (post(shop, order_body("B3", ("ADMIN-0", "-1"))), 422, "greater than 0"),
        (post(shop, order_body("B4", ("ADMIN-0", "1.5"))), 422, "whole units"),
        (post(shop, order_body("B5", ("ADMIN-0", "1.0001"))), 422, "decimal places"),
        (post(shop, order_body("B6", branch_code="NOWHERE")), 422, "fulfilment branch"),
        (post(shop, {**order_body("B7"), "lines": []}), 422, "lines"),
        (post(shop, {**order_body("B8"), "surprise": 1}), 422, "surprise"),
        (post(shop, {**order_body("B9"), "customer": {"name": "No Contact"}}), 422, "email"),
        (
            shop.post(
                "orders",
                content=b'{"external_number": "B10", "lines": [',
                headers={"Idempotency-Key": "m", "Content-Type": "application/json"},
            ),
            400,
            "not valid JSON",
        ),
        (
            shop.post(
                "orders",
                content=b"{" + b" " * 1_100_000 + b"}",
                headers={"Idempotency-Key": "huge", "Content-Type": "application/json"},
            ),
            413,
            "larger than",
        ),
        (post(readonly, order_body("B11")), 403, "orders.write"),
        (post(revoked, order_body("B12")), 401, "revoked"),
        (post(Api(client, None), order_body("B13")), 401, "Log in"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (status, words, response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.json()["detail"], response.json()
    after = counts(world)
    assert after["orders"] == 0 and after["movements"] == before["movements"]
    assert level(world) == (Decimal("10"), Decimal("0"))


def test_lifecycle_from_payment_to_delivery_then_a_return(world):
    from sync_server.notifications import service as notifications

    stock(world, quantity="10")
    shop = store(world)
    with transaction(world.sessions()) as session:
        for event in ("order.*", "stock.available"):
            notifications.create_rule(
                session,
                actor=world.principal("admin").actor,
                event=event,
                channel="webhook",
                address="https://shop.example/hooks",
                secret="webhook-signing-secret",
            )
    order = post(shop, order_body("L-1", ("ADMIN-0", "3"))).json()
    oid = order["id"]
    wrong = shop.post(f"orders/{oid}/payment", json={"amount": "1.00"})
    assert wrong.status_code == 422 and level(world) == (Decimal("10"), Decimal("3"))
    assert shop.post(f"orders/{oid}/packed").status_code == 409
    paid = shop.post(f"orders/{oid}/payment", json={"amount": "30.00", "reference": "pay_1"})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "confirmed" and paid.json()["reserved_until"] is None
    assert level(world) == (Decimal("7"), Decimal("0"))
    assert shop.post(f"orders/{oid}/payment", json={"amount": "30.00"}).status_code == 409
    for step in ("picking", "packed"):
        assert shop.post(f"orders/{oid}/{step}").json()["status"] == step
    shipped = shop.post(
        f"orders/{oid}/shipment", json={"carrier": "BlueDart", "tracking_number": "BD123"}
    ).json()
    assert (shipped["status"], shipped["carrier"], shipped["tracking_number"]) == (
        "shipped",
        "BlueDart",
        "BD123",
    )
    assert shop.post(f"orders/{oid}/delivered").json()["status"] == "delivered"
    assert shop.post(f"orders/{oid}/cancel", json={}).status_code == 409
    line_id = order["lines"][0]["id"]
    too_many = shop.post(
        f"orders/{oid}/returns", json={"lines": [{"line_id": line_id, "quantity": "4"}]}
    )
    assert too_many.status_code == 422
    ret = shop.post(
        f"orders/{oid}/returns",
        json={"lines": [{"line_id": line_id, "quantity": "3"}], "reason": "wrong size"},
    )
    assert ret.status_code == 201, ret.text
    rid = ret.json()["id"]
    unbalanced = shop.post(
        f"orders/{oid}/returns/{rid}/receive",
        json={"lines": [{"line_id": line_id, "restock_quantity": "1"}], "refund_amount": "10"},
    )
    assert unbalanced.status_code == 422 and level(world) == (Decimal("7"), Decimal("0"))
    received = shop.post(
        f"orders/{oid}/returns/{rid}/receive",
        json={
            "lines": [
                {
                    "line_id": line_id,
                    "restock_quantity": "2",
                    "write_off_quantity": "1",
                    "write_off_reason": "damage",
                }
            ],
            "refund_amount": "30.00",
        },
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"
    assert received.json()["lines"][0]["written_off_quantity"] == "1"
    # Two resellable units are back on the shelf; the damaged one came in and left again.
    assert level(world) == (Decimal("9"), Decimal("0"))
    final = shop.get(f"orders/{oid}").json()
    assert final["refunded_amount"] == "30.00" and final["returns"][0]["refund_amount"] == "30.00"
    assert (
        shop.post(
            f"orders/{oid}/returns", json={"lines": [{"line_id": line_id, "quantity": "1"}]}
        ).status_code
        == 422
    )
    with transaction(world.sessions(), readonly=True) as session:
        codes = session.scalars(select(StockMovement.code).order_by(StockMovement.id)).all()
        assert codes == ["receipt", "reservation", "commit", "return", "adjustment"]
        events = set(
            session.scalars(
                select(Notification.event).where(Notification.channel == "webhook")
            ).all()
        )
        available = session.scalars(
            select(Notification.payload)
            .where(Notification.event == "stock.available")
            .order_by(Notification.id)
        ).all()
        emails = session.scalars(
            select(Notification.subject).where(Notification.recipient == "asha@example.com")
        ).all()
    assert {"order.confirmed", "order.shipped", "order.refunded", "stock.available"} <= events
    assert any("on its way" in subject for subject in emails)
    # The store hears availability on reservation (10 - 3) and on the restock (7 + 2).
    assert [p["available"] for p in available] == ["7", "9"]


def test_store_catalog_shows_availability_per_branch_with_etag(world):
    stock(world, product=0, quantity="7", branch=0)
    stock(world, product=0, quantity="2", branch=1)
    shop = store(world)
    first = shop.get("catalog", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert page["total"] == 3 and len(page["items"]) == 2
    item = page["items"][0]
    assert item["sku"] == "ADMIN-0" and item["price"] == "10.00"
    assert {a["branch_code"]: a["available"] for a in item["availability"]} == {
        "MAIN": "7",
        "WEST": "2",
    }
    etag = first.headers["ETag"]
    unchanged = shop.get("catalog", params={"limit": 2}, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    post(shop, order_body("E-4", ("ADMIN-0", "3")))
    changed = shop.get("catalog", params={"limit": 2}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    one_branch = shop.get("catalog", params={"branch_code": "MAIN"}).json()["items"][0]
    assert one_branch["availability"] == [
        {"branch_id": world.a.branch_ids[0], "branch_code": "MAIN", "available": "4"}
    ]
    assert shop.get("catalog", params={"branch_code": "NOPE"}).status_code == 422
    # A key bound to one branch sees only that branch and can order only from it.
    west = store(world, branch_ids=[world.a.branch_ids[1]])
    west_item = west.get("catalog").json()["items"][0]
    assert [a["branch_code"] for a in west_item["availability"]] == ["WEST"]
    assert post(west, order_body("E-5", ("ADMIN-0", "1"))).status_code == 403
    assert post(west, order_body("E-6", ("ADMIN-0", "1"), branch_code=None)).status_code == 201


def test_short_stock_is_a_409_per_line_and_replaying_the_scenario_changes_nothing(world):
    stock(world, product=0, quantity="3")
    stock(world, product=1, quantity="1")
    shop = store(world)
    requests = [
        ("r1", order_body("S-1", ("ADMIN-0", "2"))),
        ("r2", order_body("S-2", ("ADMIN-0", "2"), ("ADMIN-1", "3"), ("ADMIN-2", "1"))),
        ("r3", order_body("S-3", ("ADMIN-0", "1"))),
        ("r4", order_body("S-4", ("NOPE", "1"))),
        ("r5", order_body("S-5", ("ADMIN-0", "1"))),
    ]
    answers = [post(shop, body, key=key) for key, body in requests]
    assert [a.status_code for a in answers] == [201, 409, 201, 422, 409]
    refused = answers[1]
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/insufficient-stock")
    short = {
        line["sku"]: (line["requested"], line["available"]) for line in refused.json()["lines"]
    }
    assert short == {"ADMIN-0": ("2", "1"), "ADMIN-1": ("3", "1"), "ADMIN-2": ("1", "0")}
    assert level(world, product=0) == (Decimal("3"), Decimal("3"))
    assert level(world, product=1) == (Decimal("1"), Decimal("0"))
    with transaction(world.sessions(), readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 5
    # Stock arrives; still, a replay must not turn an old refusal into an order.
    stock(world, product=0, quantity="10")
    stock(world, product=1, quantity="10")
    snapshot = counts(world), level(world, product=0), level(world, product=1)
    replays = [post(shop, body, key=key) for key, body in requests]
    for original, replay in zip(answers, replays, strict=True):
        assert (replay.status_code, replay.json()) == (original.status_code, original.json())
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert (counts(world), level(world, product=0), level(world, product=1)) == snapshot
    # A new key is a new attempt, and now there is stock for it.
    stock(world, product=2, quantity="1")
    assert post(shop, requests[1][1], key="r2-again").status_code == 201


def test_cancel_releases_or_returns_stock_and_unpaid_orders_expire(
    world, engine, settings, monkeypatch, capsys
):
    from sync_server.cli import main as cli_main

    stock(world, quantity="10")
    shop = store(world)
    pending = post(shop, order_body("C-1", ("ADMIN-0", "4"))).json()
    assert level(world) == (Decimal("10"), Decimal("4"))
    cancelled = shop.post(f"orders/{pending['id']}/cancel", json={"reason": "changed mind"})
    assert cancelled.json()["status"] == "cancelled"
    assert level(world) == (Decimal("10"), Decimal("0"))
    paid = post(shop, order_body("C-2", ("ADMIN-0", "4"))).json()
    shop.post(f"orders/{paid['id']}/payment", json={"amount": "40.00"})
    assert level(world) == (Decimal("6"), Decimal("0"))
    back = shop.post(f"orders/{paid['id']}/cancel", json={}).json()
    assert back["status"] == "cancelled" and back["refunded_amount"] == "40.00"
    assert level(world) == (Decimal("10"), Decimal("0"))
    assert shop.post(f"orders/{paid['id']}/cancel", json={}).status_code == 409

    due = post(shop, order_body("E-1", ("ADMIN-0", "3"))).json()
    kept = post(shop, order_body("E-2", ("ADMIN-0", "2"))).json()
    shop.post(f"orders/{kept['id']}/payment", json={"amount": "20.00"})
    factory = make_sessionmaker(engine)
    assert expire_due(factory, utcnow()) == 0
    assert level(world) == (Decimal("8"), Decimal("3"))
    # order_reservation_minutes is 30 by default.
    assert expire_due(factory, utcnow() + timedelta(minutes=31)) == 1
    assert level(world) == (Decimal("8"), Decimal("0"))
    assert shop.get(f"orders/{due['id']}").json()["status"] == "expired"
    assert shop.get(f"orders/{kept['id']}").json()["status"] == "confirmed"
    late = shop.post(f"orders/{due['id']}/payment", json={"amount": "30.00"})
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    assert expire_due(factory, utcnow() + timedelta(minutes=31)) == 0

    # The same chore from the command line, for a deployment without an in-process worker.
    late_order = post(shop, order_body("E-3", ("ADMIN-0", "3"))).json()
    with transaction(world.sessions()) as session:
        session.get(Order, late_order["id"]).reserved_until = utcnow() - timedelta(seconds=1)
    monkeypatch.setenv("STOCKPILOT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STOCKPILOT_DATA_DIR", str(settings.data_dir))
    assert cli_main(["orders", "expire"]) == 0
    assert "Expired 1 unpaid order" in capsys.readouterr().out
    assert level(world) == (Decimal("8"), Decimal("0"))

    # And the notification worker does it on its own rounds.
    from sync_server.notifications.dispatcher import run_forever

    worker_order = post(shop, order_body("E-4", ("ADMIN-0", "2"))).json()
    with transaction(world.sessions()) as session:
        session.get(Order, worker_order["id"]).reserved_until = utcnow() - timedelta(seconds=1)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever,
        kwargs={"factory": factory, "settings": settings, "stop": stop, "interval": 0.05},
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while shop.get(f"orders/{worker_order['id']}").json()["status"] != "expired":
            assert time.monotonic() < deadline, "the worker did not expire the order"
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert level(world) == (Decimal("8"), Decimal("0"))


def test_orders_are_listed_with_filters_customers_matched_and_tenants_kept_apart(world):
    stock(world, quantity="10")
    shop = store(world)
    first = post(shop, order_body("F-1", ("ADMIN-0", "1"))).json()
    ben = {"name": "Ben", "phone": "555-1"}
    second = post(shop, {**order_body("F-2", ("ADMIN-0", "1")), "customer": ben}).json()
    shop.post(f"orders/{second['id']}/payment", json={"amount": "10.00"})
    listed = shop.get("orders").json()
    assert listed["total"] == 2
    assert [o["id"] for o in listed["items"]] == [second["id"], first["id"]]
    confirmed = shop.get("orders", params={"status": "confirmed"}).json()["items"]
    assert [o["id"] for o in confirmed] == [second["id"]]
    by_customer = shop.get("orders", params={"customer_id": first["customer_id"]}).json()
    assert [o["id"] for o in by_customer["items"]] == [first["id"]]
    assert shop.get("orders", params={"channel": "in_store"}).json()["total"] == 0
    tomorrow = (utcnow() + timedelta(days=1)).isoformat()
    assert shop.get("orders", params={"created_from": tomorrow}).json()["total"] == 0
    assert shop.get("orders", params={"created_to": tomorrow}).json()["total"] == 2
    assert world.api("sales_admin").get(f"orders/{first['id']}").status_code == 200
    stranger = world.api("b_admin")
    assert stranger.get(f"orders/{first['id']}").status_code == 404
    assert stranger.get("orders").json()["total"] == 0
    assert stranger.post(f"orders/{first['id']}/cancel", json={}).status_code == 404

    # Inline customers are matched by e-mail (any case), then phone, or named by id.
    upper = {"name": "Asha R", "email": "ASHA@example.com"}
    by_phone = {"name": "Asha", "phone": "+91 98450 00001"}
    by_id = {"id": first["customer_id"]}
    same = [
        post(shop, {**order_body(f"M-{i}", ("ADMIN-0", "1")), "customer": who}).json()
        for i, who in enumerate((upper, by_phone, by_id))
    ]
    assert {o["customer_id"] for o in same} == {first["customer_id"]}
    assert second["customer_id"] != first["customer_id"]
    assert post(shop, {**order_body("M-9"), "customer": {"id": 999999}}).status_code == 422
    duplicate = post(shop, order_body("F-1", ("ADMIN-0", "1")))
    assert duplicate.status_code == 409 and duplicate.json()["order_id"] == first["id"]


def test_picking_list_as_json_and_pdf(world):
    stock(world, product=0, quantity="10")
    stock(world, product=1, quantity="10")
    shop = store(world, scopes=("orders:write",))
    one = post(shop, order_body("P-1", ("ADMIN-0", "2"), ("ADMIN-1", "1"))).json()
    two = post(shop, order_body("P-2", ("ADMIN-0", "3"))).json()
    post(shop, order_body("P-3", ("ADMIN-1", "4")))  # unpaid: nothing to pick yet
    shop.post(f"orders/{one['id']}/payment", json={"amount": "30.00"})
    shop.post(f"orders/{two['id']}/payment", json={"amount": "30.00"})
    main = world.a.branch_ids[0]
    listing = world.api("manager").get(f"picking-lists/{main}").json()
    assert listing["order_ids"] == [one["id"], two["id"]]
    assert {i["sku"]: i["quantity"] for i in listing["items"]} == {"ADMIN-0": "5", "ADMIN-1": "1"}
    assert len(listing["lines"]) == 3
    pdf = shop.get(f"picking-lists/{main}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    assert world.api("b_admin").get(f"picking-lists/{main}").status_code == 404
