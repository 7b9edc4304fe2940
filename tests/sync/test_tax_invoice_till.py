"""At the till: B2C receipts show tax by component, a B2B sale across states prints a tax
invoice with IGST, and a return prints a credit note that reverses the invoice's tax exactly."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import openpyxl
import pytest
from sqlalchemy import select

from common.roles import Role
from common.tax import LineTax, document_totals, gstin_check_char
from pos_client.printing.receipt import layout_report, render_text
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, cash_payment
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine

D = Decimal
SHOP = ShopInfo(shop_name="StockPilot Store")
SELLER = "27AAPFU0939F1Z" + gstin_check_char("27AAPFU0939F1Z")  # Maharashtra
BUYER = "29AAGCB7383J1Z" + gstin_check_char("29AAGCB7383J1Z")  # Karnataka


@pytest.fixture
def till(world, live_server, tmp_path, stock_in):
    api = world.api("admin")
    branch_id = world.a.branch_ids[0]
    assert api.patch(f"branches/{branch_id}", json={"gstin": SELLER}).status_code == 200
    gst = api.post(
        "tax-classes", json={"code": "GST18", "name": "GST 18%", "rates": [{"gst_rate": "18"}]}
    ).json()
    product_id = world.a.product_ids[0]
    answer = api.patch(
        f"products/{product_id}",
        json={"tax_class_id": gst["id"], "hsn": "0402", "price": "118.00"},
    )
    assert answer.status_code == 200, answer.text
    customer = api.post("customers", json={"name": "Bengaluru Traders", "tax_number": BUYER})
    assert customer.status_code == 201, customer.text
    stock_in(product_id=product_id, branch_id=branch_id, quantity="50")
    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, timeout=30, backoff_base=0.05)
    code = api.post("devices/enrolment-codes", json={"branch_id": branch_id})
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine
    engine.stop()
    store.close()


def _sell(store, *, cashier, shift_id, customer_name: str | None, quantity: str):
    cart = Cart()
    with store.session() as session:
        cart.add(queries.find_by_codes(session, ("ADMIN-0",)), quantity=D(quantity))
        if customer_name:
            (customer,) = queries.find_customers(session, customer_name)
            cart.set_customer(customer)
    with store.transaction() as session:
        return complete_sale(
            session,
            cart=cart,
            payments=[cash_payment(due=cart.totals().total, tendered=cart.totals().total)],
            cashier=cashier,
            shift_id=shift_id,
            shop=SHOP,
        )


def test_b2c_receipt_b2b_igst_invoice_and_a_credit_note_that_nets_it_to_zero(world, till):
    store = till.store
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("0")).shift_id

    # A walk-in customer in Mumbai: CGST + SGST by rate on the receipt.
    walk_in = _sell(store, cashier=cashier, shift_id=shift_id, customer_name=None, quantity="1")
    text = "\n".join(render_text(walk_in.receipt))
    assert "CGST 9% on 100.00" in text and "SGST 9% on 100.00" in text
    assert "TAX INVOICE" not in text and walk_in.receipt.tax_total == D("18.00")

    # A business in Karnataka: a tax invoice with IGST, HSN and taxable value per line.
    b2b = _sell(store, cashier=cashier, shift_id=shift_id, customer_name="Bengaluru", quantity="2")
    text = "\n".join(render_text(b2b.receipt))
    for words in (
        "TAX INVOICE",
        f"Buyer GSTIN {BUYER}",
        "Place of supply 29-Karnataka",
        "HSN 0402",
        "Taxable 200.00",
        "IGST 18% 36.00",
        "Taxable value 200.00",
    ):
        assert words in text, words
    assert "CGST" not in text and b2b.receipt.tax_total == D("36.00")
    # The total in words under the figures (wrapped to the paper's width).
    assert "Rupees Two Hundred Thirty-Six Only" in " ".join(text.split())

    # The whole B2B sale comes back: a credit note reversing exactly that tax.
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=b2b.receipt_number)
        done = returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={sale.lines[0].line_id: D(2)},
            cashier=cashier,
            shift_id=shift_id,
            reason="damaged",
            shop=SHOP,
        )
    text = "\n".join(render_text(done.receipt))
    for words in (
        "CREDIT NOTE",
        f"Against invoice {b2b.receipt_number}",
        f"Buyer GSTIN {BUYER}",
        "IGST 18% -36.00",
        "Taxable -200.00",
    ):
        assert words in text, words
    assert "Rupees Two Hundred Thirty-Six Only" in " ".join(text.split())
    assert done.receipt.tax_total == D("36.00")  # printed as the tax given back

    with store.transaction() as session:
        z = shifts.close_shift(session, cashier=cashier, shift_id=shift_id, counted_cash=D("118"))
    printed = "\n".join(line.text for line in layout_report(z.title, rows=z.rows(), width=42))
    assert f"GSTIN {SELLER}" in printed and "Tax 18% on sales" in printed
    # By component: the walk-in sale's CGST and SGST; the B2B IGST came back in full.
    assert "Net tax by component" in printed
    assert ("  CGST 9%", "9.00") in z.rows() and ("  SGST 9%", "9.00") in z.rows()
    assert ("  IGST 18%", "0.00") in z.rows()

    # The server records each line's components, and the credit note nets the invoice to 0.
    assert till.sync_once().online
    with transaction(world.sessions(), readonly=True) as session:
        invoice = session.scalars(
            select(Sale).where(Sale.receipt_number == b2b.receipt_number)
        ).one()
        assert (invoice.buyer_gstin, invoice.buyer_state) == (BUYER, "29")
        (line,) = invoice.lines
        assert line.hsn == "0402"
        sold = LineTax.from_wire(line.tax_detail)
        assert [(c.code, c.amount) for c in sold.components] == [("IGST", D("36.00"))]
        credit = session.scalars(
            select(ReturnLine)
            .join(Return, Return.id == ReturnLine.return_id)
            .where(Return.receipt_number == done.receipt_number)
        ).one()
        net = document_totals([sold, LineTax.from_wire(credit.tax_detail)])
        assert (net.taxable, net.tax, net.total) == (0, 0, 0)
        walk = session.scalars(
            select(Sale).where(Sale.receipt_number == walk_in.receipt_number)
        ).one()
        codes = [c["code"] for c in walk.lines[0].tax_detail["components"]]
        assert codes == ["CGST", "SGST"] and walk.buyer_gstin == ""


SCHEMA = Path(__file__).resolve().parents[1] / "server" / "data" / "gstr1.schema.json"


def _decimals(value, path="$"):
    """Yield (path, Decimal) for every number in parsed JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _decimals(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _decimals(item, f"{path}[{index}]")
    elif isinstance(value, Decimal):
        yield path, value


def test_tax_summary_and_gstr1_export_equal_the_line_taxes_and_fit_the_schema(world, till):
    store = till.store
    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("0")).shift_id
    _sell(store, cashier=cashier, shift_id=shift_id, customer_name=None, quantity="3")
    b2b = _sell(store, cashier=cashier, shift_id=shift_id, customer_name="Bengaluru", quantity="2")
    _sell(store, cashier=cashier, shift_id=shift_id, customer_name="Bengaluru", quantity="1")
    with store.transaction() as session:
        sale = returns.find_sale(session, receipt_number=b2b.receipt_number)
        returns.return_with_receipt(
            session,
            sale_id=sale.sale_id,
            quantities={sale.lines[0].line_id: D(1)},
            cashier=cashier,
            shift_id=shift_id,
            reason="damaged",
            shop=SHOP,
        )
    assert till.sync_once().online
    api = world.api("manager")
    with transaction(world.sessions(), readonly=True) as session:
        sold = [LineTax.from_wire(x.tax_detail) for x in session.scalars(select(SaleLine))]
        back = [LineTax.from_wire(x.tax_detail) for x in session.scalars(select(ReturnLine))]
    expected = document_totals(sold + back)

    summary = api.get("reports/tax-summary", params={"by": "hsn"})
    assert summary.status_code == 200, summary.text
    (row,) = summary.json()["rows"]
    assert row["hsn"] == "0402" and D(row["rate"]) == 18
    assert (D(row["taxable"]), D(row["tax"])) == (expected.taxable, expected.tax)
    assert D(row["cgst"]) + D(row["sgst"]) + D(row["igst"]) == expected.tax
    assert api.get("reports/tax-summary", params={"by": "colour"}).status_code == 422
    xlsx = api.get("reports/tax-summary", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    answer = api.get("reports/gstr1")
    assert answer.status_code == 200, answer.text
    jsonschema.validate(json.loads(answer.text), json.loads(SCHEMA.read_text("utf-8")))
    export = json.loads(answer.text, parse_float=Decimal)
    for path, number in _decimals(export):
        assert -number.as_tuple().exponent <= 3, path  # two places for money, three for qty
    assert export["gstin"] == SELLER
    (buyer,) = export["b2b"]
    assert buyer["ctin"] == BUYER and len(buyer["inv"]) == 2
    assert {i["pos"] for i in buyer["inv"]} == {"29"}
    (note,) = export["cdnr"][0]["nt"]
    assert note["ntty"] == "C" and note["itms"][0]["itm_det"]["iamt"] == D("18.00")
    (small,) = export["b2cs"]
    assert (small["sply_ty"], small["pos"], small["camt"]) == ("INTRA", "27", D("27.00"))

    def total(field: str) -> Decimal:
        return sum((Decimal(str(h[field])) for h in export["hsn"]["data"]), Decimal(0))

    # The HSN summary and the sections both add up to the lines' own tax, to the paisa.
    assert total("txval") == expected.taxable
    assert total("iamt") + total("camt") + total("samt") == expected.tax
    sections = (
        sum(
            (i["itm_det"]["iamt"] for b in export["b2b"] for inv in b["inv"] for i in inv["itms"]),
            Decimal(0),
        )
        - sum(
            (i["itm_det"]["iamt"] for c in export["cdnr"] for nt in c["nt"] for i in nt["itms"]),
            Decimal(0),
        )
        + sum((s["camt"] + s["samt"] + s["iamt"] for s in export["b2cs"]), Decimal(0))
    )
    assert sections == expected.tax

    # The same export as a workbook, one sheet per section.
    workbook = api.get("reports/gstr1", params={"format": "xlsx"})
    assert workbook.status_code == 200, workbook.text
    book = openpyxl.load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["b2b", "b2cl", "b2cs", "cdnr", "hsn"]
    b2b_rows = list(book["b2b"].iter_rows(min_row=2, values_only=True))
    assert len(b2b_rows) == 2 and {r[0] for r in b2b_rows} == {BUYER}
    assert api.get("reports/gstr1", params={"format": "pdf"}).status_code == 422

    # No GSTIN to file for: a problem in words, not a 500.
    admin = world.api("admin")
    assert admin.patch(f"branches/{world.a.branch_ids[0]}", json={"gstin": ""}).status_code == 200
    refused = api.get("reports/gstr1")
    assert refused.status_code == 422 and "GSTIN" in refused.json()["detail"]
