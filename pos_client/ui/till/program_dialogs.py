"""Till dialogs of customer programs, keyboard first (Enter does it, Esc goes back):
gift card tender, UPI payment reference, held sales list, e-mail receipt."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError
from common.money import format_money
from pos_client.ui.till.dialogs import button, error_label, title_label
from pos_client.ui.till.payment import parse_amount
from pos_client.ui.widgets.messages import explain

if TYPE_CHECKING:
    from common.schemas.pickup import PickupRead
    from pos_client.services.held_sales import HeldRow


def words(error: BaseException) -> str:
    """Say what went wrong, including a server's refusal, in words a cashier can act on."""
    # Loaded on use: it brings the sync protocol, which starting the till does not need.
    from pos_client.services.sync_engine import SyncFailed

    if isinstance(error, SyncFailed):
        if error.unreachable:
            return "The server cannot be reached; try again when the till is back online."
        return str(error)  # the server's own words (its problem detail)
    return explain(error)


class _KeyboardDialog(QDialog):
    """A small modal dialog whose buttons never take Enter from the fields."""

    error: QLabel  # every such dialog shows its errors in one label
    _typing_in: QWidget | None = None

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Enter does the dialog's one thing from any field (line edits pass Enter up to us).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.isEnabled():
                self.submit()
            event.accept()
            return
        super().keyPressEvent(event)

    def submit(self) -> None:
        raise NotImplementedError

    def _settle_buttons(self) -> None:
        for b in self.findChildren(type(button(""))):
            b.setAutoDefault(False)
            b.setDefault(False)

    def show_error(self, error: BaseException | str) -> None:
        """Show why the step failed, in the dialog."""
        self.error.setText(error if isinstance(error, str) else words(error))
        self.busy(False)

    def busy(self, on: bool) -> None:
        """Grey the dialog while the till asks the server or the store; keep the keyboard."""
        if on:
            self._typing_in = self.focusWidget()
        self.setEnabled(not on)
        if not on and (field := self._typing_in) is not None:
            field.setFocus()
            self._typing_in = None


class GiftCardDialog(_KeyboardDialog):
    """Take a gift card or store credit: number (typed or scanned), amount, PIN if it has one."""

    submitted = Signal(str, object, str)  # number, amount (Decimal), pin

    def __init__(self, *, due: Decimal, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gift card")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Gift card or store credit"))
        form = QFormLayout()
        self.number = QLineEdit()
        self.number.setObjectName("CardNumberEdit")
        self.number.setPlaceholderText("Scan the card or type its 16 digits")
        self.amount = QLineEdit(str(due))
        self.amount.setObjectName("CardAmountEdit")
        self.pin = QLineEdit()
        self.pin.setObjectName("CardPinEdit")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setPlaceholderText("Only if the card has a PIN")
        form.addRow("Card number", self.number)
        form.addRow(f"Amount ({format_money(due, currency)} due)", self.amount)
        form.addRow("PIN", self.pin)
        layout.addLayout(form)
        self.status = QLabel()
        self.status.setObjectName("CardStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Take card (Enter)", role="pay", name="TakeCardButton")
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.setMinimumWidth(480)
        self.number.setFocus()

    def submit(self) -> None:
        """Hand the card over to be checked (online) or bounded (offline)."""
        try:
            amount = parse_amount(self.amount.text())
        except DomainError as exc:
            self.show_error(exc)
            return
        self.error.clear()
        self.busy(True)
        self.status.setText("Checking the card…")
        self.submitted.emit(self.number.text(), amount, self.pin.text())


class UpiDialog(_KeyboardDialog):
    """The customer scans the QR on their display; the cashier types the UPI reference."""

    confirmed = Signal(object, str)  # amount (Decimal), reference

    def __init__(
        self, *, amount: Decimal, currency: str, link: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("UPI payment")
        self.setModal(True)
        self.amount = amount
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label(f"UPI · {format_money(amount, currency)}"))
        hint = (
            "The QR code is on the customer display. When their app shows the payment as "
            "done, type the UPI reference (UTR) they read out."
            if link
            else "This shop has no UPI address set (setting upi_vpa): no QR code can be "
            "shown. Take the payment by another way."
        )
        text = QLabel(hint)
        text.setObjectName("UpiHint")
        text.setWordWrap(True)
        layout.addWidget(text)
        self.reference = QLineEdit()
        self.reference.setObjectName("UpiReferenceEdit")
        self.reference.setPlaceholderText("UPI reference, e.g. 412345678901")
        self.reference.setEnabled(link is not None)
        layout.addWidget(self.reference)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Paid (Enter)", role="pay", name="UpiOkButton")
        self.ok.setEnabled(link is not None)
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.setMinimumWidth(480)
        self.reference.setFocus()

    def submit(self) -> None:
        """Confirm the payment with its reference (a UPI reference is 12 digits or more)."""
        reference = self.reference.text().strip()
        if len(reference) < 6 or not reference.isalnum():
            self.show_error("Type the UPI reference the customer's app shows (letters/digits)")
            return
        self.confirmed.emit(self.amount, reference)
        self.accept()


class HeldSalesDialog(_KeyboardDialog):
    """Held sales of this till (and of the branch when online); Enter recalls the chosen one."""

    recall = Signal(object)  # HeldRow

    def __init__(self, *, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Held sales")
        self.setModal(True)
        self.currency = currency
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Held sales"))
        self.list = QListWidget()
        self.list.setObjectName("HeldList")
        self.list.itemDoubleClicked.connect(lambda item: self.submit())
        layout.addWidget(self.list, 1)
        self.status = QLabel()
        self.status.setObjectName("HeldStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Recall (Enter)", role="pay", name="RecallButton")
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.rows: list[HeldRow] = []
        self.setMinimumSize(700, 360)

    def show_rows(self, rows: list[HeldRow], *, note: str = "") -> None:
        """List held sales, this till's first; note says whether the branch's were asked."""
        seen = {row.hold_id for row in self.rows}
        self.rows.extend(row for row in rows if row.hold_id not in seen)
        self.list.clear()
        for row in self.rows:
            where = "here" if row.here else "other till"
            items = f"{row.line_count} line{'s' if row.line_count != 1 else ''}"
            text = (
                f"{row.parked_at.astimezone():%H:%M}  {row.label[:26]:<26}  {items:<8} "
                f"{format_money(row.total, self.currency):>10}  · {where}"
            )
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, row.hold_id)
            self.list.addItem(item)
        if self.rows:
            self.list.setCurrentRow(0)
        self.status.setText(note or ("" if self.rows else "No sales are held."))
        self.list.setFocus()

    def submit(self) -> None:
        """Recall the highlighted held sale."""
        index = self.list.currentRow()
        if index < 0 or index >= len(self.rows):
            self.show_error("Choose a held sale with the arrow keys")
            return
        self.busy(True)
        self.recall.emit(self.rows[index])


class EmailReceiptDialog(_KeyboardDialog):
    """Send the last receipt by e-mail: address, and the customer's consent said aloud."""

    submitted = Signal(str, bool)  # email, consent

    def __init__(
        self, *, receipt_number: str, email: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("E-mail receipt")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label(f"E-mail receipt {receipt_number}"))
        self.email = QLineEdit(email)
        self.email.setObjectName("ReceiptEmailEdit")
        self.email.setPlaceholderText("customer@example.com, or a mobile number for SMS")
        layout.addWidget(self.email)
        self.consent = QCheckBox("The customer agrees to get this receipt (e-mail or SMS)")
        self.consent.setObjectName("ReceiptConsent")
        from pos_client.services.ereceipts import CONSENT_TEXT

        self.consent.setToolTip(CONSENT_TEXT)
        self.consent.toggled.connect(lambda _: self.error.clear())
        layout.addWidget(self.consent)
        hint = QLabel("Space ticks the box. Sent when the till is online.")
        hint.setObjectName("Hint")
        layout.addWidget(hint)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Send (Enter)", role="pay", name="SendReceiptButton")
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.setMinimumWidth(520)
        self.email.setFocus()

    def submit(self) -> None:
        """Queue the e-mail (the service checks the address and the consent)."""
        self.error.clear()
        self.busy(True)
        self.submitted.emit(self.email.text(), self.consent.isChecked())


class SellCardDialog(_KeyboardDialog):
    """Sell a gift card for cash: scan the pre-printed card (or leave it empty for a new
    number) and type its value; the server issues it when the till syncs."""

    submitted = Signal(str, object)  # number ("" for a new one), amount (Decimal)

    def __init__(self, *, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sell a gift card")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Sell a gift card (cash)"))
        form = QFormLayout()
        self.number = QLineEdit()
        self.number.setObjectName("SellCardNumberEdit")
        self.number.setPlaceholderText("Scan the card; empty makes a new number")
        self.amount = QLineEdit()
        self.amount.setObjectName("SellCardAmountEdit")
        self.amount.setPlaceholderText(f"Value in {currency}")
        form.addRow("Card number", self.number)
        form.addRow("Value", self.amount)
        layout.addLayout(form)
        self.status = QLabel()
        self.status.setObjectName("SellCardStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Sell (Enter)", role="pay", name="SellCardButton")
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.setMinimumWidth(480)

    def submit(self) -> None:
        """Sell the card for the value typed."""
        try:
            amount = parse_amount(self.amount.text())
        except DomainError as exc:
            self.show_error(exc)
            return
        self.error.clear()
        self.busy(True)
        self.submitted.emit(self.number.text().strip(), amount)


class PickupDialog(_KeyboardDialog):
    """Click-and-collect: type or scan the order number, Enter finds it; Enter again takes
    what is due in cash and hands the order over."""

    find_order = Signal(str)  # number
    collect = Signal(str, object)  # number, amount due (Decimal)

    def __init__(self, *, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Collect an online order")
        self.setModal(True)
        self.currency = currency
        self.found: PickupRead | None = None  # the order shown
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Collect an online order"))
        self.number = QLineEdit()
        self.number.setObjectName("PickupNumberEdit")
        self.number.setPlaceholderText("Order number (type or scan)")
        self.number.textEdited.connect(self._changed)
        layout.addWidget(self.number)
        self.details = QLabel()
        self.details.setObjectName("PickupDetails")
        self.details.setWordWrap(True)
        layout.addWidget(self.details, 1)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        back = button("Back (Esc)")
        back.clicked.connect(self.reject)
        self.ok = button("Find (Enter)", role="pay", name="PickupButton")
        self.ok.clicked.connect(self.submit)
        row.addWidget(back)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self._settle_buttons()
        self.setMinimumWidth(520)

    def _changed(self, _text: str) -> None:
        self.found = None
        self.details.clear()
        self.ok.setText("Find (Enter)")

    def show_order(self, order: PickupRead) -> None:
        """Show the order found: customer, lines, what is due; Enter then hands it over."""
        self.busy(False)
        self.found = order

        def money(amount: Decimal) -> str:
            return format_money(amount, self.currency)

        lines = "".join(
            f"<br>{line.quantity.normalize():f} × {line.name}  {money(line.line_total)}"
            for line in order.lines
        )
        state = {"awaiting": "not ready yet", "ready": "ready", "collected": "already collected"}
        self.details.setText(
            f"<b>{order.number}</b> · {order.customer} · {state.get(order.pickup_status, '')}"
            f"{lines}<br><b>"
            + (f"Take {money(order.due)} in cash, then" if order.due else "Paid online:")
            + " hand the order over.</b>"
        )
        self.ok.setText("Hand over (Enter)")

    def submit(self) -> None:
        """Find the order, or collect the one shown."""
        number = self.number.text().strip()
        if not number:
            self.show_error("Type or scan the order number")
            return
        self.error.clear()
        self.busy(True)
        if self.found is None:
            self.find_order.emit(number)
        else:
            self.collect.emit(number, self.found.due)
