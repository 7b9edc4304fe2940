"""At the till, a search shows a template once; choosing it opens the variant picker."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.sync.protocol import ChangeOp, PulledChange
from pos_client.launch import Till
from pos_client.store.replica import apply_changes
from pos_client.ui.till.variant_picker import VariantPicker

TEMPLATE = 900


def _variant(pid: int, label: str, price: str) -> PulledChange:
    return PulledChange(
        entity="product",
        key=str(pid),
        op=ChangeOp.UPSERT,
        data={
            "id": pid,
            "sku": f"KURTA-{pid}",
            "name": f"Linen kurta ({label.replace(' / ', ', ')})",
            "price": price,
            "unit": "piece",
            "active": True,
            "barcodes": [],
            "template_id": TEMPLATE,
            "template_name": "Linen kurta",
            "variant": label,
        },
    )


def test_search_shows_the_template_and_the_picker_adds_the_chosen_variant(
    qtbot: QtBot, till: Till, sign_in
) -> None:
    with till.store.transaction() as session:
        apply_changes(
            session,
            [
                _variant(9001, "M / White", "899.00"),
                _variant(9002, "L / White", "899.00"),
                _variant(9003, "XL / Indigo", "949.00"),
            ],
        )
    sign_in()
    window = till.window
    window.sale_screen.search.setText("linen kurta")
    qtbot.waitUntil(lambda: window.sale_screen.results_visible, timeout=5000)
    items = window.sale_screen.results_model.items
    assert [(i.name, i.template_id, i.variant) for i in items] == [("Linen kurta", TEMPLATE, None)]
    qtbot.keyClick(window.sale_screen.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(window.dialog, VariantPicker), timeout=5000)
    picker = window.dialog
    rows = [picker.list.item(i).text() for i in range(picker.list.count())]
    assert [row.split("   ")[0] for row in rows] == ["M / White", "L / White", "XL / Indigo"]
    assert window.cart.lines == []  # nothing is sold until a variant is chosen
    picker.list.setCurrentRow(2)
    qtbot.keyClick(picker.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.cart.lines) == 1, timeout=3000)
    line = window.cart.lines[0]
    assert (line.item.product_id, line.item.variant, line.unit_price) == (
        9003,
        "XL / Indigo",
        Decimal("949.00"),
    )
    qtbot.waitUntil(lambda: not picker.isVisible(), timeout=3000)
