"""Products → Import against a real server: create or update by SKU, and a true result per row."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.barcodes import make_ean13
from pos_client.ui.manager.product_import import check_rows, parse_amount
from tests.factories import World
from tests.ui.manager_support import TIMEOUT

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


def test_import_creates_updates_and_refuses_rows_and_says_exactly_that(
    open_window, qtbot: QtBot, world: World, tmp_path: Path
) -> None:
    admin = world.api("admin")
    taken = admin.get(f"products/{world.a.product_ids[1]}").json()["barcodes"][0]
    fresh = make_ean13("890100000077")
    sheet = tmp_path / "products.csv"
    sheet.write_text(
        "SKU,Name,Price,Cost,Category,Barcodes\n"
        f'NEW-1,Basmati Rice 5 kg,"₹1,200.50",₹950,Grains,{fresh}\n'  # created, new category
        "ADMIN-0,Product 0 renamed,Rs. 99,,Grains,\n"  # an existing SKU: updated
        'NEW-2,Toor Dal 1 kg,"12,5",,,\n'  # refused here: a decimal comma is ambiguous
        f"NEW-3,Salt 1 kg,28,,,{taken}\n"  # refused by the server: the barcode is taken
        "NEW-4,Sugar 1 kg,45.00,,Grains,\n",  # created
        encoding="utf-8",
    )
    window = open_window("manager", start="products")
    page = window.open_screen("products")
    page.ask_import_path = lambda: sheet
    qtbot.mouseClick(page.import_button, LEFT)
    preview = page.dialog
    problems = [preview.table.item(r, 4).text() for r in range(preview.table.rowCount())]
    assert problems[0] == problems[1] == problems[3] == problems[4] == "OK"
    assert "decimals with a point" in problems[2]
    assert "4 ready, 1 with problems" in preview.summary.text()
    assert preview.import_button.isEnabled()

    qtbot.mouseClick(preview.import_button, LEFT)
    qtbot.waitUntil(lambda: preview.results is not None, timeout=TIMEOUT * 2)
    outcomes = [(r.line, r.sku, r.outcome) for r in preview.results]
    assert outcomes == [
        (2, "NEW-1", "created"),
        (3, "ADMIN-0", "updated"),
        (4, "NEW-2", "refused"),
        (5, "NEW-3", "refused"),
        (6, "NEW-4", "created"),
    ]
    shown = [preview.table.item(r, 5).text() for r in range(preview.table.rowCount())]
    assert shown[0] == "Created: new category Grains" and shown[1] == "Updated"
    assert shown[2].startswith("Refused: price") and shown[3].startswith("Refused: ")
    assert taken in shown[3] or "barcode" in shown[3].lower(), shown[3]
    assert preview.summary.text() == "Import finished: 2 created, 1 updated, 2 refused."

    # The server holds exactly what the result list says, no more and no less.
    by_sku = {p["sku"]: p for p in admin.get("products", params={"limit": 100}).json()["items"]}
    assert set(by_sku) == {"ADMIN-0", "ADMIN-1", "ADMIN-2", "NEW-1", "NEW-4"}
    grains = [c for c in admin.get("categories").json()["items"] if c["name"] == "Grains"]
    assert len(grains) == 1
    rice, sugar, renamed = by_sku["NEW-1"], by_sku["NEW-4"], by_sku["ADMIN-0"]
    assert Decimal(rice["price"]) == Decimal("1200.50") and Decimal(rice["cost"]) == 950
    assert rice["barcodes"] == [fresh] and rice["category_id"] == grains[0]["id"]
    assert sugar["category_id"] == grains[0]["id"]
    assert renamed["name"] == "Product 0 renamed" and Decimal(renamed["price"]) == 99
    assert renamed["category_id"] == grains[0]["id"] and renamed["barcodes"]  # kept its code

    qtbot.mouseClick(preview.import_button, LEFT)  # now "Close"
    qtbot.waitUntil(lambda: not preview.isVisible(), timeout=TIMEOUT)
    assert page.status.text() == "Imported 3 product(s) (created or updated)."


def test_check_rows_reads_the_category_column() -> None:
    (row,) = check_rows([{"sku": "A-1", "name": "A", "price": "₹1,000", "category": " Tea "}])
    assert row.ok and row.category == "Tea" and row.product.price == Decimal("1000")
