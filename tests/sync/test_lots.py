"""Lots and expiry through the API and a till's pushes, on both engines.

Lots received with expiry (typed or from a GS1 label), sold first-expiry-first-out unless
the till's label named the lot, expired lots refused for online reservation, transfers
carrying their lots, a recall report naming exactly the lot's customers, and ledger
verification covering lot levels.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from common.ids import new_id
from common.sync.protocol import SaleCompleted, SaleLine, SalePayment
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from tests.factories import Api

TODAY = date.today()


def _gs1(gtin13: str, *, expiry: date, lot: str) -> str:
    return f"]C101{'0' + gtin13}17{expiry:%y%m%d}10{lot}"


def _receive(api: Api, branch_id: int, product_id: int, quantity: str, **lot) -> None:
    line = {"product_id": product_id, "quantity": quantity, "unit_cost": "5.00", **lot}
    answer = api.post("stock/receipts", json={"branch_id": branch_id, "lines": [line]})
    assert answer.status_code == 201, answer.text


def _lots(api: Api, product_id: int, branch_id: int | None = None) -> dict[str, Decimal]:
    params = {"product_id": product_id}
    if branch_id is not None:
        params["branch_id"] = branch_id
    answer = api.get("stock/lots", params=params)
    assert answer.status_code == 200, answer.text
    return {row["lot_number"]: Decimal(row["on_hand"]) for row in answer.json()}


def _sale(
    branch_id: int, product_id: int, quantity: str, *, lot: str | None = None, customer_id=None
) -> SaleCompleted:
    total = Decimal("10.00") * Decimal(quantity)
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=f"R-{uuid.uuid4().hex[:8]}",
        branch_id=branch_id,
        customer_id=customer_id,
        lines=[
            SaleLine(
                line_id=new_id(),
                product_id=product_id,
                sku="X",
                name="Item",
                quantity=Decimal(quantity),
                unit_price=Decimal("10.00"),
                total=total,
                lot=lot,
            )
        ],
        payments=[SalePayment(payment_id=new_id(), method="cash", amount=total)],
        subtotal=total,
        total=total,
    )


def _push(till: Api, device: dict, wrap, *sales: SaleCompleted) -> None:
    events = [wrap(sale, device_id=device["device_id"]) for sale in sales]
    answer = till.post("sync/push", json={"events": events})
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["applied"] * len(sales)


def _barcode(api: Api, product_id: int) -> str:
    return api.get(f"products/{product_id}").json()["barcodes"][0]


def test_lots_received_with_expiry_are_sold_first_expiring_first(world, enrol, wrap):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    _receive(admin, branch, product, "5", lot_number="LATE", expiry=str(TODAY + timedelta(60)))
    # The second lot is read off its GS1 carton label: lot (AI 10) and expiry (AI 17).
    soon = TODAY + timedelta(10)
    _receive(
        admin, branch, product, "5", gs1=_gs1(_barcode(admin, product), expiry=soon, lot="SOON")
    )
    _receive(admin, branch, product, "3")  # no lot: untracked stock
    rows = admin.get("stock/lots", params={"product_id": product}).json()
    assert [(r["lot_number"], r["expiry"]) for r in rows] == [
        ("SOON", soon.isoformat()),
        ("LATE", (TODAY + timedelta(60)).isoformat()),
    ]
    assert not any(r["expired"] for r in rows)

    device, till = enrol()
    _push(till, device, wrap, _sale(branch, product, "7"))
    # FEFO: all 5 of SOON, then 2 of LATE; the 3 untracked pieces wait behind the lots.
    assert _lots(admin, product) == {"LATE": 3}
    # The till's label named a lot: that lot gives the stock, not the first to expire.
    _receive(admin, branch, product, "4", lot_number="SOON")
    _push(till, device, wrap, _sale(branch, product, "2", lot="LATE"))
    assert _lots(admin, product) == {"SOON": 4, "LATE": 1}
    on_hand = Decimal(
        admin.get("stock/levels", params={"product_id": product, "branch_id": branch}).json()[
            "items"
        ][0]["on_hand"]
    )
    assert on_hand == 5 + 5 + 3 - 7 + 4 - 2
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []


def test_bad_lot_input_is_refused_with_nothing_half_written(world):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[1]
    _receive(admin, branch, product, "2", lot_number="L1", expiry=str(TODAY + timedelta(30)))
    clash = admin.post(
        "stock/receipts",
        json={
            "branch_id": branch,
            "lines": [
                {"product_id": product, "quantity": "2", "unit_cost": "5", "lot_number": "L1",
                 "expiry": str(TODAY + timedelta(31))}
            ],
        },
    )  # fmt: skip
    assert clash.status_code == 409 and "expires on" in clash.json()["detail"]
    for lot, why in (
        ({"expiry": str(TODAY)}, "needs the lot number"),
        ({"lot_number": "has space"}, "not valid"),
        ({"gs1": "]C10104012345678901"}, ""),
    ):
        bad = admin.post(
            "stock/receipts",
            json={
                "branch_id": branch,
                "lines": [{"product_id": product, "quantity": "1", "unit_cost": "5", **lot}],
            },
        )
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert why in bad.json()["detail"]
    # Another product's label is refused too.
    other = _barcode(admin, world.a.product_ids[2])
    wrong = admin.post(
        "stock/receipts",
        json={
            "branch_id": branch,
            "lines": [{"product_id": product, "quantity": "1", "unit_cost": "5",
                       "gs1": _gs1(other, expiry=TODAY, lot="X")}],
        },
    )  # fmt: skip
    assert wrong.status_code == 422 and "another product" in wrong.json()["detail"]
    assert _lots(admin, product) == {"L1": 2}
    on_hand = admin.get("stock/levels", params={"product_id": product, "branch_id": branch})
    assert Decimal(on_hand.json()["items"][0]["on_hand"]) == 2


def _store(world) -> Api:
    key = world.api("admin").post(
        "api-keys", json={"name": "web", "scopes": ["orders:write", "catalog:read"]}
    )
    assert key.status_code == 201, key.text
    return Api(world.client, key.json()["key"])


def _order(shop: Api, number: str, sku: str, quantity: str, *, name: str = "Asha Rao"):
    body = {
        "external_number": number,
        "customer": {"name": name, "email": f"{number.lower()}@example.com", "phone": "+91 1"},
        "lines": [{"sku": sku, "quantity": quantity}],
        "branch_code": "MAIN",
    }
    return shop.post("orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})


def test_an_expired_lot_is_never_reserved_for_an_online_order(world):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    sku = admin.get(f"products/{product}").json()["sku"]
    _receive(admin, branch, product, "5", lot_number="OLD", expiry=str(TODAY - timedelta(3)))
    shop = _store(world)
    refused = _order(shop, "W-1", sku, "2")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    [line] = refused.json()["lines"]
    assert (line["requested"], line["available"], line["reason"]) == ("2", "0", "expired")
    assert "expiry" in refused.json()["detail"] or "expired" in refused.json()["detail"]
    levels = admin.get("stock/levels", params={"product_id": product, "branch_id": branch})
    assert Decimal(levels.json()["items"][0]["reserved"]) == 0

    # Fresh stock arrives: the order takes it, never the expired lot.
    _receive(admin, branch, product, "3", lot_number="NEW", expiry=str(TODAY + timedelta(90)))
    placed = _order(shop, "W-2", sku, "2")
    assert placed.status_code == 201, placed.text
    rows = {
        r["lot_number"]: r for r in admin.get("stock/lots", params={"product_id": product}).json()
    }
    assert rows["OLD"]["expired"] and Decimal(rows["OLD"]["reserved"]) == 0
    assert Decimal(rows["NEW"]["reserved"]) == 2
    # Three would need the expired lot: refused, and says how much can be promised.
    more = _order(shop, "W-3", sku, "2")
    assert more.status_code == 409 and more.json()["lines"][0]["available"] == "1"
    # Cancelling gives the reservation back to the lot it came from.
    oid = placed.json()["id"]
    assert shop.post(f"orders/{oid}/cancel", json={}).status_code == 200
    rows = {
        r["lot_number"]: r for r in admin.get("stock/lots", params={"product_id": product}).json()
    }
    assert Decimal(rows["NEW"]["reserved"]) == 0
    expiring = admin.get("reports/lots-expiring", params={"days": 7}).json()
    assert [(r["lot_number"], r["state"]) for r in expiring["rows"]] == [("OLD", "expired")]
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []


def test_a_recall_report_lists_exactly_the_customers_of_a_lot(world, enrol, wrap):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    sku = admin.get(f"products/{product}").json()["sku"]
    _receive(admin, branch, product, "4", lot_number="BAD", expiry=str(TODAY + timedelta(5)))
    _receive(admin, branch, product, "10", lot_number="GOOD", expiry=str(TODAY + timedelta(50)))
    ids = {}
    for name in ("Bina", "Chetan", "Dev"):
        answer = admin.post("customers", json={"name": name, "phone": f"+91 {len(name)}0"})
        assert answer.status_code == 201, answer.text
        ids[name] = answer.json()["id"]
    device, till = enrol()
    _push(
        till,
        device,
        wrap,
        _sale(branch, product, "1", customer_id=ids["Bina"]),  # FEFO: the BAD lot
        _sale(branch, product, "2", lot="GOOD", customer_id=ids["Chetan"]),
        _sale(branch, product, "1", lot="BAD", customer_id=ids["Dev"]),
    )
    shop = _store(world)
    online = _order(shop, "W-9", sku, "1", name="Esha Online")  # FEFO reserves from BAD
    assert online.status_code == 201, online.text
    report = admin.get("reports/lot-trace", params={"product_id": product, "lot_number": "BAD"})
    assert report.status_code == 200, report.text
    rows = report.json()["rows"]
    assert sorted(r["customer"] for r in rows) == ["Bina", "Dev", "Esha Online"]
    by_customer = {r["customer"]: r for r in rows}
    assert Decimal(by_customer["Bina"]["quantity"]) == 1
    assert Decimal(by_customer["Esha Online"]["reserved"]) == 1
    assert by_customer["Esha Online"]["kind"] == "Online order"

    exported = admin.get(
        "reports/lot-trace", params={"product_id": product, "lot_number": "BAD", "format": "csv"}
    )
    assert exported.status_code == 200 and "csv" in exported.headers["content-type"]
    text_rows = list(csv.reader(io.StringIO(exported.text)))
    names = {cell for row in text_rows for cell in row}
    assert {"Bina", "Dev", "Esha Online"} <= names and "Chetan" not in names

    missing = admin.get("reports/lot-trace", params={"product_id": product, "lot_number": "NOPE"})
    assert missing.status_code == 404


def test_a_transfer_carries_its_lots_to_the_other_branch(world):
    admin = world.api("admin")
    main, west = world.a.branch_ids
    product = world.a.product_ids[2]
    _receive(admin, main, product, "3", lot_number="FIRST", expiry=str(TODAY + timedelta(20)))
    _receive(admin, main, product, "5", lot_number="NEXT", expiry=str(TODAY + timedelta(40)))
    made = admin.post(
        "transfers",
        json={
            "source_branch_id": main,
            "destination_branch_id": west,
            "lines": [{"product_id": product, "quantity": "4"}],
        },
    )
    assert made.status_code == 201, made.text
    tid = made.json()["id"]
    assert admin.post(f"transfers/{tid}/dispatch").status_code == 200
    assert _lots(admin, product, main) == {"NEXT": 4}
    got = admin.post(
        f"transfers/{tid}/receive", json={"lines": [{"product_id": product, "quantity": "4"}]}
    )
    assert got.status_code == 200, got.text
    assert _lots(admin, product, west) == {"FIRST": 3, "NEXT": 1}


def test_ledger_verify_finds_a_lot_level_out_of_step(world):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[1]
    _receive(admin, branch, product, "6", lot_number="V1", expiry=str(TODAY + timedelta(9)))
    verify = admin.get("ledger/verify")
    assert verify.status_code == 200 and verify.json()["differences"] == []
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE lot_levels SET on_hand = 5"))
    found = admin.get("ledger/verify").json()["differences"]
    assert [(d["kind"], d["stored"], d["ledger"]) for d in found] == [
        ("lot_level", "5.000", "6.000")
    ]
    assert "lot V1" in found[0]["where"]
    with world.engine.begin() as conn:  # put it back so the test's own invariant holds
        conn.execute(text("UPDATE lot_levels SET on_hand = 6"))


def test_a_count_by_lot_sets_each_lot_to_what_was_found(world):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[1]
    _receive(admin, branch, product, "6", lot_number="C1", expiry=str(TODAY + timedelta(5)))
    _receive(admin, branch, product, "4", lot_number="C2", expiry=str(TODAY + timedelta(50)))
    _receive(admin, branch, product, "2")  # untracked
    count = admin.post("counts", json={"branch_id": branch})
    assert count.status_code == 201, count.text
    cid = count.json()["id"]
    lines = f"counts/{cid}/lines"
    # C1 has 5 left (one went missing), C2 is gone, a new lot C3 turned up; 1 without a label.
    assert (
        admin.post(
            lines, json={"product_id": product, "quantity": "3", "lot_number": "C1"}
        ).status_code
        == 200
    )
    assert (
        admin.post(
            lines, json={"product_id": product, "quantity": "2", "lot_number": "C1"}
        ).status_code
        == 200
    )
    assert (
        admin.post(
            lines, json={"product_id": product, "quantity": "7", "lot_number": "C3"}
        ).status_code
        == 200
    )
    answer = admin.post(lines, json={"product_id": product, "quantity": "1"})
    assert answer.status_code == 200, answer.text
    [line] = [x for x in answer.json()["lines"] if x["product_id"] == product]
    assert Decimal(line["counted"]) == 5 + 7 + 1
    bad = admin.post(lines, json={"product_id": product, "quantity": "1", "lot_number": "a b"})
    assert bad.status_code == 422
    posted = admin.post(f"counts/{cid}/post")
    assert posted.status_code == 200, posted.text
    assert _lots(admin, product, branch) == {"C1": 5, "C3": 7}
    levels = admin.get("stock/levels", params={"product_id": product, "branch_id": branch})
    assert Decimal(levels.json()["items"][0]["on_hand"]) == 13
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []


def test_an_expiry_write_off_takes_the_expired_lot_and_damage_the_fresh_one(world):
    admin = world.api("admin")
    branch, product = world.a.branch_ids[0], world.a.product_ids[2]
    _receive(admin, branch, product, "3", lot_number="GONE", expiry=str(TODAY - timedelta(1)))
    _receive(admin, branch, product, "3", lot_number="OK", expiry=str(TODAY + timedelta(9)))
    for reason in ("expiry", "damage"):
        answer = admin.post(
            "stock/adjustments",
            json={"branch_id": branch, "product_id": product, "quantity": "-1", "reason": reason},
        )
        assert answer.status_code == 201, answer.text
    assert _lots(admin, product, branch) == {"GONE": 2, "OK": 2}
