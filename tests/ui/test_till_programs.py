"""Customer programs at the till window, by keyboard: customer display with a UPI QR that
decodes to the amount due, gift card tender (offline), hold and recall, e-mail receipt.

Screenshots of the display and the new dialogs go to build/screenshots/.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import zxingcpp
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common import giftcards as numbers
from common.upi import read_uri
from pos_client.launch import Till
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.store import documents
from pos_client.store.models import OutboxEvent, Sale, SalePayment, Setting
from pos_client.store.programs import KnownPoints
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.program_dialogs import (
    EmailReceiptDialog,
    GiftCardDialog,
    HeldSalesDialog,
    SellCardDialog,
    UpiDialog,
)
from tests.ui.test_till_keyboard import key, type_text
from tests.ui.test_till_window import choose_customer

MILK, BREAD, RICE, TEA = (p.barcode for p in DEMO_PRODUCTS[:4])
CTRL = Qt.KeyboardModifier.ControlModifier
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"{name}.png"))


def _window_key(qtbot: QtBot, till: Till, k: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.waitUntil(lambda: QApplication.activeWindow() is till.window, timeout=3000)
    qtbot.keyClick(till.window, k, modifier)


def _payment(qtbot: QtBot, till: Till) -> PaymentDialog:
    _window_key(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=3000)
    dialog = till.window.dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    return dialog


def test_customer_display_shows_the_cart_and_a_upi_qr_for_the_amount_due(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    with till.store.transaction() as session:
        session.add_all(
            [
                Setting(key="upi_vpa", value="sharma.store@okbank"),
                Setting(key="upi_payee_name", value="Sharma General Store"),
            ]
        )
    sign_in()
    scan(MILK)
    scan(TEA)
    scan(TEA)
    _window_key(qtbot, till, Qt.Key.Key_D, CTRL | Qt.KeyboardModifier.ShiftModifier)
    display = till.window.programs.customer_display
    qtbot.waitUntil(lambda: display is not None and display.isVisible(), timeout=3000)
    assert display.table.rowCount() == 2
    assert display.table.item(1, 0).text() == "Tata Tea Gold 250 g"
    assert display.table.item(1, 1).text() == "2" and "330.00" in display.table.item(1, 2).text()
    assert display.total.text() == "Total ₹396.00" and display.savings.text() == ""
    # A discount shows as what the customer saves, on the display at once.
    till.window.cart.set_order_discount(amount=Decimal("6.00"))
    till.window.refresh_cart()
    assert display.total.text() == "Total ₹390.00"
    assert display.savings.text() == "You save ₹6.00"
    assert display.table.item(1, 0).text().startswith("Tata Tea Gold 250 g  (−₹")

    payment = _payment(qtbot, till)
    key(qtbot, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: isinstance(till.window.programs.upi_dialog, UpiDialog))
    upi = till.window.programs.upi_dialog
    qtbot.waitUntil(lambda: display.upi_link is not None, timeout=3000)
    assert display.qr_panel.isVisible() and "₹390.00" in display.prompt.text()
    # Decode the QR exactly as drawn on the customer's screen.
    [code] = zxingcpp.read_barcodes(display.qr.pixmap().toImage())
    fields = read_uri(code.text)
    assert fields["am"] == "390.00" and fields["pa"] == "sharma.store@okbank"
    assert fields["pn"] == "Sharma General Store" and fields["cu"] == "INR"
    assert code.text == display.upi_link
    _shot(display, "customer-display-upi")
    _shot(upi, "till-upi-dialog")
    _shot(payment, "till-payment-with-gift-card-and-upi")

    type_text(qtbot, "41234")
    key(qtbot, Qt.Key.Key_Return)
    assert "UPI reference" in upi.error.text() and upi.isVisible()
    type_text(qtbot, "5678901")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: payment.remaining == 0, timeout=3000)
    assert not display.qr_panel.isVisible()  # the QR goes once the payment is taken
    before = till.window.last_sale
    qtbot.waitUntil(lambda: QApplication.activeWindow() is payment, timeout=3000)
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()
    with till.store.session() as session:
        sale = session.scalars(select(Sale).order_by(Sale.created_at.desc())).first()
        paid = session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id)).all()
    assert [(p.method, p.amount, p.reference) for p in paid] == [
        ("upi", Decimal("390.00"), "412345678901")
    ]
    qtbot.waitUntil(lambda: display.total.text() == "Welcome!", timeout=3000)


def test_a_gift_card_pays_offline_within_the_till_limits(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(RICE)  # 649.00
    payment = _payment(qtbot, till)
    key(qtbot, Qt.Key.Key_F4)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), GiftCardDialog))
    card = QApplication.activeModalWidget()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is card.number, timeout=3000)
    _shot(card, "till-gift-card-dialog")
    number = numbers.new_number()
    typo = number[:-1] + str((int(number[-1]) + 3) % 10)
    type_text(qtbot, typo)
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "mistyped" in card.error.text(), timeout=3000)
    card.number.setText(number)
    card.amount.setText("3000")  # beyond the business's offline limit per card
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "at most ₹2,000.00 from card" in card.error.text(), timeout=3000)
    card.amount.setText("1000")  # within the limit, beyond what is due
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "left to pay" in card.error.text(), timeout=3000)
    card.amount.setText("649.00")
    card.number.setFocus()
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: payment.remaining == 0, timeout=3000)
    assert not card.isVisible()
    before = till.window.last_sale
    qtbot.waitUntil(lambda: QApplication.activeWindow() is payment, timeout=3000)
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()
    receipt = till.window.last_sale.receipt
    assert [(p.method, p.reference) for p in receipt.payments] == [
        ("Gift card", numbers.masked(number))
    ]
    with till.store.session() as session:
        paid = session.scalars(select(SalePayment).where(SalePayment.method == "gift_card")).all()
    assert [(p.amount, p.reference) for p in paid] == [(Decimal("649.00"), number)]


def test_hold_then_recall_and_email_the_receipt_by_keyboard(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(MILK)
    scan(BREAD)
    held_cart = till.window.cart
    _window_key(qtbot, till, Qt.Key.Key_H, CTRL)
    qtbot.waitUntil(lambda: till.window.cart.is_empty, timeout=3000)
    assert "Sale held" in till.window.sale_screen.notice.text()
    scan(TEA)
    # Another sale is on: recalling is refused until it is finished or held too.
    _window_key(qtbot, till, Qt.Key.Key_R, CTRL)
    assert "before recalling" in till.window.sale_screen.notice.text()
    _window_key(qtbot, till, Qt.Key.Key_H, CTRL)
    qtbot.waitUntil(lambda: till.window.cart.is_empty, timeout=3000)

    _window_key(qtbot, till, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, HeldSalesDialog), timeout=3000)
    held = till.window.dialog
    qtbot.waitUntil(lambda: held.list.count() == 2, timeout=3000)
    _shot(held, "till-held-sales")
    key(qtbot, Qt.Key.Key_Return)  # the oldest first: milk and bread
    qtbot.waitUntil(lambda: not till.window.cart.is_empty, timeout=3000)
    assert [line.item.sku for line in till.window.cart.lines] == ["MILK-1L", "BREAD-400"]
    assert till.window.cart.totals() == held_cart.totals()

    payment = _payment(qtbot, till)
    before = till.window.last_sale
    key(qtbot, Qt.Key.Key_Return)  # exact cash
    qtbot.waitUntil(lambda: payment.remaining == 0, timeout=3000)
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()

    _window_key(qtbot, till, Qt.Key.Key_E, CTRL)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, EmailReceiptDialog), timeout=3000)
    email = till.window.dialog
    qtbot.waitUntil(lambda: QApplication.focusWidget() is email.email, timeout=3000)
    type_text(qtbot, "asha@example.com")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "must agree" in email.error.text(), timeout=3000)
    qtbot.waitUntil(lambda: email.isEnabled(), timeout=3000)
    key(qtbot, Qt.Key.Key_Tab)
    key(qtbot, Qt.Key.Key_Space)
    # The scanner filter holds typed keys back a moment (is it a person or a scanner?).
    qtbot.waitUntil(email.consent.isChecked, timeout=3000)
    _shot(email, "till-email-receipt")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not email.isVisible(), timeout=3000)
    settle()
    with till.store.session() as session:
        bodies = [
            json.loads(row.body)
            for row in session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "receipt.email_requested")
            )
        ]
    assert len(bodies) == 1
    payload = bodies[0]["payload"]
    assert payload["email"] == "asha@example.com" and payload["consent"] is True
    assert payload["receipt_number"] == till.window.last_sale.receipt_number
    assert "Britannia Whole Wheat Bread" in payload["body"]


def test_a_gift_card_sold_for_cash_is_counted_in_the_drawer(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    sign_in()
    _window_key(qtbot, till, Qt.Key.Key_G, CTRL)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, SellCardDialog), timeout=3000)
    sell = till.window.dialog
    qtbot.waitUntil(lambda: QApplication.focusWidget() is sell.number, timeout=3000)
    number = numbers.new_number()
    type_text(qtbot, number)
    key(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "500")
    _shot(sell, "till-sell-gift-card")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not sell.isVisible(), timeout=3000)
    settle()
    assert numbers.grouped(number) in till.window.sale_screen.notice.text()
    with till.store.session() as session:
        sold = [
            json.loads(row.body)["payload"]
            for row in session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == "giftcard.sold")
            )
        ]
        totals = documents.shift_totals(session, shift_id=till.window.shift.shift_id)
    assert [(p["number"], p["amount"]) for p in sold] == [(number, "500.00")]
    assert totals["cash_in"] == Decimal("500.00")


def test_points_are_shown_when_the_customer_is_chosen_and_pay_offline(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    with till.store.transaction() as session:
        session.add_all(
            [
                Setting(key="loyalty_point_value", value="0.50"),
                KnownPoints(customer_id=501, points=40),  # Meera Stores, as last synced
            ]
        )
    sign_in()
    scan(MILK)  # 66.00
    choose_customer(qtbot, till, "Meera Stores", settle)
    qtbot.waitUntil(
        lambda: (
            "Meera Stores: 40 loyalty points (₹20.00) as last synced"
            in till.window.sale_screen.notice.text()
        ),
        timeout=3000,
    )
    payment = _payment(qtbot, till)
    payment.amount.setText("30")
    key(qtbot, Qt.Key.Key_F7)
    qtbot.waitUntil(lambda: "has 40 points" in payment.error.text(), timeout=3000)
    assert "60 are needed" in payment.error.text()
    payment.amount.setText("15.25")
    key(qtbot, Qt.Key.Key_F7)
    qtbot.waitUntil(lambda: payment.remaining == Decimal("50.75"), timeout=3000)
    key(qtbot, Qt.Key.Key_Return)  # the rest in cash
    qtbot.waitUntil(lambda: payment.remaining == 0, timeout=3000)
    before = till.window.last_sale
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()
    with till.store.session() as session:
        paid = session.scalars(select(SalePayment).where(SalePayment.method == "loyalty")).all()
    assert [(p.amount, p.reference) for p in paid] == [(Decimal("15.25"), "31")]
