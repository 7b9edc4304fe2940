"""Wholesale invoices to a business in another state charge IGST per line, and the tax
summary and GSTR-1 export count them."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

from common.tax import LineTax, gstin_check_char
from sync_server.db import transaction
from sync_server.inventory import costing
from sync_server.wholesale.models import SalesRequestLine

SELLER = "27AAPFU0939F1Z" + gstin_check_char("27AAPFU0939F1Z")
BUYER = "29AAGCB7383J1Z" + gstin_check_char("29AAGCB7383J1Z")


def test_a_wholesale_invoice_across_states_charges_igst_and_is_filed(world, tmp_path):
    admin = world.api("admin")
    product_id = world.a.product_ids[0]
    assert admin.patch(f"branches/{world.a.branch_ids[0]}", json={"gstin": SELLER}).is_success
    gst = admin.post(
        "tax-classes", json={"code": "GST12", "name": "GST 12%", "rates": [{"gst_rate": "12"}]}
    ).json()
    assert admin.patch(
        f"products/{product_id}", json={"tax_class_id": gst["id"], "hsn": "19059020"}
    ).is_success
    with transaction(world.sessions()) as session:
        costing.receive(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[0],
            product_id=product_id,
            quantity=Decimal("50"),
            unit_cost=Decimal("4"),
            reference_type="test",
            reference_id="opening",
        )
    customer = world.api("sales_admin").post(
        "customers", json={"name": "Mysore Foods", "tax_number": BUYER, "credit_limit": "5000"}
    )
    request = world.api("sales_admin").post(
        "sales-requests",
        json={
            "customer_id": customer.json()["id"],
            "branch_id": world.a.branch_ids[0],
            "payment_terms": "account",
            "lines": [{"product_id": product_id, "quantity": "7", "unit_price": "13.33"}],
        },
    )
    assert request.status_code == 201, request.text
    body = request.json()
    # 7 x 13.33 = 93.31 before tax; IGST 12% = 11.1972 -> 11.20.
    assert (body["tax_total"], body["total"]) == ("11.20", "104.51")
    approved = world.api("manager").post(f"sales-requests/{body['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    with transaction(world.sessions(), readonly=True) as session:
        (line,) = session.query(SalesRequestLine).all()
        taxed = LineTax.from_wire(line.tax_detail)
    assert line.hsn == "19059020"
    assert [(c.code, c.amount) for c in taxed.components] == [("IGST", Decimal("11.20"))]

    summary = world.api("manager").get("reports/tax-summary", params={"by": "hsn"}).json()
    (row,) = summary["rows"]
    assert (row["hsn"], Decimal(row["igst"]), Decimal(row["taxable"])) == (
        "19059020",
        Decimal("11.20"),
        Decimal("93.31"),
    )
    export = json.loads(world.api("manager").get("reports/gstr1").text, parse_float=Decimal)
    (buyer,) = export["b2b"]
    (invoice,) = buyer["inv"]
    assert (buyer["ctin"], invoice["pos"], invoice["val"]) == (BUYER, "29", Decimal("104.51"))
    assert invoice["inum"] == approved.json()["invoice_number"]

    # The invoice names the seller's GSTIN and shows each line's HSN and IGST.
    path = f"sales-requests/{body['id']}/invoice"
    document = world.api("viewer").get(path).json()
    assert document["seller"]["tax_number"] == SELLER
    assert document["lines"][0]["hsn"] == "19059020"
    pdf = world.api("viewer").get(path, params={"format": "pdf"})
    assert pdf.status_code == 200
    pdf_file = tmp_path / "invoice.pdf"
    pdf_file.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_file), "-"], capture_output=True, text=True, check=True
    ).stdout
    for words in (
        SELLER,
        BUYER,
        "HSN 19059020",
        "IGST 12% 11.20",
        "IGST 12% on 93.31",
        # The total due (104.51) in words, as a tax invoice states it.
        "Rupees One Hundred Four and Fifty-One Paise Only",
    ):
        assert words in " ".join(text.split()), words

    # Report exports are headed with the shop's name and GSTIN.
    assert admin.put("settings/trade_name", json={"value": "Demo Kirana"}).is_success
    report = world.api("manager").get("reports/tax-summary", params={"format": "pdf"})
    pdf_file.write_bytes(report.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_file), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Demo Kirana · GSTIN {SELLER}" in " ".join(text.split())
