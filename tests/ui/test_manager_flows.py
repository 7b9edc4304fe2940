"""Manager screens against a real server on loopback: real widgets, real HTTP, real database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from pos_client.api.client import ApiClient
from pos_client.ui.manager.window import ManagerWindow, open_back_office
from tests.factories import PASSWORD, World

TIMEOUT = 10_000


@pytest.fixture
def open_window(
    qtbot: QtBot, world: World, live_server
) -> Iterator[Callable[[str], ManagerWindow]]:
    """Sign in as a user over HTTP and show the back-office window."""
    opened: list[tuple[ManagerWindow, ApiClient]] = []

    def open_as(username: str) -> ManagerWindow:
        client = ApiClient(live_server.url)
        window = open_back_office(client=client, username=username, password=PASSWORD)
        qtbot.addWidget(window)
        window.show()
        opened.append((window, client))
        return window

    yield open_as
    for window, client in opened:
        window.ctx.pool.close()
        window.close()
        client.close()


def wait_loaded(qtbot: QtBot, table) -> None:
    """Wait until a server table has answered (rows or empty state)."""
    qtbot.waitUntil(lambda: not table.loading, timeout=TIMEOUT)
    assert table.last_error == ""


def select_row(table, predicate) -> dict:
    """Select the first row matching predicate in a ServerTable and return it."""
    for index, row in enumerate(table.model.rows):
        if predicate(row):
            table.view.selectRow(index)
            return row
    raise AssertionError(f"no matching row among {len(table.model.rows)}")


def accept_dialog(qtbot: QtBot, dialog: QDialog) -> None:
    """Press the dialog's OK and wait for the server to agree."""
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dialog.result() == QDialog.DialogCode.Accepted or dialog.error.isVisible(),
        timeout=TIMEOUT,
    )
    assert not dialog.error.isVisible(), dialog.error.text()


def test_window_shows_only_allowed_screens(open_window) -> None:
    viewer = open_window("viewer")
    keys = [s.key for s in viewer.screens]
    assert "admin" not in keys and "audit" not in keys
    assert "products" in keys and "stock" in keys
    admin = open_window("admin")
    assert [s.key for s in admin.screens][-1] == "admin"


def test_create_product_and_print_label_pdf(open_window, qtbot: QtBot, tmp_path: Path) -> None:
    window = open_window("manager")
    page = window.open_screen("products")
    wait_loaded(qtbot, page.table)
    assert page.table.total == 3

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.sku.setText("TEA-500")
    dialog.name.setText("Assam Tea 500 g")
    dialog.price.setText("245.50")
    dialog.barcodes.setText("5901234123458")  # wrong check digit: refused before sending
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible() and "Check digit" in dialog.error.text()
    dialog.barcodes.setText("")
    dialog.generate.setChecked(True)
    accept_dialog(qtbot, dialog)
    created = dialog.result_value
    assert created.barcodes and created.barcodes[0].startswith("04")  # internal EAN-13
    assert created.price == Decimal("245.50")

    page.search.setText("TEA-500")
    qtbot.waitUntil(lambda: page.table.total == 1 and not page.table.loading, timeout=TIMEOUT)
    select_row(page.table, lambda p: p.sku == "TEA-500")
    target = tmp_path / "labels.pdf"
    page.ask_label_path = lambda: target
    qtbot.mouseClick(page.labels_button, Qt.MouseButton.LeftButton)
    assert page.last_labels == target and target.stat().st_size > 1000
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "40", str(target), str(tmp_path / "page")], check=True
        )
        assert list(tmp_path.glob("page*.png"))
