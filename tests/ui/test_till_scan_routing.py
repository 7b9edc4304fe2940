"""Scans that never vanish: while dialogs are open, when locked, cut short, typed into the
search box, or carrying GS1 data; and the scanner and printer settings screen (Ctrl+D)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from common.barcodes import GS
from pos_client.launch import Till
from pos_client.scanners.serial import SerialScannerConfig
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.ui.till.devices_dialog import DevicesDialog
from pos_client.ui.till.dialogs import OverrideDialog, ValueDialog
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.widgets.notice import NoticeBar
from tests.client.test_hid_filter import send_scan, send_text

MILK, BREAD, TEA = (DEMO_PRODUCTS[i].barcode for i in (0, 1, 3))
PANEER = DEMO_PRODUCTS[10].barcode


@pytest.fixture
def beeps(till: Till) -> list[bool]:
    heard: list[bool] = []
    till.window.pipeline.beep = lambda: heard.append(True)
    return heard


def press(qtbot: QtBot, till: Till, key: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    till.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is till.window, timeout=2000)
    qtbot.keyClick(till.window.sale_screen.search, key, modifier)


def dialog_notice(dialog: QWidget) -> str:
    bar = dialog.findChild(NoticeBar, "DialogNotice")
    return bar.text() if bar is not None and bar.isVisible() else ""


def paying_for_milk(qtbot: QtBot, till: Till, sign_in, scan) -> PaymentDialog:
    """Sign in, scan a milk and open the payment (F10); return it, its amount box focused."""
    sign_in()
    scan(MILK)
    press(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=2000)
    dialog = till.window.dialog
    assert isinstance(dialog, PaymentDialog)
    qtbot.waitUntil(dialog.amount.hasFocus, timeout=2000)
    return dialog


def skus(till: Till) -> list[tuple[str, Decimal]]:
    return [(line.item.sku, line.quantity) for line in till.window.cart.lines]


def test_scans_during_a_quantity_dialog_wait_and_go_into_the_cart_after(
    qtbot: QtBot, till: Till, sign_in, scan, settle, beeps: list[bool]
) -> None:
    sign_in()
    scan(MILK)
    press(qtbot, till, Qt.Key.Key_F4)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ValueDialog), timeout=2000)
    dialog = till.window.dialog
    before = dialog.value.text()
    scan(BREAD)
    scan(TEA)
    assert skus(till) == [("MILK-1L", 1)]  # not behind the dialog's back
    assert "(2 waiting) — it goes into the cart when this window closes" in dialog_notice(dialog)
    assert dialog.value.text() == before  # not one digit in the dialog's text box

    dialog.value.setText("3")
    qtbot.keyClick(dialog.value, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 3, timeout=3000)
    settle()
    assert skus(till) == [("MILK-1L", 3), ("BREAD-400", 1), ("TEA-250", 1)]
    assert "Added 2 scans made while the window was open" in till.window.sale_screen.notice.text()
    assert beeps == []


def test_scans_during_an_approval_wait_for_it(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(MILK)
    press(qtbot, till, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ValueDialog), timeout=2000)
    value = till.window.dialog
    value.value.setText("50%")
    qtbot.keyClick(value.value, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.findChild(OverrideDialog) is not None, timeout=2000)
    approval = till.window.findChild(OverrideDialog)
    scan(BREAD)
    assert "goes into the cart when this window closes" in dialog_notice(approval)
    assert approval.username.text() == "" and approval.pin.text() == ""
    approval.reject()
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 2, timeout=3000)
    assert skus(till)[-1] == ("BREAD-400", 1)


def test_scans_during_payment_are_refused_aloud_and_the_log_says_why(
    qtbot: QtBot, till: Till, sign_in, scan, beeps: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sign_in()
    scan(MILK)
    press(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=2000)
    dialog = till.window.dialog
    amount = dialog.amount.text()
    scan(BREAD)
    assert beeps == [True]
    assert "a payment is open" in dialog_notice(dialog)
    assert dialog.amount.text() == amount
    assert skus(till) == [("MILK-1L", 1)]
    assert "locked" not in caplog.text
    assert "refused: Scan not added: a payment is open" in caplog.text
    dialog.reject()
    qtbot.wait(300)
    assert skus(till) == [("MILK-1L", 1)]  # refused means refused: not added later either


def test_scan_on_a_locked_till_is_refused_aloud(
    qtbot: QtBot, till: Till, sign_in, scan, beeps: list[bool]
) -> None:
    sign_in()
    till.window.lock()
    scan(MILK)
    assert beeps == [True]
    assert "Till is locked" in till.window.login.error.text()


def test_barcode_typed_into_the_search_box_is_a_scan(
    qtbot: QtBot, till: Till, sign_in, settle, beeps: list[bool]
) -> None:
    sign_in()
    search = till.window.sale_screen.search
    search.setText(MILK)
    qtbot.keyClick(search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 1, timeout=3000)
    assert search.text() == ""
    # Digits cut short match nothing: said aloud as a misread, not "unknown barcode".
    search.setText("4007557")
    qtbot.wait(200)  # the search has answered (nothing)
    qtbot.keyClick(search, Qt.Key.Key_Return)
    settle()
    assert "4007557 — it may have been read short: scan the item again" in (
        till.window.sale_screen.notice.text()
    )
    assert beeps == [True]
    search.setText("40075571")  # eight digits: the check digit says it is a misread
    qtbot.wait(200)
    qtbot.keyClick(search, Qt.Key.Key_Return)
    settle()
    assert "40075571 was not read correctly" in till.window.sale_screen.notice.text()
    assert beeps == [True, True]


def test_stalled_scan_is_rejoined_when_its_check_digit_allows(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    sign_in()
    search = till.window.sale_screen.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    search.setText("tata" + MILK[:4])  # the head went out as typing before the stall
    till.window.scans.scan_partial(MILK[:4], MILK[4:])
    settle()
    assert search.text() == "tata"
    assert skus(till) == [("MILK-1L", 1)]
    # The same through a plain scan of the tail (the head was flushed on its own).
    search.setText(BREAD[:2])
    till.window.scans.hid_scanned(BREAD[2:])
    settle()
    assert search.text() == ""
    assert skus(till) == [("MILK-1L", 1), ("BREAD-400", 1)]


def test_partial_scan_that_cannot_be_rejoined_is_shown_and_sounded(
    qtbot: QtBot, till: Till, sign_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in()
    sounded: list[bool] = []
    monkeypatch.setattr(QApplication, "beep", lambda: sounded.append(True))
    search = till.window.sale_screen.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    search.setText("tata12")
    till.window.scans.scan_partial("12", "34567")
    assert search.text() == "tata"
    assert "Scan not read in full (123456…) — scan the item again" in (
        till.window.sale_screen.notice.text()
    )
    assert sounded == [True]
    assert till.window.cart.lines == []


def test_gs1_label_puts_weight_lot_and_expiry_on_the_line(
    qtbot: QtBot, till: Till, sign_in, scan
) -> None:
    sign_in()
    paneer14 = "0" + PANEER
    scan(f"]C101{paneer14}3103000750{GS}10LOT-9{GS}17271231")
    scan(f"]C101{'0' + MILK}10B1{GS}17270131")
    scan(f"]C101{'0' + MILK}10B2{GS}17270228")
    lines = till.window.cart.lines
    assert [(line.item.sku, line.quantity) for line in lines] == [
        ("PANEER", Decimal("0.750")),
        ("MILK-1L", Decimal(1)),
        ("MILK-1L", Decimal(1)),  # another lot is another line
    ]
    assert lines[0].attributes == {"lot": "LOT-9", "expiry": "2027-12-31"}
    assert lines[0].total == Decimal("315.00")
    assert lines[2].attributes == {"lot": "B2", "expiry": "2027-02-28"}
    model = till.window.sale_screen.cart_model
    assert model.data(model.index(0, 0)).endswith("Lot LOT-9 · Exp 2027-12-31")


def open_devices_as(qtbot: QtBot, till: Till, *, approve_as: str | None) -> DevicesDialog:
    press(qtbot, till, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    if approve_as is not None:
        qtbot.waitUntil(lambda: till.window.findChild(OverrideDialog) is not None, timeout=2000)
        approval = till.window.findChild(OverrideDialog)
        approval.username.setText(approve_as)
        approval.pin.setText("1234")
        approval.approve.click()
    qtbot.waitUntil(
        lambda: isinstance(till.window.scans.devices_dialog, DevicesDialog), timeout=3000
    )
    dialog = till.window.scans.devices_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    return dialog


def test_devices_screen_from_a_locked_till_saves_and_applies(
    qtbot: QtBot, make_till: Callable[..., Till], sign_in, tmp_path: Path
) -> None:
    till = make_till()
    # Signed out (as after enrolling with --enrol-code): a manager's PIN still opens it.
    qtbot.waitUntil(lambda: not till.window.is_selling, timeout=1000)
    press(qtbot, till, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: till.window.findChild(OverrideDialog) is not None, timeout=2000)
    approval = till.window.findChild(OverrideDialog)
    approval.username.setText("asha")  # a cashier may not
    approval.pin.setText("1234")
    approval.approve.click()
    qtbot.waitUntil(lambda: bool(approval.error.text()), timeout=3000)
    assert till.window.scans.devices_dialog is None
    approval.username.setText("ravi")
    approval.pin.setText("1234")
    approval.approve.click()
    qtbot.waitUntil(
        lambda: isinstance(till.window.scans.devices_dialog, DevicesDialog), timeout=3000
    )
    dialog = till.window.scans.devices_dialog

    # Test scan: what any scanner reads shows in the dialog, not in the cart.
    till.window.pipeline.handle(f"]C101{'0' + MILK}3103001250{GS}10L7")
    assert "product code " + MILK in dialog.test_result.text()
    assert "Lot L7" in dialog.test_result.text()
    assert "Net 1.250 kg" in dialog.test_result.text()
    till.window.pipeline.handle("]E05901234123458")
    assert "not a code the till accepts" in dialog.test_result.text()

    port = tmp_path / "no-scanner-here"
    dialog.port.setCurrentText(str(port))
    dialog.baud.setCurrentText("19200")
    dialog.suffix.setCurrentIndex(dialog.suffix.findData("NONE"))
    dialog.typical_gap.setValue(35)
    dialog.stall_gap.setValue(90)
    dialog.printer_kind.setCurrentIndex(dialog.printer_kind.findData(""))
    dialog.save.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)

    saved = json.loads((tmp_path / "till.json").read_text())
    assert saved["serial_scanner"]["port"] == str(port)
    assert saved["serial_scanner"]["baudrate"] == 19200
    assert saved["serial_scanner"]["suffix"] == "NONE"
    assert saved["hid"]["max_gap_ms"] == 35 and saved["hid"]["stall_gap_ms"] == 90
    assert saved["printer"] is None
    assert till.hid.detector.stall_gap_ms == 90
    assert till.serial is not None and till.serial.config == SerialScannerConfig(
        port=str(port), baudrate=19200, suffix="NONE"
    )
    # The port does not exist: the status bar says so, coloured.
    qtbot.waitUntil(lambda: "reconnecting" in till.window.scanner_label.text(), timeout=5000)
    assert till.window.scanner_label.property("state") == "down"
    assert till.receipts.state == "none"


def test_devices_screen_opens_straight_for_a_signed_in_manager(
    qtbot: QtBot, till: Till, sign_in
) -> None:
    sign_in("ravi")
    dialog = open_devices_as(qtbot, till, approve_as=None)
    dialog.stall_gap.setValue(20)  # shorter than the typical gap: refused, with the reason
    dialog.save.click()
    assert "cannot be shorter" in dialog.error.text()
    assert dialog.isVisible()
    dialog.reject()


def test_stalled_scan_during_payment_leaves_the_amount_box_as_it_was(
    qtbot: QtBot, till: Till, sign_in, scan, beeps: list[bool]
) -> None:
    dialog = paying_for_milk(qtbot, till, sign_in, scan)
    amount = dialog.amount.text()
    dialog.amount.setText(amount + BREAD[:6])  # the head went into the amount box as typing
    till.window.scans.scan_partial(BREAD[:6], BREAD[6:])
    assert dialog.amount.text() == amount
    assert "a payment is open" in dialog_notice(dialog)
    assert beeps == [True]
    assert skus(till) == [("MILK-1L", 1)]


def test_stalled_scan_typed_over_the_selected_amount_puts_the_amount_back(
    qtbot: QtBot, till: Till, sign_in, scan, beeps: list[bool]
) -> None:
    # Real key events through the till's own scanner filter. On a busy machine a scan stalls
    # after its first keys; they go out as typing into the payment's amount box, over the
    # amount it offers (selected), before the rest of the burst shows they were a scan.
    box = paying_for_milk(qtbot, till, sign_in, scan).amount
    amount = box.text()
    assert box.selectedText() == amount != ""
    send_text(box, BREAD[:5], start_ms=90_000_000, gap_ms=2)
    qtbot.wait(250)  # the stall: longer than the filter's pause
    assert box.text() == BREAD[:5]  # the head went in over the selected amount
    send_scan(box, BREAD[5:], start_ms=90_000_200, gap_ms=2)
    qtbot.waitUntil(lambda: "a payment is open" in dialog_notice(till.window.dialog))
    assert box.text() == amount
    assert box.selectedText() == amount  # typing a new amount still replaces it
    assert beeps == [True]
    assert skus(till) == [("MILK-1L", 1)]
