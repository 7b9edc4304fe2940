"""The back office's variant matrix: sizes by colours, priced cell by cell, created at once."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.ui.manager_support import accept_dialog, reload_until, wait_loaded


def test_a_variant_matrix_is_laid_out_priced_and_created(
    open_window, qtbot: QtBot, live_server, world
) -> None:
    window = open_window("manager", start="products")
    page = window.open_screen("products")
    wait_loaded(qtbot, page.table)
    qtbot.mouseClick(page.variants_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.sku.setText("KURTA")
    dialog.name.setText("Linen kurta")
    dialog.price.setText("899.00")
    dialog.rows_values.setText("M, L, XL")
    dialog.columns_values.setText("White, Indigo")
    qtbot.mouseClick(dialog.show_grid, Qt.MouseButton.LeftButton)
    assert (dialog.grid.rowCount(), dialog.grid.columnCount()) == (3, 2)
    assert dialog.grid.item(2, 1).text() == "899.00"
    dialog.grid.item(2, 1).setText("949.00")  # XL in indigo costs more
    dialog.grid.item(0, 0).setText("cheap")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible() and "M / White" in dialog.error.text()
    dialog.grid.item(0, 0).setText("899")
    accept_dialog(qtbot, dialog)
    made = dialog.result_value
    assert len(made.variants) == 6
    prices = {" / ".join(v.variant.values()): v.price for v in made.variants}
    assert prices["XL / Indigo"] == Decimal("949.00") and prices["M / White"] == Decimal("899")
    assert page.status.text().startswith("Created KURTA")
    page.search.setText("KURTA")
    reload_until(qtbot, page.table, lambda rows: len(rows) == 6)
