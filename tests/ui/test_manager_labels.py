"""Labels from the Products screen to a thermal label printer: a raw TCP printer on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from pos_client.ui.manager.labels import label_settings
from tests.ui.manager_support import TIMEOUT, select_row, wait_loaded


class RawPrinter:
    """A port-9100 style printer: accepts connections and keeps every byte it is sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.jobs: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while data := connection.recv(65536):
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def printer() -> Iterator[RawPrinter]:
    raw = RawPrinter()
    yield raw
    raw.close()


def test_labels_go_to_a_network_label_printer_as_zpl(
    open_window, qtbot: QtBot, printer: RawPrinter
) -> None:
    window = open_window("manager", start="products")
    page = window.open_screen("products")
    wait_loaded(qtbot, page.table)
    page.table.view.selectAll()
    chosen = [p for p in page.table.selected_rows() if p.barcodes]
    assert len(chosen) >= 2

    qtbot.mouseClick(page.labels_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.to_printer.setChecked(True)
    dialog.printer_target.setText(f"127.0.0.1:{printer.port}")
    dialog.copies.setValue(3)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=TIMEOUT)

    qtbot.waitUntil(lambda: len(printer.jobs) == 1, timeout=TIMEOUT)
    job = printer.jobs[0].decode("ascii")
    # One label format per product, each printed three times by the printer itself.
    assert job.count("^XA") == len(chosen) == job.count("^PQ3")
    for product in chosen:
        code = product.barcodes[0]
        assert f"^FD{code[:12]}^FS" in job or f"^FD{code}^FS" in job
    assert page.status.text() == (
        f"{3 * len(chosen)} label(s) sent to the label printer at 127.0.0.1:{printer.port}."
    )

    # The printer is remembered: the next dialog opens on it.
    qtbot.mouseClick(page.labels_button, Qt.MouseButton.LeftButton)
    again = page.dialog
    assert again is not dialog and again.to_printer.isChecked()
    assert again.printer_target.text() == f"127.0.0.1:{printer.port}"
    again.reject()
    assert label_settings().value("labels/printer_kind") == "network"


def test_an_offline_label_printer_keeps_the_dialog_open_with_the_reason(
    open_window, qtbot: QtBot
) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here any more: the printer is off

    window = open_window("manager", start="products")
    page = window.open_screen("products")
    wait_loaded(qtbot, page.table)
    select_row(page.table, lambda p: bool(p.barcodes))
    qtbot.mouseClick(page.labels_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.to_printer.setChecked(True)
    dialog.printer_target.setText(f"127.0.0.1:{port}")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.error.isVisible, timeout=TIMEOUT)
    assert "Printer offline" in dialog.error.text()
    assert dialog.isVisible() and dialog.ok_button.isEnabled()
    # A failed job is not remembered as the label printer.
    assert label_settings().value("labels/printer_target") is None

    dialog.printer_target.setText("")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "address" in dialog.error.text()
    dialog.reject()
