"""The till window driven through its real widgets over a real local store on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.barcodes import make_ean13
from common.codes import Tender
from pos_client.launch import Till
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.store.models import (
    Customer,
    OutboxEvent,
    Return,
    Sale,
    SalePayment,
    Shift,
    StockLevel,
)
from pos_client.ui.till.customer_dialog import CustomerDialog
from pos_client.ui.till.dialogs import OverrideDialog, ValueDialog
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.returns_dialog import ReturnsDialog
from pos_client.ui.till.shift_dialogs import DenominationDialog, ZReportDialog

MILK, BREAD, RICE, TEA = (p.barcode for p in DEMO_PRODUCTS[:4])
# A scale label: bananas (item 00010), 1.250 kg.
BANANAS_1250G = make_ean13("200001001250")


def send_keys(receiver: QWidget, text: str, *, start_ms: int, gap_ms: int) -> None:
    """Send key presses and releases stamped like real input, through the application."""
    for index, char in enumerate(text):
        key = Qt.Key.Key_Return if char == "\r" else ord(char.upper())
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, char)
            event.setTimestamp(start_ms + index * gap_ms)
            QApplication.sendEvent(receiver, event)


def on_hand(till: Till, product_id: int) -> Decimal:
    with till.store.session() as session:
        return session.get(StockLevel, product_id).on_hand


def outbox_types(till: Till) -> list[str]:
    with till.store.session() as session:
        return list(session.scalars(select(OutboxEvent.type).order_by(OutboxEvent.seq)))


def press(
    qtbot: QtBot,
    till: Till,
    key: Qt.Key,
    modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Press a key on the till window as a cashier would (shortcuts included)."""
    till.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is till.window, timeout=2000)
    qtbot.keyClick(till.window.sale_screen.search, key, modifier)


def open_payment(qtbot: QtBot, till: Till) -> PaymentDialog:
    press(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=2000)
    return till.window.dialog


def pay(qtbot: QtBot, till: Till, dialog: PaymentDialog, settle: Callable[[], None]) -> Sale:
    """Complete the sale and return it as stored."""
    before = till.window.last_sale
    dialog.complete.click()
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()
    with till.store.session() as session:
        return session.get(Sale, till.window.last_sale.sale_id)


def test_cash_sale_scan_to_receipt(
    qtbot: QtBot, till: Till, sign_in, scan, settle, printer_file: Path
) -> None:
    sign_in()
    window = till.window
    scan(MILK)
    scan(MILK)
    scan(TEA)
    assert [(r.name, r.quantity) for r in window.sale_screen.cart_model.rows] == [
        ("Amul Taaza Toned Milk 1 L", Decimal(2)),
        ("Tata Tea Gold 250 g", Decimal(1)),
    ]
    assert window.sale_screen.totals.total.text() == "₹297.00"

    dialog = open_payment(qtbot, till)
    dialog.amount.setText("500")
    qtbot.keyClick(dialog.amount, Qt.Key.Key_Return)
    assert dialog.change.text() == "Change due ₹203.00"
    assert dialog.complete.isEnabled()
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        sale = pay(qtbot, till, dialog, settle)

    assert (sale.total, sale.change_due, sale.receipt_number) == (
        Decimal("297.00"),
        Decimal("203.00"),
        "BLR-T01-000001",
    )
    with till.store.session() as session:
        payments = session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id))
        assert [(p.method, p.amount) for p in payments] == [("cash", Decimal("500.00"))]
        event = session.scalars(select(OutboxEvent).where(OutboxEvent.document_id == sale.id)).one()
    assert event.type == "sale.completed"
    assert json.loads(event.body)["payload"]["total"] == "297.00"
    assert on_hand(till, 1) == Decimal(38)
    printed = printer_file.read_bytes()
    assert b"BLR-T01-000001" in printed and b"297.00" in printed
    assert window.cart.is_empty and window.sale_screen.cart_model.rows == []
    assert "Change ₹203.00" in window.sale_screen.notice.text()


def test_split_card_and_cash(qtbot: QtBot, till: Till, sign_in, scan, settle) -> None:
    sign_in()
    scan(RICE)
    dialog = open_payment(qtbot, till)
    dialog.tender_buttons[Tender.CARD].click()
    dialog.amount.setText("400")
    dialog.add_payment()
    assert "reference" in dialog.error.text()  # a card payment needs the terminal's reference
    dialog.reference.setText("TXN-77812")
    dialog.add_payment()
    assert dialog.remaining == Decimal("249.00")
    assert not dialog.complete.isEnabled()
    dialog.tender_buttons[Tender.CASH].click()
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    sale = pay(qtbot, till, dialog, settle)

    with till.store.session() as session:
        payments = session.scalars(
            select(SalePayment).where(SalePayment.sale_id == sale.id).order_by(SalePayment.method)
        )
        assert [(p.method, p.amount, p.reference) for p in payments] == [
            ("card", Decimal("400.00"), "TXN-77812"),
            ("cash", Decimal("249.00"), None),
        ]
    assert sale.total == Decimal("649.00") and sale.change_due == 0


def choose_customer(qtbot: QtBot, till: Till, name: str, settle) -> None:
    press(qtbot, till, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, CustomerDialog), timeout=2000)
    dialog = till.window.dialog
    dialog.search.setText(name)
    qtbot.waitUntil(lambda: [c.name for c in dialog.model.customers] == [name], timeout=3000)
    dialog.pick()
    assert till.window.cart.customer.name == name


def test_on_account_refused_over_limit_then_accepted(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(TEA)
    choose_customer(qtbot, till, "Kiran Rao", settle)  # limit 1000, owes 900
    dialog = open_payment(qtbot, till)
    dialog.tender_buttons[Tender.ACCOUNT].click()
    assert dialog.amount.text() == "165.00"
    dialog.add_payment()
    assert dialog.error.text() == (
        "Kiran Rao can buy only ₹100.00 more on account (limit ₹1,000.00, owing ₹900.00)"
    )
    assert dialog.payments == [] and not dialog.complete.isEnabled()
    dialog.reject()
    assert outbox_types(till) == ["shift.opened"]  # nothing was recorded

    choose_customer(qtbot, till, "Meera Stores", settle)  # limit 5000, owes 1200
    dialog = open_payment(qtbot, till)
    dialog.tender_buttons[Tender.ACCOUNT].click()
    dialog.add_payment()
    sale = pay(qtbot, till, dialog, settle)

    assert sale.customer_id == 501
    with till.store.session() as session:
        meera = session.scalars(select(Customer).where(Customer.server_id == 501)).one()
        method = session.scalars(
            select(SalePayment.method).where(SalePayment.sale_id == sale.id)
        ).one()
    assert meera.balance == Decimal("1365.00")
    assert method == "account"


def test_return_some_lines_by_scanned_receipt(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(MILK)
    scan(MILK)
    scan(TEA)
    dialog = open_payment(qtbot, till)
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    sale = pay(qtbot, till, dialog, settle)
    assert on_hand(till, 1) == Decimal(38)

    press(qtbot, till, Qt.Key.Key_F3)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ReturnsDialog), timeout=2000)
    returns = till.window.dialog
    # The receipt's barcode is scanned: the scan goes to the dialog, not to the cart.
    till.window.pipeline.handle(sale.receipt_number)
    qtbot.waitUntil(lambda: returns.sale is not None, timeout=3000)
    assert returns.table.rowCount() == 2
    row = next(r for r in range(2) if returns.table.item(r, 0).text().startswith("Amul"))
    returns.set_quantity(row, Decimal(3))  # more than was sold: nothing to refund
    assert not returns.refund.isEnabled()
    returns.set_quantity(row, Decimal(1))
    assert returns.total.text() == "Refund ₹66.00"
    returns.refund.click()
    qtbot.waitUntil(lambda: not returns.isVisible(), timeout=5000)
    settle()

    assert till.window.cart.is_empty
    with till.store.session() as session:
        done = session.scalars(select(Return)).one()
    assert done.original_sale_id == sale.id and done.total == Decimal("66.00")
    assert [(r["method"], r["amount"]) for r in done.refunds] == [("cash", "66.00")]
    assert on_hand(till, 1) == Decimal(39)
    assert outbox_types(till)[-1] == "return.recorded"


def approve(qtbot: QtBot, till: Till, username: str, pin: str) -> OverrideDialog:
    qtbot.waitUntil(lambda: till.window.findChild(OverrideDialog) is not None, timeout=2000)
    dialog = till.window.findChild(OverrideDialog)
    dialog.username.setText(username)
    dialog.pin.setText(pin)
    dialog.approve.click()
    return dialog


def test_discount_beyond_limit_needs_a_manager_and_is_recorded(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(RICE)
    press(qtbot, till, Qt.Key.Key_F5)
    value = till.window.dialog
    assert isinstance(value, ValueDialog)
    value.value.setText("20%")
    qtbot.keyClick(value.value, Qt.Key.Key_Return)

    refused = approve(qtbot, till, "asha", "1234")  # a cashier cannot approve
    qtbot.waitUntil(lambda: refused.error.text() != "", timeout=5000)
    assert refused.error.text() == "Asha Verma may not approve this"
    assert till.window.cart.lines[0].discount == 0

    refused.username.setText("ravi")
    refused.pin.setText("1234")
    refused.approve.click()
    qtbot.waitUntil(lambda: till.window.cart.lines[0].discount > 0, timeout=5000)
    assert till.window.cart.lines[0].discount == Decimal("129.80")
    assert till.window.sale_screen.totals.total.text() == "₹519.20"

    dialog = open_payment(qtbot, till)
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    sale = pay(qtbot, till, dialog, settle)
    assert sale.total == Decimal("519.20")
    assert [(o["kind"], o["manager_id"]) for o in sale.overrides] == [("line_discount", 2)]
    assert "Ravi Menon" in sale.overrides[0]["detail"]


def test_small_discount_needs_no_manager(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    sign_in()
    scan(TEA)
    till.window.sales.discount(order=False)
    till.window.dialog.value.setText("10")
    till.window.dialog.findChild(type(till.window.sale_screen.pay), "OkButton").click()
    assert till.window.cart.lines[0].discount == Decimal("10.00")
    assert till.window.findChild(OverrideDialog) is None


def test_return_without_receipt_needs_manager(qtbot: QtBot, till: Till, sign_in, settle) -> None:
    sign_in()
    press(qtbot, till, Qt.Key.Key_F3)
    returns = till.window.dialog
    returns.no_receipt.click()
    approve(qtbot, till, "ravi", "1234")
    qtbot.waitUntil(lambda: returns.override is not None, timeout=5000)
    till.window.pipeline.handle(MILK)
    qtbot.waitUntil(lambda: returns.table.rowCount() == 1, timeout=3000)
    returns.reason.setText("Leaking pack")
    returns.refund.click()
    qtbot.waitUntil(lambda: not returns.isVisible(), timeout=5000)
    settle()
    with till.store.session() as session:
        done = session.scalars(select(Return)).one()
    assert done.original_sale_id is None and done.total == Decimal("66.00")
    assert "approved by Ravi Menon" in done.reason and done.reason.startswith("Leaking pack")
    assert on_hand(till, 1) == Decimal(41)


def test_close_shift_gives_z_report(
    qtbot: QtBot, till: Till, sign_in, scan, settle, tmp_path: Path, printer_file: Path
) -> None:
    sign_in(float_="500")
    scan(MILK)
    scan(TEA)
    dialog = open_payment(qtbot, till)
    dialog.amount.setText("1000")
    dialog.add_payment()
    pay(qtbot, till, dialog, settle)

    press(qtbot, till, Qt.Key.Key_F11)
    menu = till.window.dialog
    menu.buttons["close"].click()
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, DenominationDialog), timeout=5000)
    closing = till.window.dialog
    closing.counts[Decimal(500)].setText("1")
    closing.counts[Decimal(200)].setText("1")
    closing.counts[Decimal(20)].setText("1")
    closing.ok.click()
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ZReportDialog), timeout=5000)
    report = till.window.dialog
    z = report.report
    assert (z.sale_count, z.gross_sales, z.by_tender) == (
        1,
        Decimal("231.00"),
        {"cash": Decimal("231.00")},
    )
    assert (z.expected_cash, z.counted_cash, z.variance) == (
        Decimal("731.00"),
        Decimal("720.00"),
        Decimal("-11.00"),
    )
    text = report.text.toPlainText()
    assert "Expected cash" in text and "-11.00" in text and "500.00 x 1" in text
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        report.findChild(type(till.window.sale_screen.pay), "SaveReportButton").click()
    pdf = tmp_path / "receipts" / f"zreport-{z.shift_id}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    printed = printer_file.read_bytes()  # the receipt printer got the report too
    assert b"Z REPORT" in printed and b"Expected cash" in printed and b"-11.00" in printed
    with till.store.session() as session:
        assert session.get(Shift, z.shift_id).closed_at is not None
    assert outbox_types(till)[-1] == "shift.closed"


def test_weighed_item_and_unknown_barcode(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    sign_in()
    beeps: list[bool] = []
    till.window.pipeline.beep = lambda: beeps.append(True)
    scan(BANANAS_1250G)
    line = till.window.cart.lines[0]
    assert (line.quantity, line.total) == (Decimal("1.250"), Decimal("75.00"))
    assert (
        till.window.sale_screen.cart_model.data(till.window.sale_screen.cart_model.index(0, 1))
        == "1.250 kg"
    )
    scan("4006381333931")
    assert "Unknown barcode 4006381333931" in till.window.sale_screen.notice.text()
    scan("5901234123458")
    assert "5901234123458 was not read correctly" in till.window.sale_screen.notice.text()
    assert beeps == [True, True]
    assert len(till.window.cart.lines) == 1


def test_search_box_adds_by_name(qtbot: QtBot, till: Till, sign_in, settle) -> None:
    sign_in()
    screen = till.window.sale_screen
    screen.search.setText("basmati ri")
    qtbot.waitUntil(
        lambda: [i.sku for i in screen.results_model.items] == ["RICE-5KG"], timeout=3000
    )
    qtbot.keyClick(screen.search, Qt.Key.Key_Return)
    assert [line.item.sku for line in till.window.cart.lines] == ["RICE-5KG"]
    assert screen.search.text() == ""
    assert "Low stock: 2 India Gate Basmati Rice 5 kg left after this sale" in screen.notice.text()


def test_hid_scan_lands_in_cart_while_search_box_has_focus(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    sign_in()
    search = till.window.sale_screen.search
    search.setFocus()
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    send_keys(search, MILK + "\r", start_ms=50_000, gap_ms=3)  # a scanner's burst
    qtbot.wait(150)
    settle()
    assert [line.item.sku for line in till.window.cart.lines] == ["MILK-1L"]
    assert search.text() == ""
    # The same characters typed by a person stay in the box.
    send_keys(search, "tata", start_ms=60_000, gap_ms=150)
    # The last key is held until typing pauses for longer than a scan may stall.
    qtbot.waitUntil(lambda: search.text() == "tata", timeout=2000)
    assert len(till.window.cart.lines) == 1


def test_wrong_pin_then_auto_lock_keeps_the_sale(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    login = till.window.login
    login.username.setText("asha")
    login.pin.setText("9999")
    login.sign_in.click()
    qtbot.waitUntil(lambda: login.error.text() != "", timeout=5000)
    assert login.error.text() == "Wrong username or PIN"
    assert not till.window.is_selling

    sign_in()
    scan(TEA)
    till.window.idle.clock.timeout_s = 0.01
    qtbot.wait(30)
    till.window.idle.check_now()
    assert till.window.stack.currentWidget() is login
    assert login.username.text() == "asha"
    till.window.pipeline.handle(MILK)  # a locked till does not sell
    qtbot.wait(50)
    till.window.idle.clock.timeout_s = 300
    sign_in()
    assert [line.item.sku for line in till.window.cart.lines] == ["TEA-250"]


def test_customer_created_offline(qtbot: QtBot, till: Till, sign_in, settle) -> None:
    sign_in()
    press(qtbot, till, Qt.Key.Key_F9)
    dialog = till.window.dialog
    dialog.new_name.setText("Farah Khan")
    dialog.new_phone.setText("9812345678")
    dialog.findChild(type(till.window.sale_screen.pay), "CreateCustomerButton").click()
    qtbot.waitUntil(lambda: till.window.cart.customer is not None, timeout=5000)
    settle()
    customer = till.window.cart.customer
    assert (customer.name, customer.customer_id) == ("Farah Khan", None)
    assert "Farah Khan" in till.window.sale_screen.totals.customer.text()
    assert outbox_types(till)[-1] == "customer.created"


def test_void_sale_needs_two_presses(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    sign_in()
    scan(MILK)
    press(qtbot, till, Qt.Key.Key_F7)
    assert not till.window.cart.is_empty
    press(qtbot, till, Qt.Key.Key_F7)
    assert till.window.cart.is_empty
    assert QApplication.instance() is not None


def test_reprint_any_receipt_by_number(
    qtbot: QtBot, till: Till, sign_in, scan, settle, printer_file: Path
) -> None:
    sign_in()
    scan(TEA)
    dialog = open_payment(qtbot, till)
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        first = pay(qtbot, till, dialog, settle)
    scan(MILK)
    dialog = open_payment(qtbot, till)
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        pay(qtbot, till, dialog, settle)
    printer_file.write_bytes(b"")

    press(qtbot, till, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    reprint = till.window.dialog
    assert reprint.value.text() == "BLR-T01-000002"  # the last one by default
    reprint.submitted.emit("BLR-T01-999999")
    qtbot.waitUntil(lambda: reprint.error.text() != "", timeout=3000)
    assert "No sale with receipt number BLR-T01-999999" in reprint.error.text()
    till.window.pipeline.handle(first.receipt_number)  # the receipt's barcode is scanned
    assert reprint.value.text() == first.receipt_number
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        reprint.submitted.emit(reprint.value.text())
    printed = printer_file.read_bytes()
    assert b"REPRINT" in printed and first.receipt_number.encode() in printed
    assert b"165.00" in printed


def test_sale_completes_when_the_printer_fails_and_the_receipt_prints_on_retry(
    qtbot: QtBot, make_till, sign_in, scan, settle, tmp_path: Path
) -> None:
    from pos_client.printing.queue import PrinterConfig

    target = tmp_path / "unplugged" / "printer.bin"  # its folder does not exist yet
    till = make_till(printer=PrinterConfig(kind="file", target=str(target), timeout_s=1))
    sign_in()
    scan(TEA)
    dialog = open_payment(qtbot, till)
    dialog.findChild(type(dialog.complete), "ExactButton").click()
    with qtbot.waitSignal(till.receipts.queue.job_failed, timeout=5000):
        sale = pay(qtbot, till, dialog, settle)
    assert sale.total == Decimal("165.00")  # the sale is recorded whatever the printer does
    qtbot.waitUntil(
        lambda: "Receipt not printed" in till.window.sale_screen.notice.text(), timeout=2000
    )
    target.parent.mkdir()
    press(qtbot, till, Qt.Key.Key_F11)
    menu = till.window.dialog
    with qtbot.waitSignal(till.receipts.queue.job_done, timeout=5000):
        menu.buttons["retry"].click()
    assert sale.receipt_number.encode() in target.read_bytes()


def test_scans_do_not_touch_the_cart_while_it_is_being_paid(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(TEA)
    dialog = open_payment(qtbot, till)
    till.window.pipeline.handle(MILK)
    settle()
    assert [line.item.sku for line in till.window.cart.lines] == ["TEA-250"]
    dialog.reject()
    qtbot.waitUntil(lambda: till.window.pipeline.enabled, timeout=2000)
    scan(MILK)
    assert [line.item.sku for line in till.window.cart.lines] == ["TEA-250", "MILK-1L"]
