"""Products → Import against a real server: template, column mapping, create or update by SKU,
opening stock, and a true result per row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.barcodes import make_ean13
from pos_client.ui.manager.import_dialog import PROBLEMS, RESULT
from pos_client.ui.manager.product_import import (
    FIELDS,
    TEMPLATE_HEADERS,
    apply_mapping,
    check_rows,
    guess_mapping,
    mapping_problems,
    parse_amount,
    read_table,
)
from tests.factories import World
from tests.ui.manager_support import TIMEOUT
from tests.ui.test_manager_documents import _shot

LEFT = Qt.MouseButton.LeftButton


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("₹1,200.50", "1200.50"),
        ("Rs. 120", "120"),
        ("120 INR", "120"),
        ("₹ 12,00,000", "1200000"),
        ("$3,450", "3450"),
        ("99.5", "99.5"),
    ],
)
def test_amounts_with_currency_marks_and_thousands_separators(text: str, amount: str) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["12,5", "1,20", "₹", "abc", "1.2.3", "NaN"])
def test_amounts_that_cannot_be_read_are_refused_in_words(text: str) -> None:
    with pytest.raises(ValueError, match="is not an amount"):
        parse_amount(text)


def _on_hand(api, *, branch_id: int, product_id: int) -> Decimal:
    rows = api.get("stock/levels", params={"branch_id": branch_id, "product_id": product_id}).json()
    return Decimal(rows["items"][0]["on_hand"]) if rows["items"] else Decimal(0)


def test_import_maps_columns_creates_updates_and_refuses_rows_and_says_exactly_that(
    open_window, qtbot: QtBot, world: World, tmp_path: Path
) -> None:
    admin = world.api("admin")
    branch_id = world.a.branch_ids[0]
    admin_0 = world.a.product_ids[0]
    taken = admin.get(f"products/{world.a.product_ids[1]}").json()["barcodes"][0]
    fresh = make_ean13("890100000077")
    sheet = tmp_path / "products.csv"
    # The shop's own headers: most are known synonyms, "Selling" is not, "Notes" is not ours.
    sheet.write_text(
        "Item Code,Product Name,Selling,Cost Price,Group,Barcode,Opening Qty,Notes\n"
        f'NEW-1,Basmati Rice 5 kg,"₹1,20,000.50",₹950,Grains,{fresh},25,new\n'  # created
        "ADMIN-0,Product 0 renamed,Rs. 99,₹80,Grains,,3,\n"  # existing SKU: updated, no stock
        'NEW-2,Toor Dal 1 kg,"12,5",,,,,\n'  # refused here: a decimal comma is ambiguous
        f"NEW-3,Salt 1 kg,28,,,{taken},,\n"  # refused by the server: the barcode is taken
        'NEW-4,Sugar 1 kg,45.00,40,Grains,,"1,000",\n'  # created with 1000 in stock
        "NEW-5,Tea 250 g,120,,,,5,\n",  # refused here: opening stock without a cost
        encoding="utf-8",
    )
    window = open_window("manager", start="products")
    window.resize(1366, 768)
    page = window.open_screen("products")
    page.ask_import_path = lambda: sheet
    qtbot.mouseClick(page.import_button, LEFT)
    preview = page.dialog
    guessed = [combo.currentData() for combo in preview.combos]
    assert guessed == ["sku", "name", None, "cost", "category", "barcodes", "opening_stock", None]
    assert not preview.import_button.isEnabled()
    assert preview.summary.objectName() == "ErrorText"
    assert "choose the column that holds Price" in preview.summary.text()

    selling = preview.combos[2]
    selling.setCurrentIndex(selling.findData("price"))  # the person says what "Selling" is
    assert preview.branch.isVisible()
    preview.branch.setCurrentIndex(preview.branch.findData(branch_id))
    table = preview.table
    problems = [table.item(r, PROBLEMS).text() for r in range(table.rowCount())]
    assert problems[0] == problems[1] == problems[3] == problems[4] == "OK"
    assert "decimals with a point" in problems[2] and "needs a cost" in problems[5]
    # The preview shows each row as it will be read: amounts and quantities as plain numbers.
    assert [table.item(0, c).text() for c in range(1, PROBLEMS)] == [
        "NEW-1",
        "Basmati Rice 5 kg",
        "120000.50",
        "950",
        "Grains",
        "25",
    ]
    assert table.item(4, PROBLEMS - 1).text() == "1000"
    assert "4 ready, 2 with problems" in preview.summary.text()
    assert preview.import_button.isEnabled()
    _shot(preview, "manager-import-preview")

    qtbot.mouseClick(preview.import_button, LEFT)
    qtbot.waitUntil(lambda: preview.results is not None, timeout=TIMEOUT * 2)
    outcomes = [(r.line, r.sku, r.outcome) for r in preview.results]
    assert outcomes == [
        (2, "NEW-1", "created"),
        (3, "ADMIN-0", "updated"),
        (4, "NEW-2", "refused"),
        (5, "NEW-3", "refused"),
        (6, "NEW-4", "created"),
        (7, "NEW-5", "refused"),
    ]
    shown = [table.item(r, RESULT).text() for r in range(table.rowCount())]
    assert shown[0] == "Created: new category Grains, opening stock 25"
    assert shown[1] == "Updated: opening stock not applied: the product exists (count it)"
    assert shown[2].startswith("Refused: price") and shown[3].startswith("Refused: ")
    assert taken in shown[3] or "barcode" in shown[3].lower(), shown[3]
    assert shown[4] == "Created: opening stock 1000"
    assert shown[5].startswith("Refused: opening stock needs a cost")
    assert preview.summary.text() == "Import finished: 2 created, 1 updated, 3 refused."
    _shot(preview, "manager-import-results")

    # The server holds exactly what the result list says, no more and no less.
    by_sku = {p["sku"]: p for p in admin.get("products", params={"limit": 100}).json()["items"]}
    assert set(by_sku) == {"ADMIN-0", "ADMIN-1", "ADMIN-2", "NEW-1", "NEW-4"}
    grains = [c for c in admin.get("categories").json()["items"] if c["name"] == "Grains"]
    assert len(grains) == 1
    rice, sugar, renamed = by_sku["NEW-1"], by_sku["NEW-4"], by_sku["ADMIN-0"]
    assert Decimal(rice["price"]) == Decimal("120000.50") and Decimal(rice["cost"]) == 950
    assert rice["barcodes"] == [fresh] and rice["category_id"] == grains[0]["id"]
    assert sugar["category_id"] == grains[0]["id"]
    assert renamed["name"] == "Product 0 renamed" and Decimal(renamed["price"]) == 99
    assert renamed["category_id"] == grains[0]["id"] and renamed["barcodes"]  # kept its code
    assert _on_hand(admin, branch_id=branch_id, product_id=rice["id"]) == 25
    assert _on_hand(admin, branch_id=branch_id, product_id=sugar["id"]) == 1000
    assert _on_hand(admin, branch_id=branch_id, product_id=admin_0) == 0  # left alone
    receipts = admin.get(
        "stock/movements", params={"product_id": rice["id"], "branch_id": branch_id}
    ).json()["items"]
    assert [(m["code"], Decimal(m["quantity"])) for m in receipts] == [("receipt", 25)]

    qtbot.mouseClick(preview.import_button, LEFT)  # now "Close"
    qtbot.waitUntil(lambda: not preview.isVisible(), timeout=TIMEOUT)
    assert page.status.text() == "Imported 3 product(s) (created or updated)."


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_the_downloaded_template_reads_back_as_one_clean_row(
    open_window, qtbot: QtBot, tmp_path: Path, suffix: str
) -> None:
    window = open_window("manager", start="products")
    page = window.open_screen("products")
    target = tmp_path / f"template{suffix}"
    page.ask_template_path = lambda: target
    qtbot.mouseClick(page.template_button, LEFT)
    assert str(target) in page.status.text()
    headers, rows = read_table(target)
    assert headers == TEMPLATE_HEADERS and len(rows) == 1
    assert guess_mapping(headers) == list(FIELDS)
    (row,) = check_rows(apply_mapping(rows, guess_mapping(headers)))
    assert row.ok, row.errors
    assert row.product.price == Decimal("1200.50") and row.product.cost == 950
    assert row.category == "Grains" and row.opening_stock == 25
    assert len(row.product.barcodes) == 1


def test_header_synonyms_and_mapping_problems() -> None:
    assert guess_mapping(["MRP", "Item code", "Product", "GST %", "UOM", "Qty", "Price"]) == [
        "price",
        "sku",
        "name",
        "tax_rate",
        "unit",
        "opening_stock",
        None,  # price is taken already: a second one is left for the person to choose
    ]
    assert mapping_problems(["sku", "sku", None]) == [
        "SKU is chosen for 2 columns",
        "choose the column that holds Name",
        "choose the column that holds Price",
    ]


def test_check_rows_reads_the_category_column() -> None:
    (row,) = check_rows([{"sku": "A-1", "name": "A", "price": "₹1,000", "category": " Tea "}])
    assert row.ok and row.category == "Tea" and row.product.price == Decimal("1000")


def test_a_refused_row_says_the_category_it_left_behind(live_server, world: World) -> None:
    """Honest per row: a category created for a row the server then refused is reported."""
    from pos_client.api.client import ApiClient
    from pos_client.ui.manager.product_import import import_rows
    from tests.factories import PASSWORD

    admin = world.api("admin")
    taken = admin.get(f"products/{world.a.product_ids[1]}").json()["barcodes"][0]
    (row,) = check_rows(
        [{"sku": "NEW-9", "name": "Salt", "price": "28", "category": "Spices", "barcodes": taken}]
    )
    assert row.ok
    client = ApiClient(live_server.url)
    try:
        client.login(username="admin", password=PASSWORD)
        (result,) = import_rows(client, [row])
    finally:
        client.close()
    assert result.outcome == "refused"
    assert result.detail.endswith("(its category Spices was created and stays)"), result.detail
    names = [c["name"] for c in admin.get("categories").json()["items"]]
    assert "Spices" in names
