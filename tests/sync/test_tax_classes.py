"""Tax classes through the API: GST components on products, online orders and the till feed."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from common.codes import MovementCode
from common.ids import new_id
from common.tax import LineTax, document_totals, gstin_check_char
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.orders.models import OrderLine, OrderReturnLine
from tests.factories import Api

GSTIN = "27AAPFU0939F1Z" + gstin_check_char("27AAPFU0939F1Z")


def _gst18(api: Api) -> dict:
    answer = api.post(
        "tax-classes", json={"code": "GST18", "name": "GST 18%", "rates": [{"gst_rate": "18"}]}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_bad_tax_classes_are_refused_in_words(world):
    api = world.api("admin")
    both = api.post(
        "tax-classes",
        json={
            "code": "X",
            "name": "X",
            "rates": [{"gst_rate": "5", "components": [{"code": "VAT", "rate": "5"}]}],
        },
    )
    assert both.status_code == 422 and "either gst_rate or components" in both.text
    too_high = api.post(
        "tax-classes", json={"code": "X", "name": "X", "rates": [{"gst_rate": "101"}]}
    )
    assert too_high.status_code == 422
    _gst18(api)
    again = api.post(
        "tax-classes", json={"code": "GST18", "name": "Again", "rates": [{"gst_rate": "18"}]}
    )
    assert again.status_code == 409
    assert world.api("cashier").post("tax-classes", json={}).status_code == 403
    # Another business's class is not there for this one.
    other = world.api("b_admin").get("tax-classes").json()
    assert all(c["code"] != "GST18" for c in other)


def test_a_vat_class_has_one_component(world):
    api = world.api("admin")
    answer = api.post(
        "tax-classes",
        json={
            "code": "VAT-STD",
            "name": "VAT standard",
            "rates": [
                {"effective_from": "2011-01-04", "components": [{"code": "VAT", "rate": "20"}]}
            ],
        },
    )
    assert answer.status_code == 201, answer.text
    (rate_set,) = answer.json()["rates"]
    assert rate_set["components"] == [{"code": "VAT", "rate": "20", "scope": "always"}]


def test_a_product_in_a_gst_class_is_taxed_by_component_online_and_reaches_the_till(world, enrol):
    api = world.api("admin")
    branch_id = world.a.branch_ids[0]
    assert api.patch(f"branches/{branch_id}", json={"gstin": GSTIN}).status_code == 200
    gst = _gst18(api)
    product_id = world.a.product_ids[0]
    bad_hsn = api.patch(f"products/{product_id}", json={"hsn": "04A2"})
    assert bad_hsn.status_code == 422
    foreign = world.api("b_admin").post(
        "tax-classes", json={"code": "B5", "name": "B 5%", "rates": [{"gst_rate": "5"}]}
    )
    stolen = api.patch(f"products/{product_id}", json={"tax_class_id": foreign.json()["id"]})
    assert stolen.status_code == 404
    answer = api.patch(f"products/{product_id}", json={"tax_class_id": gst["id"], "hsn": "0402"})
    assert answer.status_code == 200, answer.text
    product = answer.json()
    assert (product["tax_class_id"], product["hsn"], product["tax_rate"]) == (
        gst["id"],
        "0402",
        "18",
    )

    # An online order: 2 x 10.00 with tax in, split into value and CGST + SGST.
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=branch_id,
            product_id=product_id,
            code=MovementCode.RECEIPT,
            quantity=Decimal("10"),
            reference_type="test",
            reference_id=new_id(),
        )
    key = api.post("api-keys", json={"name": "web", "scopes": ["orders:write", "catalog:read"]})
    shop = Api(world.client, key.json()["key"])
    order = shop.post(
        "orders",
        json={
            "external_number": "W-TAX-1",
            "customer": {"name": "Asha Rao", "email": "asha@example.com"},
            "lines": [{"sku": "ADMIN-0", "quantity": "2"}],
            "branch_code": "MAIN",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert order.status_code == 201, order.text
    with transaction(world.sessions(), readonly=True) as session:
        line = session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.json()["id"])
        ).one()
        detail = LineTax.from_wire(line.tax_detail)
    assert line.tax == Decimal("3.06") and detail.total == Decimal("20.00")
    assert detail.taxable == Decimal("16.94")
    assert [(c.code, str(c.rate), str(c.amount)) for c in detail.components] == [
        ("CGST", "9", "1.53"),
        ("SGST", "9", "1.53"),
    ]

    # A till's first pull carries the class and the product's class and HSN.
    _, device = enrol(branch_id=branch_id)
    changes, cursor = [], "0"
    while True:
        page = device.get("sync/pull", params={"cursor": cursor, "limit": 500}).json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    classes = [c for c in changes if c["entity"] == "tax_class"]
    assert [c["data"]["code"] for c in classes] == ["GST18"]
    pulled = next(c for c in changes if c["entity"] == "product" and c["key"] == str(product_id))
    assert (pulled["data"]["tax_class_id"], pulled["data"]["hsn"]) == (gst["id"], "0402")
    branch = next(c for c in changes if c["entity"] == "branch" and c["key"] == str(branch_id))
    assert (branch["data"]["gstin"], branch["data"]["state_code"]) == (GSTIN, "27")


def test_online_returns_credit_the_order_lines_own_tax_until_it_nets_to_zero(world):
    api = world.api("admin")
    gst = api.post(
        "tax-classes", json={"code": "GST5", "name": "GST 5%", "rates": [{"gst_rate": "5"}]}
    ).json()
    product_id = world.a.product_ids[0]
    assert api.patch(
        f"products/{product_id}", json={"tax_class_id": gst["id"], "price": "3.78"}
    ).is_success
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[0],
            product_id=product_id,
            code=MovementCode.RECEIPT,
            quantity=Decimal("10"),
            reference_type="test",
            reference_id=new_id(),
        )
    key = api.post("api-keys", json={"name": "web", "scopes": ["orders:write", "catalog:read"]})
    shop = Api(world.client, key.json()["key"])
    order = shop.post(
        "orders",
        json={
            "external_number": "W-RET-1",
            "customer": {"name": "Asha Rao", "email": "asha@example.com"},
            "lines": [{"sku": "ADMIN-0", "quantity": "3"}],
            "branch_code": "MAIN",
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    ).json()
    oid, line_id = order["id"], order["lines"][0]["id"]
    assert shop.post(f"orders/{oid}/payment", json={"amount": "11.34"}).status_code == 200
    for step in ("picking", "packed"):
        assert shop.post(f"orders/{oid}/{step}").status_code == 200
    shipment = {"carrier": "BlueDart", "tracking_number": "BD1"}
    assert shop.post(f"orders/{oid}/shipment", json=shipment).status_code == 200
    assert shop.post(f"orders/{oid}/delivered").status_code == 200
    # Returned in two parts: 1, then the last 2.
    for quantity, refund in (("1", "3.78"), ("2", "7.56")):
        ret = shop.post(
            f"orders/{oid}/returns", json={"lines": [{"line_id": line_id, "quantity": quantity}]}
        )
        assert ret.status_code == 201, ret.text
        received = shop.post(
            f"orders/{oid}/returns/{ret.json()['id']}/receive",
            json={
                "lines": [{"line_id": line_id, "restock_quantity": quantity}],
                "refund_amount": refund,
            },
        )
        assert received.status_code == 200, received.text
    with transaction(world.sessions(), readonly=True) as session:
        sold = session.scalars(select(OrderLine).where(OrderLine.order_id == oid)).one()
        credits = session.scalars(select(OrderReturnLine)).all()
        assert sum(c.tax for c in credits) == sold.tax > 0
        net = document_totals(
            [LineTax.from_wire(sold.tax_detail)]
            + [LineTax.from_wire(c.tax_detail) for c in credits]
        )
    assert (net.taxable, net.tax) == (0, 0)
    (row,) = api.get("reports/tax-summary").json()["rows"]
    assert (Decimal(row["taxable"]), Decimal(row["tax"])) == (0, 0)
