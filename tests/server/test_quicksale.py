"""Scanner stations: scan lookups at the caller's branch and idempotent one-line sales."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from common.barcodes import make_ean13
from common.codes import MovementCode
from common.ids import new_id
from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.inventory.models import StockMovement
from sync_server.sales.models import Sale
from tests.factories import Api


def stock(world, *, product_id: int, quantity: str, branch: int = 0) -> None:
    """Receive stock of a product into one of tenant A's branches."""
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[branch],
            product_id=product_id,
            code=MovementCode.RECEIPT,
            quantity=Decimal(quantity),
            reference_type="test",
            reference_id=new_id(),
        )


def barcode_of(world, index: int = 0) -> str:
    return world.api("admin").get(f"products/{world.a.product_ids[index]}").json()["barcodes"][0]


def counts(world) -> tuple[int, int]:
    """Return (sales, SALE movements) of tenant A."""
    with transaction(world.sessions(), readonly=True) as session:
        sales = session.scalar(select(func.count()).where(Sale.tenant_id == world.a.id))
        moves = session.scalar(
            select(func.count()).where(
                StockMovement.tenant_id == world.a.id, StockMovement.code == MovementCode.SALE
            )
        )
        return sales, moves


def sell(api: Api, code: str, key: str, **kwargs):
    return api.post(f"sell/{code}", headers={**api.headers, "Idempotency-Key": key}, **kwargs)


def test_scan_shows_price_and_stock_at_the_callers_branch_and_weighed_labels(world):
    code = barcode_of(world)
    stock(world, product_id=world.a.product_ids[0], quantity="7")
    stock(world, product_id=world.a.product_ids[0], quantity="3", branch=1)
    cashier = world.api("cashier")  # bound to branch 0: no parameter needed
    body = cashier.get(f"scan/{code}").json()
    assert body["product_id"] == world.a.product_ids[0]
    assert (body["unit_price"], body["quantity"], body["amount"]) == ("10.00", "1", "10.00")
    assert (body["on_hand"], body["available"]) == ("7", "7")
    admin = world.api("admin")  # every branch: must say which
    assert admin.get(f"scan/{code}").status_code == 422
    west = admin.get(f"scan/{code}", params={"branch_id": world.a.branch_ids[1]}).json()
    assert west["available"] == "3"
    assert (
        cashier.get(f"scan/{code}", params={"branch_id": world.a.branch_ids[1]}).status_code == 403
    )
    assert cashier.get("scan/4006381333931").status_code == 404
    b_code = world.api("b_admin").get(f"products/{world.b.product_ids[0]}").json()["barcodes"][0]
    assert cashier.get(f"scan/{b_code}").status_code == 404
    assert world.api("viewer").get(f"scan/{code}").status_code == 403

    # A scale's label: the weight and the price come from the code.
    admin = world.api("admin")
    lookup = make_ean13("210004200000")
    created = admin.post(
        "products",
        json={
            "sku": "ONION",
            "name": "Onions",
            "price": "40.00",
            "unit": "kg",
            "barcodes": [lookup],
        },
    )
    assert created.status_code == 201, created.text
    stock(world, product_id=created.json()["id"], quantity="3")
    label = make_ean13("210004201250")  # 1.250 kg
    cashier = world.api("cashier")
    assert cashier.get(f"scan/{label}").json()["amount"] == "50.00"
    sold = sell(cashier, label, "onions").json()
    assert (sold["quantity"], sold["total"], sold["available_after"]) == ("1.25", "50.00", "1.75")
    # A piece product cannot be sold in fractions.
    assert sell(cashier, barcode_of(world), "half", json={"quantity": "0.5"}).status_code == 422


def test_sell_is_a_numbered_sale_with_movement_audit_replay_and_refusal(world):
    code = barcode_of(world)
    product_id = world.a.product_ids[0]
    stock(world, product_id=product_id, quantity="5")
    cashier = world.api("cashier")
    missing = cashier.post(f"sell/{code}")
    assert missing.status_code == 400
    assert missing.headers["content-type"] == "application/problem+json"

    first = sell(cashier, code, "k-1", json={"quantity": "2", "tender": "card"})
    assert first.status_code == 201, first.text
    sale = first.json()
    assert sale["receipt_number"] == "MAIN-S-000001"
    assert (sale["quantity"], sale["total"], sale["available_after"]) == ("2", "20.00", "3")
    again = sell(cashier, code, "k-1", json={"quantity": "2", "tender": "card"})
    assert again.status_code == 201
    assert again.json() == sale
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(world) == (1, 1)
    # The same key for another request is refused, not silently replayed.
    assert sell(cashier, code, "k-1", json={"quantity": "1"}).status_code == 422
    second = sell(cashier, code, "k-2")
    assert second.json()["receipt_number"] == "MAIN-S-000002"
    assert second.json()["tender"] == "cash"

    with transaction(world.sessions(), readonly=True) as session:
        row = session.scalar(select(Sale).where(Sale.uuid == sale["sale_id"]))
        assert row.branch_id == world.a.branch_ids[0]
        assert row.cashier_id == world.a.users["cashier"]
        assert [(li.product_id, li.quantity) for li in row.lines] == [(product_id, Decimal("2"))]
        assert [(p.method, p.amount) for p in row.payments] == [("card", Decimal("20.00"))]
        audited = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "sale.recorded", AuditEntry.entity_id == sale["sale_id"]
            )
        )
        assert audited is not None
        level = ledger.level(
            session, tenant_id=world.a.id, branch_id=world.a.branch_ids[0], product_id=product_id
        )
        assert level.on_hand == Decimal("2")

    # Short stock: refused, nothing booked, the refusal replays.
    code = barcode_of(world, 1)
    stock(world, product_id=world.a.product_ids[1], quantity="1")
    refused = sell(cashier, code, "short", json={"quantity": "2"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["lines"][0]["available"] == "1"
    assert counts(world) == (2, 2)
    replay = sell(cashier, code, "short", json={"quantity": "2"})
    assert replay.status_code == 409
    assert replay.headers["Idempotent-Replayed"] == "true"
    # The refused sale gave its number back: the series has no gap.
    ok = sell(cashier, code, "fits")
    assert ok.json()["receipt_number"] == "MAIN-S-000003"
    assert sell(cashier, code, "none-left").status_code == 409
    assert counts(world) == (3, 3)


def test_device_sells_only_in_its_own_branch_with_its_own_series(world):
    admin = world.api("admin")
    west = world.a.branch_ids[1]
    code = admin.post("devices/enrolment-codes", json={"branch_id": west}).json()["code"]
    enrolled = Api(world.client, None).post("devices/enrol", json={"code": code, "name": "Scale 1"})
    assert enrolled.status_code == 201, enrolled.text
    device = Api(world.client, enrolled.json()["token"])
    barcode = barcode_of(world, 2)
    stock(world, product_id=world.a.product_ids[2], quantity="4", branch=1)
    assert device.get(f"scan/{barcode}").json()["available"] == "4"
    assert (
        sell(device, barcode, "d-1", params={"branch_id": world.a.branch_ids[0]}).status_code == 403
    )
    sold = sell(device, barcode, "d-1")
    assert sold.status_code == 201, sold.text
    receipt = sold.json()["receipt_number"]
    assert receipt == "WEST-S-000001"
    # Tills number "<branch>-T<nn>-…": the server's series can never produce one of theirs.
    assert not receipt.startswith(enrolled.json()["receipt_prefix"])
    with transaction(world.sessions(), readonly=True) as session:
        row = session.scalar(select(Sale).where(Sale.uuid == sold.json()["sale_id"]))
        assert row.device_id == enrolled.json()["device_id"]
        assert row.branch_id == west


def test_the_sale_id_a_quick_sale_returns_reads_the_sale_back(world):
    code = barcode_of(world)
    stock(world, product_id=world.a.product_ids[0], quantity="5")
    sold = sell(world.api("cashier"), code, "k-read-back", json={"quantity": "2"})
    assert sold.status_code == 201, sold.text
    sale_id = sold.json()["sale_id"]
    manager = world.api("manager")
    by_uuid = manager.get(f"sales/{sale_id}")
    assert by_uuid.status_code == 200, by_uuid.text
    detail = by_uuid.json()
    assert detail["uuid"] == sale_id
    assert detail["receipt_number"] == sold.json()["receipt_number"]
    assert [line["quantity"] for line in detail["lines"]] == ["2"]
    # The integer id names the same sale; an unknown UUID or another tenant's is a 404.
    assert manager.get(f"sales/{detail['id']}").json()["uuid"] == sale_id
    assert manager.get(f"sales/{new_id()}").status_code == 404
    other = world.api("b_admin")
    assert other.get(f"sales/{sale_id}").status_code == 404
    assert manager.get("sales/not-a-sale").status_code == 422
