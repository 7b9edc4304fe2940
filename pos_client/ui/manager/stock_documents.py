"""Stock documents with lines: transfers of many products, their receipt, and counts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.product_picker import ProductPicker
from pos_client.ui.manager.table import Column, RowsModel, as_money, as_quantity
from pos_client.ui.manager.widgets import FormDialog, button, choice

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _quantity(text: str, *, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{what}: type a number, not {text!r}.") from exc
    if not value.is_finite():
        raise ValueError(f"{what}: type a number, not {text!r}.")
    return value


def _fixed(text: str, *, numeric: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    if numeric:
        item.setTextAlignment(RIGHT)
    return item


def _stretch_first(table: QTableWidget) -> None:
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, table.columnCount()):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)


class TransferDialog(FormDialog):
    """Plan a transfer of any number of products from one branch to another."""

    def __init__(
        self, *, ctx: ManagerContext, source_id: int | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title="New transfer", ok_text="Create transfer", parent=parent)
        self.setMinimumSize(720, 560)
        branches = [(b.name, b.id) for b in ctx.branches]
        self.source = choice(branches, name="TransferFrom")
        self.destination = choice(branches, name="TransferTo")
        if source_id is not None:
            self.source.setCurrentIndex(self.source.findData(source_id))
        # Start with the next branch as the destination: a transfer to itself is never meant.
        self.destination.setCurrentIndex((self.source.currentIndex() + 1) % max(1, len(branches)))
        self.note = QLineEdit()
        self.products: list[Any] = []
        self.picker = ProductPicker(ctx=ctx)
        self.picker.picked.connect(self.add)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("TransferLines")
        self.table.setHorizontalHeaderLabels(["Product", "Quantity"])
        _stretch_first(self.table)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.remove_button = button("Remove line", name="TransferRemoveLine")
        self.remove_button.clicked.connect(self.remove_selected)
        self.form.addRow("From", self.source)
        self.form.addRow("To", self.destination)
        self.form.addRow("Note", self.note)
        self.body.insertWidget(2, self.picker)
        self.body.insertWidget(3, self.table, 1)
        self.body.insertWidget(4, self.remove_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.ok_button.setAutoDefault(False)  # Enter in the search picks a product
        self.ok_button.setDefault(False)

    def add(self, product: Any) -> None:
        """Add a product as a line of 1, or one more if it is there already."""
        for row, existing in enumerate(self.products):
            if existing.id == product.id:
                item = self.table.item(row, 1)
                item.setText(as_quantity(_quantity(item.text() or "0", what="Quantity") + 1))
                return
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.products.append(product)
        self.table.setItem(row, 0, _fixed(f"{product.name} ({product.sku})"))
        self.table.setItem(row, 1, QTableWidgetItem("1"))
        self.table.selectRow(row)

    def set_quantity(self, row: int, quantity: str) -> None:
        """Type a line's quantity."""
        self.table.item(row, 1).setText(quantity)

    def remove_selected(self) -> None:
        """Remove the selected line."""
        row = self.table.currentRow()
        if 0 <= row < len(self.products):
            self.table.removeRow(row)
            del self.products[row]

    def build_call(self) -> Callable[[ApiClient], Any]:
        source, destination = self.source.currentData(), self.destination.currentData()
        if source is None or destination is None or source == destination:
            raise ValueError("Choose two different branches: where from and where to.")
        if not self.products:
            raise ValueError("Add at least one product: find it by name, SKU or barcode.")
        lines = []
        for row, product in enumerate(self.products):
            quantity = _quantity(self.table.item(row, 1).text(), what=product.name)
            if quantity <= 0:
                raise ValueError(f"{product.name}: the quantity must be more than 0.")
            lines.append({"product_id": product.id, "quantity": quantity})
        note = self.note.text().strip()
        return lambda api: api.create_transfer(
            source_branch_id=source, destination_branch_id=destination, lines=lines, note=note
        )


def fetch_transfer(api: ApiClient, transfer_id: int) -> dict[str, Any]:
    """Fetch a transfer and its products' names (runs on a network thread)."""
    transfer = api.transfer(transfer_id)
    ids = sorted({line["product_id"] for line in transfer["lines"]})
    return {"transfer": transfer, "names": {pid: api.product(pid).name for pid in ids}}


class TransferReceiveDialog(FormDialog):
    """Book what arrived, line by line; optionally close with the rest as a discrepancy."""

    def __init__(
        self, *, ctx: ManagerContext, document: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        transfer = document["transfer"]
        route = (
            f"{ctx.branch_name(transfer['source_branch_id'])} → "
            f"{ctx.branch_name(transfer['destination_branch_id'])}"
        )
        super().__init__(
            ctx=ctx,
            title=f"Receive transfer {transfer['id']}: {route}",
            ok_text="Receive",
            parent=parent,
        )
        self.setMinimumSize(720, 420)
        self.transfer = transfer
        names = document["names"]
        self.table = QTableWidget(len(transfer["lines"]), 4)
        self.table.setObjectName("TransferReceiveLines")
        self.table.setHorizontalHeaderLabels(["Product", "Sent", "Still in transit", "Arrived"])
        self.outstanding: list[Decimal] = []
        for row, line in enumerate(transfer["lines"]):
            due = Decimal(line["quantity"]) - Decimal(line["received_quantity"])
            self.outstanding.append(due)
            self.table.setItem(row, 0, _fixed(names.get(line["product_id"], "?")))
            self.table.setItem(row, 1, _fixed(as_quantity(line["quantity"]), numeric=True))
            self.table.setItem(row, 2, _fixed(as_quantity(due), numeric=True))
            arrived = QTableWidgetItem(as_quantity(due))
            arrived.setTextAlignment(RIGHT)
            self.table.setItem(row, 3, arrived)
        _stretch_first(self.table)
        self.close_box = QCheckBox(
            "Close with discrepancy: what has not arrived is recorded as missing"
        )
        self.close_box.setObjectName("CloseWithDiscrepancy")
        self.body.insertWidget(2, self.table, 1)
        self.body.insertWidget(3, self.close_box)

    def set_arrived(self, row: int, quantity: str) -> None:
        """Type how many of a line arrived."""
        self.table.item(row, 3).setText(quantity)

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, line in enumerate(self.transfer["lines"]):
            name = self.table.item(row, 0).text()
            quantity = _quantity(self.table.item(row, 3).text() or "0", what=name)
            if quantity < 0 or quantity > self.outstanding[row]:
                raise ValueError(
                    f"{name}: between 0 and {as_quantity(self.outstanding[row])} can arrive."
                )
            if quantity:
                lines.append({"product_id": line["product_id"], "quantity": quantity})
        close = self.close_box.isChecked()
        if not lines and not close:
            raise ValueError("Nothing arrived? Type what did, or tick “Close with discrepancy”.")
        transfer_id = self.transfer["id"]
        return lambda api: api.receive_transfer(transfer_id, lines=lines, close=close)


class CountReviewDialog(QDialog):
    """Show the differences a count will post, and ask before posting."""

    def __init__(self, *, count: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review the count before posting")
        self.setMinimumSize(720, 420)
        changes = [line for line in count["lines"] if Decimal(line["difference"]) != 0]
        intro = QLabel(
            f"{len(count['lines'])} product(s) counted; {len(changes)} differ from the system. "
            f"Posting sets stock to what was counted; the differences are worth "
            f"{as_money(count['difference_value'])} net. Products not counted keep their stock."
        )
        intro.setWordWrap(True)
        intro.setObjectName("CountReviewSummary")
        self.model = RowsModel(
            [
                Column("name", "Product"),
                Column("expected", "System", as_quantity, numeric=True),
                Column("counted", "Counted", as_quantity, numeric=True),
                Column("difference", "Difference", as_quantity, numeric=True),
                Column("value", "Value", as_money, numeric=True),
            ],
            self,
        )
        self.model.set_rows(changes or count["lines"])
        view = QTableView()
        view.setObjectName("CountReviewLines")
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Post these differences")
        self.ok_button.setProperty("role", "primary")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Keep counting")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(view, 1)
        layout.addWidget(buttons)


class CountDialog(QDialog):
    """A stock count: scan or type with a quantity, undo the last line, review, post."""

    def __init__(
        self, *, ctx: ManagerContext, branch_id: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.count: dict[str, Any] | None = None
        self.review: CountReviewDialog | None = None
        # What each entry changed, newest last: (product_id, counted before or None if new).
        self.entries: list[tuple[int, Decimal | None]] = []
        self.setWindowTitle(f"Stock count — {ctx.branch_name(branch_id)}")
        self.setMinimumSize(820, 520)
        self.quantity = QLineEdit("1")
        self.quantity.setObjectName("CountQuantity")
        self.quantity.setMaximumWidth(90)
        self.quantity.setToolTip("How many of the next scan were found; back to 1 after each")
        self.scan = QLineEdit()
        self.scan.setObjectName("CountScan")
        self.scan.setPlaceholderText("Scan or type a barcode, then Enter")
        self.scan.returnPressed.connect(self.scanned)
        entry = QHBoxLayout()
        entry.addWidget(QLabel("Quantity"))
        entry.addWidget(self.quantity)
        entry.addWidget(self.scan, 1)
        self.model = RowsModel(
            [
                Column("sku", "SKU"),
                Column("name", "Product"),
                Column("expected", "Expected", as_quantity, numeric=True),
                Column("counted", "Counted", as_quantity, numeric=True),
                Column("difference", "Difference", as_quantity, numeric=True),
                Column("value", "Value", as_money, numeric=True),
            ],
            self,
        )
        view = self.view = QTableView()
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Starting the count…")
        self.status.setObjectName("PageStatus")
        self.status.setWordWrap(True)
        self.undo_button = button("Undo last line", name="UndoCountLine")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        self.post_button = button("Review and post…", role="primary", name="PostCount")
        self.post_button.setEnabled(False)
        for widget in (self.undo_button, self.post_button):
            # Enter belongs to the scanner: it must never press a button.
            widget.setAutoDefault(False)
            widget.setDefault(False)
        self.post_button.clicked.connect(self.ask_post)
        actions = QHBoxLayout()
        actions.addWidget(self.undo_button)
        actions.addStretch(1)
        actions.addWidget(self.post_button)
        layout = QVBoxLayout(self)
        layout.addLayout(entry)
        layout.addWidget(self.status)
        layout.addWidget(view, 1)
        layout.addLayout(actions)
        self._call(lambda api: api.start_count(branch_id=branch_id))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setObjectName("ErrorText" if error else "PageStatus")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)

    def _call(
        self, fn: Callable[[ApiClient], Any], then: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        def done(count: dict[str, Any]) -> None:
            if then is not None:
                then(count)
            self._show(count)

        NetOp(fn, pool=self.ctx.pool, owner=self).success(done).failure(
            lambda e: (self._say(describe(e), error=True), self._enable())
        ).run()

    def _enable(self) -> None:
        open_ = self.count is not None and self.count["status"] != "posted"
        self.post_button.setEnabled(open_ and bool(self.count and self.count["lines"]))
        self.undo_button.setEnabled(open_ and bool(self.entries))

    def _show(self, count: dict[str, Any]) -> None:
        self.count = count
        self.model.set_rows(count["lines"])
        self._enable()
        if count["status"] == "posted":
            self._say(
                f"Posted: stock now matches the count ({as_money(count['difference_value'])})."
            )
        else:
            self._say(
                f"{len(count['lines'])} product(s) counted; "
                f"difference {as_money(count['difference_value'])}."
            )

    def _counted(self, product_id: int) -> Decimal | None:
        lines = self.count["lines"] if self.count else []
        line = next((x for x in lines if x["product_id"] == product_id), None)
        return Decimal(line["counted"]) if line else None

    def scanned(self) -> None:
        """Count the scanned product: the quantity typed (1 by default)."""
        code = self.scan.text().strip()
        self.scan.clear()
        if not code or self.count is None:
            return
        try:
            quantity = _quantity(self.quantity.text() or "1", what="Quantity")
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        if quantity <= 0:
            self._say("Quantity: type how many were found, more than 0.", error=True)
            return
        self.quantity.setText("1")
        count_id = self.count["id"]
        before = {x["product_id"]: Decimal(x["counted"]) for x in self.count["lines"]}

        def remember(count: dict[str, Any]) -> None:
            # The line that changed is the one whose counted figure moved.
            for line in count["lines"]:
                if before.get(line["product_id"]) != Decimal(line["counted"]):
                    self.entries.append((line["product_id"], before.get(line["product_id"])))
                    return

        self._call(lambda api: api.count_scan(count_id, barcode=code, quantity=quantity), remember)

    def undo(self) -> None:
        """Take back the last entry: the line returns to what it was, or goes."""
        if not self.entries or self.count is None:
            return
        product_id, previous = self.entries.pop()
        count_id = self.count["id"]
        self.undo_button.setEnabled(False)
        if previous is None:
            self._call(lambda api: api.remove_count_line(count_id, product_id=product_id))
        else:
            self._call(
                lambda api: api.set_count_line(count_id, product_id=product_id, quantity=previous)
            )

    def ask_post(self) -> None:
        """Show the differences and post only when confirmed."""
        if self.count is None:
            return
        count_id = self.count["id"]

        def reviewed(count: dict[str, Any]) -> None:
            self._show(count)
            dialog = CountReviewDialog(count=count, parent=self)
            dialog.accepted.connect(self.post)
            self.review = dialog
            dialog.open()

        NetOp(lambda api: api.stock_count(count_id), pool=self.ctx.pool, owner=self).success(
            reviewed
        ).failure(lambda e: self._say(describe(e), error=True)).run()

    def post(self) -> None:
        """Post the count: differences become count movements."""
        if self.count is None:
            return
        count_id = self.count["id"]
        self.post_button.setEnabled(False)
        self.undo_button.setEnabled(False)
        self.entries.clear()
        self._call(lambda api: api.post_count(count_id))
