"""Variants: a template's matrix created through the API, replicated, scanned and sold."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.barcodes import parse_scan
from common.roles import Role
from pos_client.scanners.pipeline import resolve
from pos_client.services import variants
from pos_client.services.checkout import sale_event
from pos_client.services.login import Cashier
from pos_client.services.queries import ensure_search_index
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store import documents
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.sales.models import Sale as ServerSale
from tests.sync.sync_helpers import sale_payload

MATRIX = {"size": ["S", "M", "L"], "colour": ["Red", "Blue"]}


def _template(admin, **extra) -> dict:
    body = {"sku": "TEE", "name": "Cotton tee", "price": "399.00", "attributes": MATRIX, **extra}
    answer = admin.post("product-templates", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_template_generates_a_variant_per_combination_with_its_own_sku_barcode_and_price(world):
    admin = world.api("admin")
    made = _template(admin, prices={"L / Blue": "449.00"})
    assert [v["variant"] for v in made["variants"]] == [
        {"size": s, "colour": c} for s in MATRIX["size"] for c in MATRIX["colour"]
    ]
    skus = [v["sku"] for v in made["variants"]]
    assert skus[0] == "TEE-S-RED" and len(set(skus)) == 6
    assert all(len(v["barcodes"]) == 1 for v in made["variants"])
    assert len({v["barcodes"][0] for v in made["variants"]}) == 6
    prices = {(v["variant"]["size"], v["variant"]["colour"]): v["price"] for v in made["variants"]}
    assert Decimal(prices[("L", "Blue")]) == Decimal("449") and Decimal(prices[("S", "Red")]) == 399
    one = admin.get(f"products/{made['variants'][2]['id']}").json()
    assert one["template_id"] == made["id"] and one["name"] == "Cotton tee (M, Red)"
    assert admin.get(f"product-templates/{made['id']}").json() == made

    # Bad input: a clear 4xx and nothing half-made.
    assert (
        admin.post(
            "product-templates",
            json={"sku": "TEE", "name": "x", "price": "1", "attributes": MATRIX},
        ).status_code
        == 409
    )
    for attributes in ({}, {"size": []}, {"size": ["S", "S"]}, {"a": ["1"] * 30, "b": ["x"] * 30}):
        bad = admin.post(
            "product-templates",
            json={"sku": "BAD", "name": "x", "price": "1", "attributes": attributes},
        )
        assert bad.status_code == 422, (attributes, bad.text)
    wrong_label = admin.post(
        "product-templates",
        json={"sku": "BAD", "name": "x", "price": "1", "attributes": MATRIX,
              "prices": {"XL / Green": "9"}},
    )  # fmt: skip
    assert wrong_label.status_code == 422 and "XL / Green" in wrong_label.json()["detail"]
    assert admin.get("products", params={"q": "BAD"}).json()["items"] == []
    assert admin.get("product-templates/999999").status_code == 404


@pytest.fixture
def till(world, live_server, tmp_path):
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    yield engine
    engine.stop()
    store.close()


def test_a_variant_matrix_is_searched_as_one_template_scanned_by_variant_and_sold(
    world, till, stock_in
):
    admin = world.api("admin")
    made = _template(admin)
    medium_blue = made["variants"][3]
    assert medium_blue["variant"] == {"size": "M", "colour": "Blue"}
    stock_in(product_id=medium_blue["id"], branch_id=world.a.branch_ids[0], quantity="5")
    till.sync_once()

    with till.store.transaction() as session:
        ensure_search_index(session.connection())  # the till app builds it at start-up
        found = variants.search_with_templates(session, "cotton tee")
        assert [(i.name, i.template_id, i.variant) for i in found] == [
            ("Cotton tee", made["id"], None)
        ]
        picker = variants.variants_of(session, made["id"])
        assert [i.variant for i in picker] == [
            "S / Red", "S / Blue", "M / Red", "M / Blue", "L / Red", "L / Blue"
        ]  # fmt: skip
        assert picker[3].on_hand == 5 and picker[0].on_hand is None
        # A scan names one variant: no picker needed.
        match = resolve(session, parse_scan(medium_blue["barcodes"][0]))
        assert match.item.product_id == medium_blue["id"] and match.item.variant == "M / Blue"
        cart = Cart()
        cart.add(match.item, quantity=Decimal(2))
        total = cart.totals().total
        event = sale_event(
            cart=cart,
            payments=[cash_payment(due=total, tendered=total)],
            receipt_number=documents.next_receipt_number(session),
            branch_id=documents.get_state(session).branch_id,
            shift_id=None,
            cashier=Cashier(user_id=1, username="c", full_name="C", role=Role.CASHIER),
            completed_at=datetime.now(UTC),
        )
        documents.record_sale(session, event)
    status = till.sync_once()
    assert status.pending == 0 and status.rejected == 0
    with transaction(world.sessions(), readonly=True) as session:
        sale = session.scalars(select(ServerSale).where(ServerSale.uuid == event.sale_id)).one()
        assert [(line.product_id, line.quantity) for line in sale.lines] == [(medium_blue["id"], 2)]
        level = ledger.level(
            session,
            tenant_id=world.a.id,
            branch_id=world.a.branch_ids[0],
            product_id=medium_blue["id"],
        )
        assert level.on_hand == 3


def test_best_sellers_split_by_variant_or_rolled_up_to_the_template(world, enrol, stock_in, wrap):
    admin = world.api("admin")
    made = _template(admin)
    small_red, large_blue = made["variants"][0], made["variants"][5]
    branch = world.a.branch_ids[0]
    device, till = enrol()
    sales = []
    for receipt, (variant, quantity) in enumerate(
        [(small_red, "2"), (large_blue, "3"), (small_red, "1")], start=1
    ):
        stock_in(product_id=variant["id"], branch_id=branch, quantity="5")
        sales.append(
            wrap(
                sale_payload(
                    branch_id=branch,
                    product_id=variant["id"],
                    receipt=f"V-{receipt}",
                    quantity=quantity,
                    price="399.00",
                ),
                device_id=device["device_id"],
            )
        )
    pushed = till.post("sync/push", json={"events": sales})
    assert [r["status"] for r in pushed.json()["results"]] == ["applied"] * 3
    split = admin.get("reports/best-sellers").json()["rows"]
    assert sorted((r["sku"], Decimal(r["quantity"])) for r in split) == [
        ("TEE-L-BLUE", 3),
        ("TEE-S-RED", 3),
    ]
    rolled = admin.get("reports/best-sellers", params={"roll_up": "true"}).json()
    assert [(r["sku"], r["name"], Decimal(r["quantity"])) for r in rolled["rows"]] == [
        ("TEE", "Cotton tee", 6)
    ]
    assert Decimal(rolled["rows"][0]["revenue"]) == Decimal("2394.00")
    assert "per template" in rolled["title"]
