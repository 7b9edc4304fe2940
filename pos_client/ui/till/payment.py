"""The payment dialog: cash with change, card with reference, split, on account."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.codes import Tender
from common.errors import CreditLimitExceeded, DomainError, ValidationFailed
from common.money import ZERO, format_money, quick_cash, round_money
from pos_client.services.till import (
    CreditInfo,
    Payment,
    account_payment,
    card_payment,
    remaining,
)
from pos_client.ui.till.dialogs import button, error_label, title_label
from pos_client.ui.widgets.messages import explain


def parse_amount(text: str) -> Decimal:
    """Read an amount typed by the cashier."""
    try:
        value = Decimal(text.replace(",", "").replace("₹", "").strip())
    except InvalidOperation:
        raise ValidationFailed(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValidationFailed(f"{text!r} is not an amount")
    return round_money(value)


def _whole(text: str) -> str:
    """Drop a zero fraction from a formatted amount (2,000.00 -> 2,000)."""
    whole, _, fraction = text.partition(".")
    return whole if not fraction.strip("0") else text


class PaymentDialog(QDialog):
    """Collect payments until the total is covered, then hand them over with paid()."""

    paid = Signal(list)

    def __init__(
        self,
        *,
        total: Decimal,
        customer: CreditInfo | None,
        currency: str,
        account_refusal: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Payment")
        self.account_refusal = account_refusal
        self.setModal(True)
        self.total = total
        self.customer = customer
        self.currency = currency
        self.payments: list[Payment] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(26, 22, 26, 22)
        layout.setSpacing(12)
        layout.addWidget(title_label("Payment"))
        self.due = QLabel()
        self.due.setObjectName("DueAmount")
        layout.addWidget(self.due)
        self.change = QLabel()
        self.change.setObjectName("ChangeAmount")
        layout.addWidget(self.change)

        tenders = QHBoxLayout()
        self.group = QButtonGroup(self)
        self.tender_buttons = {}
        for key, tender, label in (
            ("F1", Tender.CASH, "Cash"),
            ("F2", Tender.CARD, "Card"),
            ("F3", Tender.ACCOUNT, "On account"),
        ):
            b = button(f"{label}\n{key}", role="tender", name=f"Tender_{tender}")
            b.setCheckable(True)
            self.group.addButton(b)
            self.tender_buttons[tender] = b
            b.clicked.connect(lambda _=False, t=tender: self.choose(t))
            QShortcut(QKeySequence(key), self).activated.connect(lambda t=tender: self.choose(t))
            tenders.addWidget(b)
        if customer is None:
            self.tender_buttons[Tender.ACCOUNT].setToolTip("Choose a customer first (F9)")
        layout.addLayout(tenders)

        grid = QGridLayout()
        self.amount_label = QLabel("Cash received")
        self.amount = QLineEdit()
        self.amount.setObjectName("AmountEdit")
        self.amount.returnPressed.connect(self.add_payment)
        self.reference = QLineEdit()
        self.reference.setObjectName("ReferenceEdit")
        self.reference.setPlaceholderText("Reference from the card terminal")
        self.reference.returnPressed.connect(self.add_payment)
        self.reference_label = QLabel("Card reference")
        grid.addWidget(self.amount_label, 0, 0)
        grid.addWidget(self.amount, 0, 1)
        grid.addWidget(self.reference_label, 1, 0)
        grid.addWidget(self.reference, 1, 1)
        layout.addLayout(grid)

        notes = QHBoxLayout()
        self.exact = button("Exact", name="ExactButton")
        self.exact.clicked.connect(lambda: self._quick_cash(self.remaining))
        notes.addWidget(self.exact)
        # The next round amounts above what is due (₹1,265 -> 1,300 / 1,500 / 2,000).
        self.note_buttons: list[QPushButton] = []
        for i in range(3):
            b = button("", name=f"QuickCash{i}")
            b.clicked.connect(lambda _=False, i=i: self._quick_cash(self.note_amounts[i]))
            notes.addWidget(b)
            self.note_buttons.append(b)
        self.note_amounts: list[Decimal] = []
        self.notes = notes
        layout.addLayout(notes)

        self.add_button = button("Add payment (Enter)", name="AddPaymentButton")
        self.add_button.clicked.connect(self.add_payment)
        layout.addWidget(self.add_button)
        self.list = QListWidget()
        self.list.setObjectName("PaymentList")
        self.list.setMaximumHeight(120)
        layout.addWidget(self.list)
        self.error = error_label()
        layout.addWidget(self.error)

        actions = QHBoxLayout()
        cancel = button("Back to sale (Esc)")
        cancel.clicked.connect(self.reject)
        self.undo = button("Remove payments", role="danger")
        self.undo.clicked.connect(self.clear_payments)
        actions.addWidget(cancel)
        actions.addWidget(self.undo)
        layout.addLayout(actions)
        self.complete = button("Complete sale", role="pay", name="CompleteButton")
        self.complete.clicked.connect(self.finish)
        layout.addWidget(self.complete)
        self.setMinimumWidth(560)
        # Enter is handled by the amount box (add, then complete), never by a default button,
        # so one key press never both takes the cash and ends the sale.
        for b in self.findChildren(QPushButton):
            b.setAutoDefault(False)
            b.setDefault(False)
        self.choose(Tender.CASH)
        self._refresh()

    @property
    def remaining(self) -> Decimal:
        """Return what is still to pay."""
        return remaining(total=self.total, payments=self.payments)

    @property
    def tender(self) -> Tender:
        """Return the tender selected."""
        for tender, b in self.tender_buttons.items():
            if b.isChecked():
                return tender
        return Tender.CASH

    def choose(self, tender: Tender) -> None:
        """Select a tender and prepare its fields."""
        self.tender_buttons[tender].setChecked(True)
        is_card = tender == Tender.CARD
        self.reference.setVisible(is_card)
        self.reference_label.setVisible(is_card)
        self.amount_label.setText(
            {
                Tender.CASH: "Cash received",
                Tender.CARD: "Card amount",
                Tender.ACCOUNT: "On account",
            }[tender]
        )
        self._show_notes(tender == Tender.CASH)
        self.amount.setText(f"{max(self.remaining, ZERO)}")
        self.amount.setFocus()
        self.amount.selectAll()
        self.error.clear()

    def _quick_cash(self, amount: Decimal) -> None:
        self.choose(Tender.CASH)
        self.amount.setText(str(amount))
        self.add_payment()

    def add_payment(self) -> None:
        """Add the payment typed in; if the sale is then covered, Enter completes it."""
        if self.remaining <= 0:
            self.finish()
            return
        try:
            self.payments.append(self._payment())
        except DomainError as exc:
            self.error.setText(explain(exc))
            return
        self.error.clear()
        self._refresh()
        if self.remaining > 0:
            self.choose(self.tender)
        else:
            # The change is on screen now; Enter once more completes the sale.
            self.amount.clear()
            self.amount.setPlaceholderText("Press Enter to complete the sale")
            self.amount.setFocus()

    def _payment(self) -> Payment:
        amount = parse_amount(self.amount.text())
        due = self.remaining
        if amount <= 0:
            raise ValidationFailed("Enter an amount above zero")
        tender = self.tender
        if tender == Tender.CASH:
            # Cash may be more than due (change) or less (the rest is paid another way).
            return Payment(tender=Tender.CASH, amount=min(amount, due), tendered=amount)
        if amount > due:
            raise ValidationFailed(f"Only {format_money(due, self.currency)} is left to pay")
        if tender == Tender.CARD:
            return card_payment(amount=amount, reference=self.reference.text())
        if self.account_refusal:
            raise CreditLimitExceeded(self.account_refusal)
        credit = self.customer
        if credit is not None:
            # Account payments already added in this dialog use up the same credit.
            used = sum((p.amount for p in self.payments if p.tender == Tender.ACCOUNT), ZERO)
            credit = CreditInfo(
                customer_id=credit.customer_id,
                local_id=credit.local_id,
                name=credit.name,
                credit_limit=credit.credit_limit,
                balance=credit.balance + used,
                phone=credit.phone,
            )
        return account_payment(amount=amount, credit=credit, currency=self.currency)

    def add_tender(self, payment: Payment) -> bool:
        """Add a payment taken in its own dialog (gift card, UPI); False if it is too much."""
        if payment.amount > self.remaining:
            self.error.setText(f"Only {format_money(self.remaining, self.currency)} is left to pay")
            return False
        self.payments.append(payment)
        self.error.clear()
        self._refresh()
        if self.remaining > 0:
            self.choose(self.tender)
        else:
            self.amount.clear()
            self.amount.setPlaceholderText("Press Enter to complete the sale")
            self.amount.setFocus()
        return True

    def clear_payments(self) -> None:
        """Start the payment over."""
        self.payments.clear()
        self._refresh()
        self.choose(self.tender)

    def finish(self) -> None:
        """Hand the payments over once they cover the total."""
        if self.remaining != 0:
            self.error.setText(f"{format_money(self.remaining, self.currency)} is still to pay")
            return
        self.complete.setEnabled(False)
        self.paid.emit(list(self.payments))

    def fail(self, error: BaseException) -> None:
        """Show why the sale could not be completed; the payments stay for another try."""
        self.complete.setEnabled(True)
        self.error.setText(explain(error))

    def _show_notes(self, visible: bool) -> None:
        """Show or hide the quick-cash row (exact amount and the round notes above it)."""
        for b in (self.exact, *self.note_buttons):
            b.setVisible(visible)

    def _refresh(self) -> None:
        def money(amount: Decimal) -> str:
            return format_money(amount, self.currency)

        left = self.remaining
        self.due.setText(f"To pay {money(left)}" if left > 0 else f"Paid {money(self.total)}")
        change = sum((p.change for p in self.payments), ZERO)
        self.change.setText(f"Change due {money(change)}" if change else "")
        self.list.clear()
        names = {
            Tender.CASH: "Cash",
            Tender.CARD: "Card",
            Tender.ACCOUNT: "On account",
            Tender.GIFT_CARD: "Gift card",
            Tender.UPI: "UPI",
            Tender.LOYALTY: "Points",
        }
        for p in self.payments:
            extra = f"  (received {money(p.tendered)})" if p.tendered and p.change else ""
            ref = f"  ref {p.reference}" if p.reference else ""
            self.list.addItem(f"{names.get(p.tender, p.tender)}  {money(p.amount)}{extra}{ref}")
        self.list.setVisible(bool(self.payments))
        self.undo.setVisible(bool(self.payments))
        self.complete.setEnabled(left == 0)
        self.add_button.setEnabled(left > 0)
        self.add_button.setVisible(left > 0)
        due = max(left, ZERO)
        self.exact.setText(f"Exact {format_money(due, self.currency, symbol=False)}")
        self.note_amounts = quick_cash(due, self.currency) if due > 0 else []
        for b, amount in zip(self.note_buttons, self.note_amounts, strict=False):
            b.setText(_whole(format_money(amount, self.currency, symbol=False)))
        self._show_notes(left > 0 and self.tender == Tender.CASH)
        self.complete.setText(
            f"Complete sale · {money(self.total)}" if left == 0 else "Complete sale"
        )
        self.complete.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
