"""Smaller till items: PDF receipts without a printer, "Sync now", a quiet terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from pos_client.launch import connect_sync
from pos_client.qt.sync_worker import SyncWorker
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.services.sync_engine import SyncEngine
from tests.ui.test_till_keyboard import sell

MILK = DEMO_PRODUCTS[0].barcode


def test_no_printer_writes_a_pdf_per_sale_into_a_folder_the_cashier_sees(
    qtbot: QtBot, make_till, sign_in, scan, settle, tmp_path: Path
) -> None:
    till = make_till(printer=None)
    window = till.window
    folder = tmp_path / "receipts"
    assert window.printer_label.text() == f"No printer · receipts saved as PDF in {folder}"
    sign_in()
    for _ in range(2):
        scan(MILK)
        sale = sell(qtbot, till, settle, ("cash", "100"))
        pdf = folder / f"receipt-{sale.receipt_number}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        assert f"PDF saved: {pdf.name}" in window.sale_screen.notice.text()
    assert len(list(folder.glob("receipt-*.pdf"))) == 2


def test_sync_now_asks_for_a_cycle_and_forgets_the_backoff(qtbot: QtBot, till) -> None:
    window = till.window
    assert not window.sync_now_button.isVisibleTo(window)  # no sync worker, no button
    engine = SyncEngine(till.store)  # not started: only the request is observed
    worker = SyncWorker(engine)
    connect_sync(window, worker)
    assert window.sync_now_button.isVisibleTo(window)
    engine._failures = 7  # a long outage: the next try would be minutes away
    qtbot.mouseClick(window.sync_now_button, Qt.MouseButton.LeftButton)
    assert engine._failures == 0 and engine._wake.is_set()
    assert engine.next_delay() == engine.poll_interval


def test_the_terminal_gets_warnings_only_and_the_file_gets_the_rest(tmp_path: Path) -> None:
    script = (
        "import logging, pathlib, sys\n"
        "from pos_client.app import configure_logging\n"
        "path = configure_logging(pathlib.Path(sys.argv[1]))\n"
        "logging.getLogger('httpx').info('HTTP Request: POST http://x/api/v1/sync/push')\n"
        "logging.getLogger('stockpilot.till.sync').info('sync failed; next try in 4.0s')\n"
        "logging.getLogger('stockpilot.till').warning('printer unplugged')\n"
        "print(path)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stderr.strip().splitlines() == ["WARNING stockpilot.till: printer unplugged"]
    written = Path(done.stdout.strip()).read_text(encoding="utf-8")
    assert "sync failed; next try" in written and "printer unplugged" in written
    assert "HTTP Request" not in written
