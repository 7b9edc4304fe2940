"""Promotions from the back office: create, preview a cart, refuse bad input, end one.

Real widgets against a real server on loopback: every check reads what the server stored.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.factories import World
from tests.ui.manager_support import TIMEOUT, eventually, reload_until, select_row, wait_loaded

LEFT = Qt.MouseButton.LeftButton


def test_manager_creates_previews_and_ends_a_promotion(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    tea = world.a.product_ids[0]
    window = open_window("manager", start="promotions")
    page = window.open_screen("promotions")
    wait_loaded(qtbot, page.table)

    # Bad input: refused with words a manager understands, nothing stored.
    page.name.setText("Tea 10%")
    page.kind.setCurrentIndex(page.kind.findData("percent_off"))
    page.value.setText("")
    qtbot.mouseClick(page.create_button, LEFT)
    qtbot.waitUntil(lambda: "percent" in page.message.text(), timeout=TIMEOUT)
    page.products.setText("12, tea")
    qtbot.mouseClick(page.create_button, LEFT)
    assert page.message.text() == "Products: give numbers separated by commas"
    assert admin.get("promotions").json()["total"] == 0

    page.name.setText("Tea 2+1")
    page.kind.setCurrentIndex(page.kind.findData("buy_x_get_y"))
    page.products.setText(str(tea))
    page.buy.setValue(2)
    page.get.setValue(1)
    qtbot.mouseClick(page.create_button, LEFT)
    qtbot.waitUntil(lambda: page.message.text().startswith("Created Tea 2+1"), timeout=TIMEOUT)
    reload_until(qtbot, page.table, lambda rows: any(r.name == "Tea 2+1" for r in rows))

    page.preview_cart.setText(f"{tea}x3")
    qtbot.mouseClick(page.preview_button, LEFT)
    qtbot.waitUntil(lambda: page.preview_result.text() != "", timeout=TIMEOUT)
    assert page.preview_result.text() == "Total 20.00 (saved 10.00): Tea 2+1 −10.00"

    row = select_row(page.table, lambda r: r.name == "Tea 2+1")
    qtbot.mouseClick(page.end_button, LEFT)
    eventually(qtbot, lambda: admin.get(f"promotions/{row.id}").json()["active"] is False)
    qtbot.waitUntil(lambda: page.message.text() == "Ended 1 promotion(s).", timeout=TIMEOUT)


def test_a_viewer_sees_promotions_but_cannot_write(open_window, qtbot: QtBot) -> None:
    window = open_window("viewer", start="promotions")
    page = window.open_screen("promotions")
    wait_loaded(qtbot, page.table)
    assert not page.create_button.isVisible() and not page.end_button.isVisible()
