"""Returns: find the sale by receipt number (typed or scanned), choose lines, refund.

Without a receipt a manager approves first; goods are then scanned or typed by code and
refunded in cash at today's price.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.barcodes import BarcodeError, lookup_candidates, parse_scan
from common.money import ZERO, format_money
from pos_client.services.queries import find_by_codes
from pos_client.services.returns import ReturnableLine, SaleForReturn, find_sale
from pos_client.services.till import CatalogItem, Override
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import ask_override, button, error_label, title_label
from pos_client.ui.widgets.messages import explain


class ReturnsDialog(QDialog):
    """Collect what comes back; emit with_receipt(sale_id, quantities) or without_receipt."""

    with_receipt = Signal(str, dict)
    without_receipt = Signal(list, object)  # [(CatalogItem, qty)], Override

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Return")
        self.setModal(True)
        self.ctx = ctx
        self.sale: SaleForReturn | None = None
        self.override: Override | None = None
        self.loose: list[tuple[CatalogItem, Decimal]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Return / refund"))
        row = QHBoxLayout()
        self.code = QLineEdit(objectName="ReceiptEdit")
        self.code.setPlaceholderText("Scan or type the receipt number")
        self.code.returnPressed.connect(self.lookup)
        find = button("Find", name="FindSaleButton")
        find.clicked.connect(self.lookup)
        self.no_receipt = button("No receipt…", role="danger", name="NoReceiptButton")
        self.no_receipt.clicked.connect(self.ask_no_receipt)
        row.addWidget(self.code, 3)
        row.addWidget(find)
        row.addWidget(self.no_receipt)
        layout.addLayout(row)
        self.info = QLabel()
        layout.addWidget(self.info)
        self.table = QTableWidget(0, 4, objectName="ReturnTable")
        self.table.setHorizontalHeaderLabels(["Item", "Sold", "Return", "Refund"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setColumnWidth(0, 320)
        self.table.itemChanged.connect(lambda _: self._update_total())
        layout.addWidget(self.table)
        self.total = QLabel(objectName="ChangeAmount")
        layout.addWidget(self.total)
        self.reason = QLineEdit(objectName="ReasonEdit")
        self.reason.setPlaceholderText("Reason (damaged, wrong size, …)")
        layout.addWidget(self.reason)
        self.error = error_label()
        layout.addWidget(self.error)
        actions = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        self.refund = button("Refund", role="primary", name="RefundButton")
        self.refund.setEnabled(False)
        self.refund.clicked.connect(self.submit)
        actions.addWidget(cancel)
        actions.addWidget(self.refund)
        layout.addLayout(actions)
        self.setMinimumSize(720, 560)

    # -- scans arrive here while the dialog is open ---------------------------------

    def take_scan(self, code: str) -> None:
        """Use a scan as a receipt number, or as an item when returning without receipt."""
        if self.override is not None:
            self.add_item(code)
        else:
            self.code.setText(code)
            self.lookup()

    # -- with a receipt ----------------------------------------------------------------

    def lookup(self) -> None:
        """Find the sale by its receipt number (or an item code in no-receipt mode)."""
        number = self.code.text().strip()
        if not number:
            return
        if self.override is not None:
            self.add_item(number)
            return
        self.ctx.query(lambda s: find_sale(s, receipt_number=number)).success(
            self._show_sale
        ).failure(lambda e: self.error.setText(explain(e))).run()

    def _show_sale(self, sale: SaleForReturn) -> None:
        self.sale = sale
        self.error.clear()
        money = lambda a: format_money(a, self.ctx.config.currency)  # noqa: E731
        self.info.setText(
            f"Receipt {sale.receipt_number} · "
            f"{sale.created_at.astimezone():%d %b %Y %H:%M} · {money(sale.total)}"
        )
        self.table.blockSignals(True)
        self.table.setRowCount(len(sale.lines))
        for row, line in enumerate(sale.lines):
            name = QTableWidgetItem(line.name)
            name.setData(Qt.ItemDataRole.UserRole, line.line_id)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            sold = QTableWidgetItem(
                f"{line.sold.normalize():f}"
                + (f" ({line.returned.normalize():f} back)" if line.returned else "")
            )
            sold.setFlags(Qt.ItemFlag.ItemIsEnabled)
            back = QTableWidgetItem("0")
            refund = QTableWidgetItem("")
            refund.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for col, item in enumerate((name, sold, back, refund)):
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self._update_total()

    def set_quantity(self, row: int, quantity: Decimal) -> None:
        """Set how many of one line come back."""
        self.table.item(row, 2).setText(f"{quantity.normalize():f}")

    def quantities(self) -> dict[str, Decimal]:
        """Return the quantities chosen per original line."""
        chosen: dict[str, Decimal] = {}
        for row in range(self.table.rowCount()):
            line_id = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
            try:
                quantity = Decimal(self.table.item(row, 2).text().strip() or "0")
            except InvalidOperation:
                quantity = ZERO
            if quantity and line_id:
                chosen[line_id] = quantity
        return chosen

    def _update_total(self) -> None:
        money = lambda a: format_money(a, self.ctx.config.currency)  # noqa: E731
        total = ZERO
        if self.sale is not None:
            lines: dict[str, ReturnableLine] = {ln.line_id: ln for ln in self.sale.lines}
            chosen = self.quantities()
            self.table.blockSignals(True)
            for row in range(self.table.rowCount()):
                line_id = self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
                q = chosen.get(line_id, ZERO)
                ok = ZERO <= q <= lines[line_id].available
                amount = lines[line_id].refund_for(q) if q and ok else ZERO
                self.table.item(row, 3).setText(money(amount) if amount else "")
                total += amount
            self.table.blockSignals(False)
        else:
            total = sum((item.price * q for item, q in self.loose), ZERO)
        self.total.setText(f"Refund {money(total)}" if total else "")
        self.refund.setEnabled(total > 0)

    # -- without a receipt -------------------------------------------------------------

    def ask_no_receipt(self) -> None:
        """A manager approves a return without a receipt before anything is scanned."""
        ask_override(
            parent=self,
            ctx=self.ctx,
            action="return_without_receipt",
            reason="Returns without a receipt need a manager.",
            then=self._no_receipt_mode,
        )

    def _no_receipt_mode(self, override: Override) -> None:
        self.override = override
        self.sale = None
        self.loose.clear()
        self.table.setRowCount(0)
        self.info.setText(
            f"No receipt · approved by {override.manager_name}. "
            "Scan the items coming back; refund in cash at today's price."
        )
        self.code.clear()
        self.code.setPlaceholderText("Scan or type the item's barcode / SKU")
        self.no_receipt.setEnabled(False)
        self.code.setFocus()

    def add_item(self, code: str) -> None:
        """Add one scanned item to a no-receipt return."""
        try:
            candidates = lookup_candidates(parse_scan(code))
        except BarcodeError as exc:
            self.error.setText(str(exc))
            return
        self.ctx.query(lambda s: find_by_codes(s, candidates)).success(self._add_item).run()

    def _add_item(self, item: CatalogItem | None) -> None:
        if item is None:
            self.error.setText("Unknown item code")
            return
        self.error.clear()
        self.loose.append((item, Decimal(1)))
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        money = format_money(item.price, self.ctx.config.currency)
        for col, text in enumerate((item.name, "", "1", money)):
            cell = QTableWidgetItem(text)
            cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, col, cell)
        self.table.blockSignals(False)
        self.code.clear()
        self._update_total()

    # -- submit --------------------------------------------------------------------------

    def submit(self) -> None:
        """Hand the return over to the till window, which records it."""
        self.refund.setEnabled(False)
        if self.override is not None:
            self.without_receipt.emit(list(self.loose), self.override)
        elif self.sale is not None:
            self.with_receipt.emit(self.sale.sale_id, self.quantities())

    def fail(self, error: BaseException) -> None:
        """Show why the refund was refused."""
        self.error.setText(explain(error))
        self.refund.setEnabled(True)
