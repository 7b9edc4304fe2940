"""A purchase order as a document: tax class and tax per line, supplier prices as starting
costs, its e-mails with their delivery state, sending refused without a mail server, and its
PDF readable (units, tax per line, totals) when rendered."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from sync_server.catalog.models import Product
from sync_server.db import transaction
from sync_server.notifications.models import Notification
from sync_server.org.models import Branch
from tests.server.test_reports_printed import assert_readable, needs_poppler, pdf_text

D = Decimal


def _supplier(buyer, *, name: str = "Acme Traders", **extra) -> int:
    made = buyer.post("suppliers", json={"name": name, "email": "orders@acme.test", **extra})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _gst(world, rate: str = "18") -> int:
    made = world.api("admin").post(
        "tax-classes",
        json={"code": f"GST{rate}", "name": f"GST {rate}%", "rates": [{"gst_rate": rate}]},
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _po(world, supplier_id: int, lines: list[dict]) -> dict:
    made = world.api("purchase_admin").post(
        "purchase-orders",
        json={"supplier_id": supplier_id, "branch_id": world.a.branch_ids[0], "lines": lines},
    )
    assert made.status_code == 201, made.text
    return made.json()


def test_each_line_carries_its_tax_class_rate_and_tax_and_the_po_totals_them(world):
    buyer = world.api("purchase_admin")
    gst18, gst5 = _gst(world, "18"), _gst(world, "5")
    p = world.a.product_ids
    po = _po(
        world,
        _supplier(buyer),
        [
            {"product_id": p[0], "quantity": "3", "unit_cost": "33.33", "tax_class_id": gst18},
            {"product_id": p[1], "quantity": "2", "unit_cost": "10.05", "tax_class_id": gst5},
            {"product_id": p[2], "quantity": "1", "unit_cost": "7.00"},
        ],
    )
    first, second, third = po["lines"]
    # 99.99 taxed CGST 9% + SGST 9%, each rounded: 9.00 + 9.00.
    assert (first["tax_class_id"], first["tax_rate"]) == (gst18, "18.00")
    assert (first["taxable"], first["tax_amount"], first["line_total"]) == (
        "99.99",
        "18.00",
        "117.99",
    )
    # 20.10 at 2.5% + 2.5%: 0.50 + 0.50 (one rounding per component).
    assert (second["taxable"], second["tax_amount"]) == ("20.10", "1.00")
    assert (third["tax_class_id"], third["tax_amount"], third["line_total"]) == (
        None,
        "0.00",
        "7.00",
    )
    assert (po["subtotal"], po["tax_total"], po["total"]) == ("127.09", "19.00", "146.09")

    # A supplier in another state charges IGST 18% as one component: on 0.05 that rounds
    # to 0.01, where CGST 9% and SGST 9% round to 0.00 each.
    with transaction(world.sessions()) as session:
        session.get(Branch, world.a.branch_ids[0]).state_code = "27"
    tiny = [{"product_id": p[0], "quantity": "1", "unit_cost": "0.05", "tax_class_id": gst18}]
    local = _supplier(buyer, name="Pune Wholesale", tax_number="27AAACR5055K1Z7")
    other = _supplier(buyer, name="Delhi Wholesale", tax_number="07AAACR5055K1Z9")
    assert _po(world, other, tiny)["lines"][0]["tax_amount"] == "0.01"
    assert _po(world, local, tiny)["lines"][0]["tax_amount"] == "0.00"
    unknown = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": other,
            "branch_id": world.a.branch_ids[0],
            "lines": [{"product_id": p[0], "quantity": "1", "unit_cost": "1", "tax_class_id": 99}],
        },
    )
    assert unknown.status_code == 404 and "tax class" in unknown.json()["detail"]


def test_a_new_line_starts_from_the_suppliers_price_and_a_receipt_updates_it(world):
    buyer = world.api("purchase_admin")
    supplier_id = _supplier(buyer)
    p = world.a.product_ids
    with transaction(world.sessions()) as session:
        session.get(Product, p[0]).cost = D("6.50")
    costs = buyer.get(f"suppliers/{supplier_id}/starting-costs", params={"product_id": p[:2]})
    assert costs.status_code == 200, costs.text
    by_product = {row["product_id"]: row for row in costs.json()}
    assert by_product[p[0]]["source"] == "last_cost" and by_product[p[0]]["unit_cost"] == "6.50"
    assert by_product[p[1]]["source"] == "none"

    assert (
        buyer.put(f"suppliers/{supplier_id}/prices/{p[0]}", json={"unit_cost": "0"}).status_code
        == 422
    )
    assert (
        world.api("viewer")
        .put(f"suppliers/{supplier_id}/prices/{p[0]}", json={"unit_cost": "6"})
        .status_code
        == 403
    )
    set_ = buyer.put(f"suppliers/{supplier_id}/prices/{p[0]}", json={"unit_cost": "6.00"})
    assert set_.status_code == 200, set_.text
    assert set_.json()["source"] == "manual"
    costs = buyer.get(f"suppliers/{supplier_id}/starting-costs", params={"product_id": [p[0]]})
    assert costs.json() == [{"product_id": p[0], "unit_cost": "6.00", "source": "supplier_price"}]

    # Bought in cases of 12 at 66.00 a case: the price learnt is 5.50 a piece.
    po = _po(
        world,
        supplier_id,
        [
            {
                "product_id": p[0],
                "quantity": "2",
                "unit_cost": "66.00",
                "purchase_unit": "case",
                "units_per": "12",
            }
        ],
    )
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    received = world.api("manager").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": po["lines"][0]["id"], "quantity": "1"}]},
    )
    assert received.status_code == 201, received.text
    [price] = buyer.get(f"suppliers/{supplier_id}/prices").json()
    assert (price["product_id"], price["unit_cost"], price["source"]) == (
        p[0],
        "5.50",
        "receipt",
    )


def test_sending_without_a_mail_server_is_refused_and_the_emails_say_so(world):
    buyer = world.api("purchase_admin")
    p = world.a.product_ids
    po = _po(world, _supplier(buyer), [{"product_id": p[0], "quantity": "1", "unit_cost": "4"}])
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    refused = buyer.post(f"purchase-orders/{po['id']}/send")
    assert refused.status_code == 409, refused.text
    assert "no mail server" in refused.json()["detail"]
    assert buyer.get(f"purchase-orders/{po['id']}").json()["status"] == "approved"
    with transaction(world.sessions(), readonly=True) as session:
        assert (
            session.scalar(
                select(Notification.id).where(Notification.event == "purchase_order.sent")
            )
            is None
        )
    mails = buyer.get(f"purchase-orders/{po['id']}/emails")
    assert mails.status_code == 200, mails.text
    assert mails.json() == {"email_configured": False, "emails": []}
    assert world.api("b_admin").get(f"purchase-orders/{po['id']}/emails").status_code == 404


@needs_poppler
def test_the_po_pdf_prints_units_tax_per_line_and_totals_with_no_broken_words(world, tmp_path):
    buyer = world.api("purchase_admin")
    gst18 = _gst(world, "18")
    p = world.a.product_ids
    long_name = "Basmati rice extra long grain aged two years premium export quality"
    assert world.api("admin").patch(f"products/{p[1]}", json={"name": long_name}).status_code == 200
    po = _po(
        world,
        _supplier(buyer),
        [
            {"product_id": p[0], "quantity": "12", "unit_cost": "1250.50", "tax_class_id": gst18},
            {
                "product_id": p[1],
                "quantity": "3",
                "unit_cost": "480",
                "purchase_unit": "case",
                "units_per": "12",
            },
        ],
    )
    pdf = buyer.get(f"purchase-orders/{po['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content, tmp_path)
    assert_readable(
        text, labels=["Product", "Qty", "Unit", "Unit cost", "Taxable", "Tax %", "Tax", "Total"]
    )
    words = set(re.findall(r"\S+", text))
    for word in [*long_name.split(), "Taxable", "Tax", "Total", "Unit", "cost", "case", "piece"]:
        assert word in words, f"{word!r} is broken or missing:\n{text}"
    # The first line: 12 x 1,250.50 = 15,006.00, tax 18% = 2,701.08, total 17,707.08.
    line_one = next(line for line in text.splitlines() if "2,701.08" in line)
    assert "15,006.00" in line_one and "18" in line_one.split() and "17,707.08" in line_one
    line_two = next(line for line in text.splitlines() if "1,440.00" in line)
    assert " 0 " in f" {line_two} " and "case of 12" in text
    totals = {
        label: line.split()[-1]
        for line in text.splitlines()
        for label in ("Taxable value", "Tax", "Total")
        if line.strip().startswith(label + " ") and len(line.split()) == len(label.split()) + 1
    }
    assert totals == {"Taxable value": "16,446.00", "Tax": "2,701.08", "Total": "19,147.08"}, text
