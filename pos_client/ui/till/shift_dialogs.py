"""Open a shift with its float, move cash in or out, close with counted cash -> Z report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError
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
            note = QLabel(warning, objectName="Notice")
            note.setProperty("kind", "warn")
            note.setWordWrap(True)
            layout.addWidget(note)
        form = QFormLayout()
        self.direction = QComboBox(objectName="CashDirection")
        self.direction.addItem("Cash in", "in")
        self.direction.addItem("Cash out", "out")
        if with_direction:
            form.addRow("Movement", self.direction)
        self.amount = QLineEdit(initial, objectName="AmountEdit")
        form.addRow(prompt, self.amount)
        self.reason = QLineEdit(objectName="ReasonEdit")
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
            amount = parse_amount(self.amount.text())
        except DomainError as exc:
            self.fail(exc)
            return
        self.submitted.emit(amount, self.reason.text(), self.direction.currentData())

    def fail(self, error: BaseException) -> None:
        """Show why it was refused and keep the dialog open."""
        self.error.setText(explain(error))
        self.ok.setEnabled(True)


class ZReportDialog(QDialog):
    """Show a closed shift's Z report and save it as a PDF for printing."""

    save_requested = Signal()

    def __init__(
        self, *, report: ZReport, currency: str, width: int = 42, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Z report")
        self.report = report
        self.title = f"Z REPORT · SHIFT {report.shift_id[-6:].upper()}"
        self.rows = report.rows(currency)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Shift closed"))
        variance = report.variance
        verdict = (
            "Cash matches"
            if variance == 0
            else (f"Cash {'over' if variance > 0 else 'short'} by {abs(variance)}")
        )
        summary = QLabel(verdict, objectName="Notice")
        summary.setProperty("kind", "success" if variance == 0 else "warn")
        layout.addWidget(summary)
        self.text = QPlainTextEdit(objectName="ReportText")
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
