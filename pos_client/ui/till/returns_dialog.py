"""Returns: choose the sale from a list (today, or search by receipt, customer or amount),
choose lines and how the refund is paid, all by keyboard.

Without a receipt a manager approves first; goods are then scanned or typed by code and
refunded in cash at today's price.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.barcodes import BarcodeError, lookup_candidates, parse_scan
from common.money import ZERO, format_money, round_cash
from pos_client.services.queries import find_by_codes
from pos_client.services.returns import (
    METHOD_NAMES,
    RecentSale,
    ReturnableLine,
    SaleForReturn,
    find_sale,
    recent_sales,
    refundable_tenders,
    split_refund,
)
from pos_client.services.till import CatalogItem, Override
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import ask_override, button, error_label, title_label
from pos_client.ui.widgets.cells import cell_item, cell_text, set_cell_text
from pos_client.ui.widgets.messages import explain

QTY_COLUMN = 2


class _DownToList(QObject):
    """Down arrow in the search box moves into the list of sales."""

    def __init__(self, dialog: ReturnsDialog) -> None:
        super().__init__(dialog)
        self.dialog = dialog

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Down
            and self.dialog.sales.count()
        ):
            self.dialog.sales.setFocus()
            if self.dialog.sales.currentRow() < 0:
                self.dialog.sales.setCurrentRow(0)
            return True
        return False


class _QuantityKeys(QObject):
    """Typing on a line of the table sets how many come back, without opening an editor.

    Digits and a decimal point build the quantity, Backspace removes a character, + and -
    add or take one, Enter moves to the next line. Tab is left alone so it leaves the table.
    """

    def __init__(self, dialog: ReturnsDialog) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.typed: dict[int, str] = {}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        table = self.dialog.table
        row = table.currentRow()
        if row < 0 or table.state() == QAbstractItemView.State.EditingState:
            return False
        text = event.text()
        current = cell_text(table, row, QTY_COLUMN)
        if text and (text.isdigit() or text in ".,"):
            typed = self.typed.get(row, "") + ("." if text == "," else text)
            self.typed[row] = typed
            self.dialog.set_text(row, typed)
            return True
        if event.key() == Qt.Key.Key_Backspace:
            typed = self.typed.get(row, current)[:-1]
            self.typed[row] = typed
            self.dialog.set_text(row, typed or "0")
            return True
        if text in ("+", "-"):
            try:
                value = Decimal(current or "0") + (1 if text == "+" else -1)
            except InvalidOperation:
                value = Decimal(0)
            self.typed.pop(row, None)
            self.dialog.set_text(row, f"{max(value, Decimal(0)).normalize():f}")
            return True
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.typed.pop(row, None)
            if row + 1 < table.rowCount():
                table.setCurrentCell(row + 1, QTY_COLUMN)
            return True
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            # A new line starts a new number; the old line keeps what was typed.
            self.typed.pop(row, None)
        return False


class ReturnsDialog(QDialog):
    """Collect what comes back; emit with_receipt(sale_id, quantities) or without_receipt.

    Keyboard path: type to search (or Down) -> Enter on a sale -> type a quantity and Enter
    per line (Up/Down between lines) -> Tab to the reason -> Tab to the refund amounts ->
    Tab to Refund and Enter. Enter never reloads the sale, so chosen quantities stay.
    """

    _debounce: QTimer  # made below the code box that restarts it

    with_receipt = Signal(str, dict)
    without_receipt = Signal(list, object)  # [(CatalogItem, qty)], Override

    def _money(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Return")
        self.setModal(True)
        self.ctx = ctx
        self.currency = ctx.config.currency
        self.sale: SaleForReturn | None = None
        self.override: Override | None = None
        self.loose: list[tuple[CatalogItem, Decimal]] = []
        self.recent: list[RecentSale] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Return / refund"))
        row = QHBoxLayout()
        self.code = QLineEdit()
        self.code.setObjectName("ReceiptEdit")
        self.code.setPlaceholderText("Receipt number, customer or amount — or scan the receipt")
        self.code.returnPressed.connect(self.lookup)
        self.code.textChanged.connect(lambda _: self._debounce.start())
        self.code.installEventFilter(_DownToList(self))
        self.no_receipt = button("No receipt…", role="danger", name="NoReceiptButton")
        self.no_receipt.clicked.connect(self.ask_no_receipt)
        row.addWidget(self.code, 3)
        row.addWidget(self.no_receipt)
        layout.addLayout(row)
        self.sales_label = QLabel("Today's sales")
        layout.addWidget(self.sales_label)
        self.sales = QListWidget()
        self.sales.setObjectName("SalesList")
        self.sales.setMaximumHeight(150)
        self.sales.itemActivated.connect(lambda item: self.choose_sale(self.sales.row(item)))
        layout.addWidget(self.sales)
        self.info = QLabel()
        self.info.setObjectName("SaleInfo")
        layout.addWidget(self.info)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("ReturnTable")
        self.table.setHorizontalHeaderLabels(["Item", "Sold", "Return", "Refund"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setColumnWidth(0, 320)
        # Tab leaves the table for the reason box instead of cycling through its cells.
        self.table.setTabKeyNavigation(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.quantity_keys = _QuantityKeys(self)
        self.table.installEventFilter(self.quantity_keys)
        self.table.itemChanged.connect(lambda _: self._update_total())
        layout.addWidget(self.table, 1)
        self.total = QLabel()
        self.total.setObjectName("ChangeAmount")
        layout.addWidget(self.total)
        self.reason = QLineEdit()
        self.reason.setObjectName("ReasonEdit")
        self.reason.setPlaceholderText("Reason (damaged, wrong size, …)")
        layout.addWidget(self.reason)
        self.tender_form = QFormLayout()
        self.tender_edits: dict[str, QLineEdit] = {}
        self.cash_label = QLabel()
        self.cash_label.setObjectName("RefundCash")
        layout.addLayout(self.tender_form)
        self.error = error_label()
        layout.addWidget(self.error)
        actions = QHBoxLayout()
        self.cancel = button("Cancel (Esc)", name="CancelButton")
        self.cancel.clicked.connect(self.reject)
        self.refund = button("Refund (Enter)", role="primary", name="RefundButton")
        self.refund.setEnabled(False)
        self.refund.clicked.connect(self.submit)
        actions.addWidget(self.cancel)
        actions.addWidget(self.refund)
        layout.addLayout(actions)
        for b in self.findChildren(QPushButton):
            # Enter is handled in keyPressEvent: it presses only the button that has focus.
            b.setAutoDefault(False)
            b.setDefault(False)
        self._chain_tabs()
        self.setMinimumSize(780, 720)
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.search)
        self.search()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            focus = self.focusWidget()
            if isinstance(focus, QPushButton) and focus.isEnabled():
                focus.click()
            return
        super().keyPressEvent(event)

    def _chain_tabs(self) -> None:
        order: list[QWidget] = [self.code, self.sales, self.table, self.reason]
        order += list(self.tender_edits.values())
        order += [self.refund, self.cancel, self.no_receipt]
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)

    # -- scans arrive here while the dialog is open ---------------------------------

    def take_scan(self, code: str) -> None:
        """Use a scan as a receipt number, or as an item when returning without receipt."""
        if self.override is not None:
            self.add_item(code)
        else:
            self.code.blockSignals(True)
            self.code.setText(code)
            self.code.blockSignals(False)
            self._find_by_number(code)

    # -- choosing the sale -------------------------------------------------------------

    def search(self) -> None:
        """List today's sales, or recent ones matching the receipt, customer or amount typed."""
        if self.override is not None:
            return
        text = self.code.text().strip()
        self.ctx.query(lambda s: recent_sales(s, text=text)).success(
            lambda rows: self._show_recent(text, rows)
        ).run()

    def _show_recent(self, text: str, rows: list[RecentSale]) -> None:
        if text != self.code.text().strip() or self.override is not None:
            return
        self.recent = rows
        self.sales.clear()
        for sale in rows:
            when = sale.created_at.astimezone()
            customer = f" · {sale.customer}" if sale.customer else ""
            items = f"{sale.items} item" + ("s" if sale.items != 1 else "")
            self.sales.addItem(
                QListWidgetItem(
                    f"{sale.receipt_number}   {when:%d %b %H:%M}   {self._money(sale.total)}"
                    f"   {items}{customer}"
                )
            )
        if rows:
            self.sales.setCurrentRow(0)
        self.sales_label.setText(
            ("Matching sales" if text else "Today's sales")
            + ("" if rows else " — none; try a receipt number, customer or amount")
        )

    def lookup(self) -> None:
        """Enter in the search box: open the sale whose receipt number was typed, else the list."""
        number = self.code.text().strip()
        if self.override is not None:
            if number:
                self.add_item(number)
            return
        exact = [i for i, s in enumerate(self.recent) if s.receipt_number.upper() == number.upper()]
        if exact:
            self.choose_sale(exact[0])
        elif number and not self._debounce.isActive() and not self.recent:
            self._find_by_number(number)
        elif self.recent:
            self.sales.setFocus()
            if self.sales.currentRow() < 0:
                self.sales.setCurrentRow(0)

    def choose_sale(self, row: int) -> None:
        """Open the listed sale; the same sale again keeps the quantities already chosen."""
        if not 0 <= row < len(self.recent):
            return
        chosen = self.recent[row]
        if self.sale is not None and self.sale.sale_id == chosen.sale_id:
            self._focus_lines()
            return
        self._find_by_number(chosen.receipt_number)

    def _find_by_number(self, number: str) -> None:
        number = number.strip()
        if not number:
            return
        if self.sale is not None and self.sale.receipt_number.upper() == number.upper():
            self._focus_lines()
            return
        self.ctx.query(lambda s: find_sale(s, receipt_number=number)).success(
            self._show_sale
        ).failure(lambda e: self.error.setText(explain(e))).run()

    def _focus_lines(self) -> None:
        self.table.setFocus()
        if self.table.rowCount():
            row = max(self.table.currentRow(), 0)
            self.table.setCurrentCell(row, QTY_COLUMN)

    def _show_sale(self, sale: SaleForReturn) -> None:
        # The list shrinks to make room for the lines; it is still there to pick another sale.
        self.sales.setMaximumHeight(80)
        self.sale = sale
        self.quantity_keys.typed.clear()
        self.error.clear()
        paid = ", ".join(
            f"{METHOD_NAMES.get(method, method)} {self._money(amount)}"
            for method, amount, _ in sale.paid
        )
        self.info.setText(
            f"Receipt {sale.receipt_number} · "
            f"{sale.created_at.astimezone():%d %b %Y %H:%M} · "
            f"{self._money(sale.total)} · paid {paid}"
            "\nType how many come back (+/- to change), Enter: next line, Tab: reason."
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
            back.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsEditable
            )
            refund = QTableWidgetItem("")
            refund.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for col, item in enumerate((name, sold, back, refund)):
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self._build_tenders(sale)
        self._update_total()
        self._focus_lines()

    def _build_tenders(self, sale: SaleForReturn) -> None:
        while self.tender_form.rowCount():
            self.tender_form.removeRow(0)
        self.tender_edits = {}
        for method, most in refundable_tenders(sale).items():
            edit = QLineEdit()
            edit.setObjectName(f"Refund_{method}")
            edit.setToolTip(f"At most {format_money(most, self.currency)}; 0 refunds it in cash")
            edit.textEdited.connect(lambda _: self._update_total(keep_choice=True))
            self.tender_edits[method] = edit
            self.tender_form.addRow(f"Back to {METHOD_NAMES.get(method, method)}", edit)
        self.cash_label = QLabel()
        self.cash_label.setObjectName("RefundCash")
        self.cash_label.setStyleSheet("font-weight: bold; font-size: 17px;")
        self.tender_form.addRow("In cash", self.cash_label)
        self._chain_tabs()

    def set_quantity(self, row: int, quantity: Decimal) -> None:
        """Set how many of one line come back."""
        self.set_text(row, f"{quantity.normalize():f}")

    def set_text(self, row: int, text: str) -> None:
        """Show what was typed as the quantity of one line (the total follows)."""
        set_cell_text(self.table, row, QTY_COLUMN, text)

    def quantities(self) -> dict[str, Decimal]:
        """Return the quantities chosen per original line."""
        chosen: dict[str, Decimal] = {}
        for row in range(self.table.rowCount()):
            line_id = cell_item(self.table, row, 0).data(Qt.ItemDataRole.UserRole)
            try:
                quantity = Decimal(cell_text(self.table, row, QTY_COLUMN).strip() or "0")
            except InvalidOperation:
                quantity = ZERO
            if quantity and line_id:
                chosen[line_id] = quantity
        return chosen

    def non_cash(self) -> dict[str, Decimal] | None:
        """Return what the cashier sends back to each card/account tender (None: as paid)."""
        if not self.tender_edits:
            return None
        chosen = {}
        for method, edit in self.tender_edits.items():
            try:
                chosen[method] = Decimal(edit.text().replace(",", "").strip() or "0")
            except InvalidOperation:
                raise ValueError(f"{edit.text()!r} is not an amount") from None
        return chosen

    def refund_total(self) -> Decimal:
        """Return the value of the goods coming back."""
        if self.sale is None:
            return sum((item.price * q for item, q in self.loose), ZERO)
        lines: dict[str, ReturnableLine] = {ln.line_id: ln for ln in self.sale.lines}
        total = ZERO
        for line_id, q in self.quantities().items():
            line = lines[line_id]
            if ZERO <= q <= line.available:
                total += line.refund_for(q)
        return total

    def _update_total(self, *, keep_choice: bool = False) -> None:
        total = ZERO
        valid = True
        if self.sale is not None:
            lines: dict[str, ReturnableLine] = {ln.line_id: ln for ln in self.sale.lines}
            chosen = self.quantities()
            self.table.blockSignals(True)
            for row in range(self.table.rowCount()):
                line_id = cell_item(self.table, row, 0).data(Qt.ItemDataRole.UserRole)
                q = chosen.get(line_id, ZERO)
                ok = ZERO <= q <= lines[line_id].available
                valid = valid and ok
                amount = lines[line_id].refund_for(q) if q and ok else ZERO
                set_cell_text(
                    self.table,
                    row,
                    3,
                    self._money(amount)
                    if amount
                    else (f"only {lines[line_id].available.normalize():f}" if not ok else ""),
                )
                total += amount
            self.table.blockSignals(False)
            valid = self._show_tenders(total, keep_choice=keep_choice) and valid
        else:
            total = sum((item.price * q for item, q in self.loose), ZERO)
            self.cash_label.setText(self._money(round_cash(total, self.currency)) if total else "")
        self.total.setText(f"Refund {self._money(total)}" if total else "")
        self.refund.setEnabled(total > 0 and valid)

    def _show_tenders(self, total: Decimal, *, keep_choice: bool) -> bool:
        """Fill the tender amounts as paid (unless the cashier typed them); show the cash."""
        assert self.sale is not None
        if not keep_choice:
            shares: dict[str, Decimal] = {}
            for r in split_refund(total, self.sale.paid, currency=self.currency) if total else []:
                shares[str(r.method)] = shares.get(str(r.method), ZERO) + r.amount
            for method, edit in self.tender_edits.items():
                if not edit.isModified():
                    edit.setText(f"{shares.get(method, ZERO)}")
        try:
            chosen = self.non_cash() or {}
        except ValueError as exc:
            self.cash_label.setText(str(exc))
            return False
        limits = refundable_tenders(self.sale)
        for method, amount in chosen.items():
            if amount < 0 or amount > limits[method]:
                self.cash_label.setText(
                    f"At most {self._money(limits[method])} can go back to "
                    f"{METHOD_NAMES.get(method, method)}"
                )
                return False
        rest = total - sum(chosen.values(), ZERO)
        if rest < 0:
            self.cash_label.setText("More than the refund is going back to the tenders above")
            return False
        self.cash_label.setText(self._money(round_cash(rest, self.currency)))
        return True

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
        self.sales.clear()
        self.sales.setVisible(False)
        self.sales_label.setVisible(False)
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
        if not self.refund.isEnabled():
            return
        self.refund.setEnabled(False)
        if self.override is not None:
            self.without_receipt.emit(list(self.loose), self.override)
        elif self.sale is not None:
            self.with_receipt.emit(self.sale.sale_id, self.quantities())

    def fail(self, error: BaseException) -> None:
        """Show why the refund was refused."""
        self.error.setText(explain(error))
        self.refund.setEnabled(True)
