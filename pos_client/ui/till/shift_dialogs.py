"""Shift screens: the shift menu, float and cash in/out, the denomination count, X/Z reports."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIntValidator, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError
from common.money import ZERO, format_money
from pos_client.printing.receipt import layout_report
from pos_client.ui.till.dialogs import button, error_label, title_label
from pos_client.ui.till.payment import parse_amount
from pos_client.ui.widgets.messages import explain

if TYPE_CHECKING:
    from pos_client.services.shifts import ZReport


class AmountDialog(QDialog):
    """Ask for an amount (and a reason where one is needed)."""

    submitted = Signal(object, str, str)  # amount, reason, direction

    def __init__(
        self,
        *,
        title: str,
        prompt: str,
        initial: str = "",
        with_reason: bool = False,
        with_direction: bool = False,
        warning: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label(title))
        if warning:
            note = QLabel(warning)
            note.setObjectName("Notice")
            note.setProperty("kind", "warn")
            note.setWordWrap(True)
            layout.addWidget(note)
        form = QFormLayout()
        self.direction = QComboBox()
        self.direction.setObjectName("CashDirection")
        self.direction.addItem("Cash in", "in")
        self.direction.addItem("Cash out", "out")
        if with_direction:
            form.addRow("Movement", self.direction)
        # The box starts empty with the suggestion greyed out, so typing 2000 gives 2000.
        self.amount = QLineEdit()
        self.amount.setObjectName("AmountEdit")
        self.amount.setPlaceholderText(initial)
        self.initial = initial
        form.addRow(prompt, self.amount)
        self.reason = QLineEdit()
        self.reason.setObjectName("ReasonEdit")
        if with_reason:
            form.addRow("Reason", self.reason)
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        self.ok = button("OK (Enter)", role="primary", name="OkButton")
        self.ok.setDefault(True)
        self.ok.clicked.connect(self._submit)
        row.addWidget(cancel)
        row.addWidget(self.ok)
        layout.addLayout(row)
        self.setMinimumWidth(440)

    def _submit(self) -> None:
        try:
            amount = parse_amount(self.amount.text().strip() or self.initial or "")
        except DomainError as exc:
            self.fail(exc)
            return
        self.submitted.emit(amount, self.reason.text(), self.direction.currentData())

    def fail(self, error: BaseException) -> None:
        """Show why it was refused and keep the dialog open."""
        self.error.setText(explain(error))
        self.ok.setEnabled(True)


class ShiftMenu(QDialog):
    """The shift's actions as buttons, each with a number key: cash in/out, X report, close."""

    chosen = Signal(str)

    def __init__(self, *, failed_receipts: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Shift")
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Shift"))
        grid = QGridLayout()
        grid.setSpacing(10)
        actions = [
            ("1", "Cash in", "cash_in"),
            ("2", "Cash out", "cash_out"),
            ("3", "X report\n(shift stays open)", "x_report"),
            ("4", "Close shift\n(count, Z report)", "close"),
        ]
        if failed_receipts:
            actions.append(("5", f"Print {failed_receipts} failed\nreceipts again", "retry"))
        self.buttons: dict[str, QPushButton] = {}
        for i, (number, label, name) in enumerate(actions):
            b = button(f"{label}   [{number}]", role="action", name=f"Shift_{name}")
            b.setMinimumHeight(64)
            b.setAutoDefault(False)
            b.clicked.connect(lambda _=False, n=name: self._choose(n))
            shortcut = QShortcut(QKeySequence(number), self)
            shortcut.activated.connect(lambda n=name: self._choose(n))
            grid.addWidget(b, i // 2, i % 2)
            self.buttons[name] = b
        layout.addLayout(grid)
        cancel = button("Back to sale (Esc)")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        layout.addWidget(cancel)
        self.setMinimumWidth(480)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            focus = self.focusWidget()
            if isinstance(focus, QPushButton):
                focus.click()
            return
        super().keyPressEvent(event)

    def _choose(self, name: str) -> None:
        # The next dialog opens first, so closing this one does not hand the keyboard back.
        self.chosen.emit(name)
        self.accept()


class DenominationDialog(QDialog):
    """Count the drawer note by note: counted cash and its difference from expected, live."""

    submitted = Signal(object)  # {denomination: count}

    def __init__(
        self,
        *,
        denominations: tuple[Decimal, ...],
        expected: Decimal,
        currency: str,
        warning: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Close shift")
        self.setModal(True)
        self.currency = currency
        self.expected = expected
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Close shift · count the drawer"))
        if warning:
            note = QLabel(warning)
            note.setObjectName("Notice")
            note.setProperty("kind", "warn")
            note.setWordWrap(True)
            layout.addWidget(note)
        hint = QLabel("Type how many of each note and coin; Tab or Enter moves to the next.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        self.counts: dict[Decimal, QLineEdit] = {}
        self.subtotals: dict[Decimal, QLabel] = {}
        validator = QIntValidator(0, 99999, self)
        for row, value in enumerate(denominations):
            label = QLabel(format_money(value, currency))
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            edit = QLineEdit()
            edit.setObjectName(f"Count_{value.normalize():f}")
            edit.setValidator(validator)
            edit.setPlaceholderText("0")
            edit.setMaximumWidth(110)
            edit.textChanged.connect(lambda _: self._update())
            sub = QLabel("")
            sub.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            sub.setMinimumWidth(120)
            sub.setStyleSheet("color: #627d98;")
            # Two groups of five rows; column 4 is a gap so a subtotal never reads as a label.
            first = (row // 5) * 5
            grid.addWidget(label, row % 5, first)
            grid.addWidget(QLabel("×"), row % 5, first + 1)
            grid.addWidget(edit, row % 5, first + 2)
            grid.addWidget(sub, row % 5, first + 3)
            self.counts[value] = edit
            self.subtotals[value] = sub
        grid.setColumnMinimumWidth(4, 36)
        layout.addLayout(grid)
        figures = QFormLayout()
        self.counted = QLabel()
        self.counted.setObjectName("CountedCash")
        self.expected_label = QLabel(format_money(expected, currency))
        self.expected_label.setObjectName("ExpectedCash")
        self.difference = QLabel()
        self.difference.setObjectName("CashDifference")
        figures.addRow("Counted cash", self.counted)
        figures.addRow("Expected cash", self.expected_label)
        figures.addRow("Difference", self.difference)
        layout.addLayout(figures)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        self.ok = button("Close shift", role="primary", name="CloseShiftButton")
        self.ok.setAutoDefault(False)
        self.ok.clicked.connect(self._submit)
        buttons.addWidget(cancel)
        buttons.addWidget(self.ok)
        layout.addLayout(buttons)
        edits: list[QWidget] = list(self.counts.values())
        for before, after in zip(edits, [*edits[1:], self.ok], strict=True):
            QWidget.setTabOrder(before, after)
        self._update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            # Enter moves down the count (an empty box too); on the button it closes the shift.
            if self.focusWidget() is self.ok:
                self.ok.click()
            elif self.focusWidget() in self.counts.values():
                self.focusNextChild()
            return
        super().keyPressEvent(event)

    def chosen_counts(self) -> dict[Decimal, int]:
        """Return the count typed for each denomination."""
        return {value: int(edit.text() or 0) for value, edit in self.counts.items()}

    def total(self) -> Decimal:
        """Return the counted cash."""
        return sum((value * n for value, n in self.chosen_counts().items()), ZERO)

    def _update(self) -> None:
        def money(amount: Decimal) -> str:
            return format_money(amount, self.currency)

        for value, n in self.chosen_counts().items():
            self.subtotals[value].setText(f"= {money(value * n)}" if n else "")
        total = self.total()
        self.counted.setText(money(total))
        difference = total - self.expected
        word = "matches" if difference == 0 else ("over" if difference > 0 else "short")
        self.difference.setText(f"{money(abs(difference))} {word}")
        self.difference.setProperty("kind", "success" if difference == 0 else "warn")

    def _submit(self) -> None:
        self.ok.setEnabled(False)
        self.submitted.emit(self.chosen_counts())

    def fail(self, error: BaseException) -> None:
        """Show why the shift could not be closed."""
        self.error.setText(explain(error))
        self.ok.setEnabled(True)


class ZReportDialog(QDialog):
    """Show a shift's X or Z report and save it as a PDF for printing."""

    save_requested = Signal()

    def __init__(
        self, *, report: ZReport, currency: str, width: int = 42, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Z report" if report.is_final else "X report")
        self.report = report
        self.title = report.title
        self.rows = report.rows(currency)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Shift closed" if report.is_final else "X report"))
        variance = report.variance

        def money(amount: Decimal) -> str:
            return format_money(amount, currency)

        if not report.is_final:
            verdict = f"Shift still open · expected cash {money(report.expected_cash)}"
        elif variance == 0:
            verdict = "Cash matches"
        else:
            verdict = f"Cash {'over' if variance > 0 else 'short'} by {money(abs(variance))}"
        summary = QLabel(verdict)
        summary.setObjectName("Notice")
        summary.setProperty("kind", "success" if variance == 0 else "warn")
        summary.setWordWrap(True)
        layout.addWidget(summary)
        self.text = QPlainTextEdit()
        self.text.setObjectName("ReportText")
        self.text.setReadOnly(True)
        self.text.setPlainText(
            "\n".join(line.text for line in layout_report(self.title, rows=self.rows, width=width))
        )
        layout.addWidget(self.text)
        self.saved = QLabel()
        layout.addWidget(self.saved)
        row = QHBoxLayout()
        save = button("Save PDF / Print", name="SaveReportButton")
        save.clicked.connect(self.save_requested)
        close = button("Done", role="primary", name="DoneButton")
        close.clicked.connect(self.accept)
        row.addWidget(save)
        row.addWidget(close)
        layout.addLayout(row)
        self.setMinimumSize(520, 720)
