"""Keyboard-only till flows: returns picked from a list, refunds, approvals, shift close."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from pos_client.launch import Till
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.store.models import Return, Sale
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.returns_dialog import ReturnsDialog

MILK, BREAD, RICE, TEA = (p.barcode for p in DEMO_PRODUCTS[:4])
NO = Qt.KeyboardModifier.NoModifier


def focused(qtbot: QtBot) -> QWidget:
    """Return the widget with keyboard focus (waiting for one to have it)."""
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
    return QApplication.focusWidget()


def key(qtbot: QtBot, k: Qt.Key, modifier: Qt.KeyboardModifier = NO) -> None:
    """Press one key where the keyboard focus is, as a cashier would."""
    qtbot.keyClick(focused(qtbot), k, modifier)


def type_text(qtbot: QtBot, text: str) -> None:
    """Type text where the keyboard focus is, at a person's pace (a burst would be a scan).

    The scanner filter holds back the last keys for a moment to tell typing from a scan, so
    wait until they have all reached the box.
    """
    target = focused(qtbot)
    before = target.text() if hasattr(target, "selectedText") else None
    selected = target.selectedText() if before is not None else ""
    qtbot.keyClicks(target, text, delay=70)
    if before is not None and not selected:
        qtbot.waitUntil(lambda: target.text().endswith(text), timeout=2000)
    elif before is not None:
        qtbot.waitUntil(lambda: text in target.text(), timeout=2000)
    else:
        qtbot.wait(100)


def till_key(qtbot: QtBot, till: Till, k: Qt.Key) -> None:
    """Press a key on the till window once it is the active window again."""
    qtbot.waitUntil(lambda: QApplication.activeWindow() is till.window, timeout=3000)
    key(qtbot, k)


def sell(qtbot: QtBot, till: Till, settle: Callable[[], None], *tenders: tuple[str, str]) -> Sale:
    """Pay the cart by keyboard: F1 cash / F2 card with an amount (and card reference)."""
    before = till.window.last_sale
    till_key(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=2000)
    dialog = till.window.dialog
    qtbot.waitUntil(lambda: focused(qtbot) is dialog.amount, timeout=2000)
    for tender, amount in tenders:
        key(qtbot, Qt.Key.Key_F2 if tender == "card" else Qt.Key.Key_F1)
        dialog.amount.selectAll()
        type_text(qtbot, amount)
        if tender == "card":
            key(qtbot, Qt.Key.Key_Tab)
            assert focused(qtbot) is dialog.reference
            type_text(qtbot, "TXN-1")
        key(qtbot, Qt.Key.Key_Return)
    key(qtbot, Qt.Key.Key_Return)  # the sale is covered: Enter completes it
    qtbot.waitUntil(lambda: till.window.last_sale is not before, timeout=5000)
    settle()
    with till.store.session() as session:
        return session.get(Sale, till.window.last_sale.sale_id)


def open_returns(qtbot: QtBot, till: Till) -> ReturnsDialog:
    till_key(qtbot, till, Qt.Key.Key_F3)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ReturnsDialog), timeout=2000)
    dialog = till.window.dialog
    qtbot.waitUntil(lambda: focused(qtbot) is dialog.code, timeout=2000)
    return dialog


def test_return_chosen_from_the_list_by_keyboard_only(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    sign_in()
    scan(MILK)
    scan(MILK)
    scan(TEA)
    first = sell(qtbot, till, settle, ("cash", "500"))
    scan(BREAD)
    sell(qtbot, till, settle, ("cash", "100"))

    dialog = open_returns(qtbot, till)
    qtbot.waitUntil(lambda: dialog.sales.count() == 2, timeout=3000)  # today's sales
    assert dialog.sales_label.text() == "Today's sales"
    type_text(qtbot, "297")  # by amount
    qtbot.waitUntil(lambda: dialog.sales.count() == 1, timeout=3000)
    assert dialog.sales.item(0).text().startswith(first.receipt_number)
    key(qtbot, Qt.Key.Key_Down)
    assert focused(qtbot) is dialog.sales
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.sale is not None, timeout=3000)
    assert dialog.sale.sale_id == first.id
    assert focused(qtbot) is dialog.table
    milk = next(r for r in range(2) if dialog.table.item(r, 0).text().startswith("Amul"))
    while dialog.table.currentRow() != milk:
        key(qtbot, Qt.Key.Key_Down)
    type_text(qtbot, "2")
    key(qtbot, Qt.Key.Key_Return)
    assert dialog.total.text() == "Refund ₹132.00"
    # Enter again, in the table, the search box and on the same sale, keeps what was chosen.
    key(qtbot, Qt.Key.Key_Return)
    key(qtbot, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert focused(qtbot) is dialog.sales
    key(qtbot, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert focused(qtbot) is dialog.code
    key(qtbot, Qt.Key.Key_Return)
    assert focused(qtbot) is dialog.sales
    key(qtbot, Qt.Key.Key_Return)
    assert dialog.quantities() == {dialog.sale.lines[milk].line_id: Decimal(2)}
    assert focused(qtbot) is dialog.table
    key(qtbot, Qt.Key.Key_Tab)
    assert focused(qtbot) is dialog.reason
    type_text(qtbot, "Leaking")
    key(qtbot, Qt.Key.Key_Tab)
    assert focused(qtbot) is dialog.refund  # a cash sale: the refund is all cash
    assert dialog.cash_label.text() == "₹132.00"
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    settle()
    with till.store.session() as session:
        done = session.scalars(select(Return)).one()
    assert (done.original_sale_id, done.total, done.reason) == (
        first.id,
        Decimal("132.00"),
        "Leaking",
    )
    assert [(r["method"], r["amount"]) for r in done.refunds] == [("cash", "132.00")]
    assert "Refund ₹132.00 (Cash ₹132.00)" in till.window.sale_screen.notice.text()


def test_split_tender_refund_as_the_cashier_chooses_by_keyboard(
    qtbot: QtBot, till: Till, sign_in, scan, settle, printer_file
) -> None:
    sign_in()
    scan(RICE)  # 649, 5% GST inside
    sale = sell(qtbot, till, settle, ("card", "400"), ("cash", "249"))

    dialog = open_returns(qtbot, till)
    type_text(qtbot, sale.receipt_number)
    qtbot.waitUntil(lambda: dialog.sales.count() == 1, timeout=3000)
    key(qtbot, Qt.Key.Key_Return)  # the exact receipt number opens the sale
    qtbot.waitUntil(lambda: dialog.sale is not None, timeout=3000)
    type_text(qtbot, "1")
    key(qtbot, Qt.Key.Key_Return)
    key(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "Wrong brand")
    key(qtbot, Qt.Key.Key_Tab)
    card = dialog.tender_edits["card"]
    assert focused(qtbot) is card
    assert (card.text(), dialog.cash_label.text()) == ("400.00", "₹249.00")  # as paid
    card.selectAll()
    type_text(qtbot, "149")  # the customer wants most of it in cash
    assert dialog.cash_label.text() == "₹500.00"
    card.selectAll()
    type_text(qtbot, "401")  # more than the card paid
    assert not dialog.refund.isEnabled()
    assert "At most ₹400.00" in dialog.cash_label.text()
    card.selectAll()
    type_text(qtbot, "149")
    key(qtbot, Qt.Key.Key_Tab)
    assert focused(qtbot) is dialog.refund
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    settle()
    with till.store.session() as session:
        done = session.scalars(select(Return)).one()
    assert sorted((r["method"], r["amount"], r["reference"]) for r in done.refunds) == [
        ("card", "149.00", "TXN-1"),
        ("cash", "500.00", None),
    ]
    assert done.total == Decimal("649.00")
    qtbot.waitUntil(lambda: b"REFUND" in printer_file.read_bytes().upper(), timeout=5000)
    printed = printer_file.read_bytes().decode("cp437", "replace")
    refund_receipt = printed[printed.upper().rindex("REFUND") - 400 :]
    assert "Tax 0.00" not in refund_receipt.replace("  ", " ")
    assert "30.90" in refund_receipt  # 649 at 5% inclusive holds 30.90 of tax


def test_f10_pays_right_after_a_manager_approves(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    from pos_client.ui.till.dialogs import OverrideDialog

    sign_in()
    scan(RICE)
    till_key(qtbot, till, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: focused(qtbot) is getattr(till.window.dialog, "value", 0), timeout=2000)
    type_text(qtbot, "20%")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, OverrideDialog), timeout=3000)
    approval = till.window.dialog
    qtbot.waitUntil(lambda: focused(qtbot) is approval.username, timeout=2000)
    type_text(qtbot, "ravi")
    key(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "1234")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: till.window.cart.lines[0].discount > 0, timeout=5000)
    # No click anywhere: the till window has the keyboard again and F10 opens the payment.
    qtbot.waitUntil(lambda: QApplication.activeWindow() is till.window, timeout=3000)
    assert focused(qtbot) is till.window.sale_screen.search
    sale = sell(qtbot, till, settle, ("cash", "600"))
    assert (sale.total, sale.change_due) == (Decimal("519.20"), Decimal("80.80"))


def test_shift_close_by_denominations_with_the_keyboard(
    qtbot: QtBot, till: Till, sign_in, scan, settle
) -> None:
    from pos_client.ui.till.shift_dialogs import DenominationDialog, ShiftMenu, ZReportDialog

    sign_in(float_="1000")
    scan(TEA)
    sell(qtbot, till, settle, ("cash", "500"))  # 165 kept, 335 change
    till_key(qtbot, till, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ShiftMenu), timeout=2000)
    qtbot.waitUntil(lambda: focused(qtbot).window() is till.window.dialog, timeout=2000)
    key(qtbot, Qt.Key.Key_2)  # cash out
    qtbot.waitUntil(lambda: type(till.window.dialog).__name__ == "AmountDialog", timeout=2000)
    moving = till.window.dialog
    qtbot.waitUntil(lambda: focused(qtbot) is moving.amount, timeout=2000)
    assert moving.direction.currentData() == "out"
    type_text(qtbot, "100")
    key(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "Milk supplier")
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not moving.isVisible(), timeout=3000)
    settle()

    till_key(qtbot, till, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ShiftMenu), timeout=2000)
    qtbot.waitUntil(lambda: focused(qtbot).window() is till.window.dialog, timeout=2000)
    key(qtbot, Qt.Key.Key_4)  # close shift
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, DenominationDialog), timeout=3000)
    count = till.window.dialog
    assert count.expected_label.text() == "₹1,065.00"  # 1000 float + 165 kept - 100 out
    qtbot.waitUntil(lambda: focused(qtbot) is count.counts[Decimal(2000)], timeout=2000)
    # 2000 x0, 500 x2, 200 x0, 100 x0, 50 x1, 20 x0, 10 x1, 5 x0, 2 x2
    for typed in ("", "2", "", "", "1", "", "1", "", "2"):
        if typed:
            type_text(qtbot, typed)
        key(qtbot, Qt.Key.Key_Return)
    assert count.counted.text() == "₹1,064.00"
    assert count.difference.text() == "₹1.00 short"
    key(qtbot, Qt.Key.Key_Tab)  # past the 1-rupee coins to the button
    assert focused(qtbot) is count.ok
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, ZReportDialog), timeout=5000)
    z = till.window.dialog.report
    assert (z.counted_cash, z.expected_cash, z.variance) == (
        Decimal("1064.00"),
        Decimal("1065.00"),
        Decimal("-1.00"),
    )
    assert z.by_tender == {"cash": Decimal("165.00")}
    text = till.window.dialog.text.toPlainText()
    assert "500.00 x 2" in text and "Difference" in text and "Net tax" in text


def test_void_line_asks_then_says_what_it_removed(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    sign_in()
    scan(MILK)
    scan(MILK)
    scan(TEA)
    window = till.window
    till_key(qtbot, till, Qt.Key.Key_F8)
    assert len(window.cart.lines) == 2  # nothing removed yet
    assert window.sale_screen.notice.text() == "Press F8 again to remove 1 × Tata Tea Gold 250 g"
    till_key(qtbot, till, Qt.Key.Key_F8)
    assert [line.item.name for line in window.cart.lines] == ["Amul Taaza Toned Milk 1 L"]
    assert window.sale_screen.notice.text() == "Removed 1 × Tata Tea Gold 250 g (₹165.00)"


def test_quick_tenders_follow_the_total(qtbot: QtBot, till: Till, sign_in, scan) -> None:
    sign_in()
    scan(RICE)
    scan(RICE)  # 1,298.00
    till_key(qtbot, till, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(till.window.dialog, PaymentDialog), timeout=2000)
    dialog = till.window.dialog
    assert [b.text() for b in (dialog.exact, *dialog.note_buttons)] == [
        "Exact 1,298.00",
        "1,300",
        "1,500",
        "2,000",
    ]
    dialog.note_buttons[1].click()
    assert dialog.change.text() == "Change due ₹202.00"


def test_selling_past_the_stock_count_is_said_plainly(
    qtbot: QtBot, till: Till, sign_in, scan
) -> None:
    sign_in()
    notice = till.window.sale_screen.notice
    scan(RICE)  # 3 on the shelf by the till's count, low from 5
    assert notice.text() == "Low stock: 2 India Gate Basmati Rice 5 kg left after this sale"
    scan(RICE)
    scan(RICE)
    scan(RICE)
    assert notice.text() == (
        "India Gate Basmati Rice 5 kg: the till shows only 3 in stock. Sold anyway; "
        "the manager will see the stock count is off."
    )
    assert "-" not in notice.text().split(":")[0]


def test_opening_float_shows_what_was_typed(qtbot: QtBot, till: Till, settle) -> None:
    window = till.window
    window.login.username.setText("asha")
    window.login.pin.setText("1234")
    window.login.sign_in.click()
    qtbot.waitUntil(lambda: type(window.dialog).__name__ == "AmountDialog", timeout=5000)
    opening = window.dialog
    qtbot.waitUntil(lambda: focused(qtbot) is opening.amount, timeout=2000)
    type_text(qtbot, "2000")
    assert opening.amount.text() == "2000"  # not "02000"
    key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.shift is not None, timeout=5000)
    assert window.shift.opening_float == Decimal("2000.00")
