"""Stock documents with lines: transfers of many products and their receipt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from common.schemas.inventory import TransferRead
from pos_client.api.client import ApiClient
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.product_picker import ProductPicker
from pos_client.ui.manager.table import as_quantity
from pos_client.ui.manager.widgets import FormDialog, button, choice
from pos_client.ui.widgets.cells import cell_text, set_cell_text

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def parse_quantity(text: str, *, what: str) -> Decimal:
    """Read a typed quantity; ValueError says what is wrong, in words."""
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
                typed = parse_quantity(cell_text(self.table, row, 1) or "0", what="Quantity")
                set_cell_text(self.table, row, 1, as_quantity(typed + 1))
                return
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.products.append(product)
        self.table.setItem(row, 0, _fixed(f"{product.name} ({product.sku})"))
        self.table.setItem(row, 1, QTableWidgetItem("1"))
        self.table.selectRow(row)

    def set_quantity(self, row: int, quantity: str) -> None:
        """Type a line's quantity."""
        set_cell_text(self.table, row, 1, quantity)

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
            quantity = parse_quantity(cell_text(self.table, row, 1), what=product.name)
            if quantity <= 0:
                raise ValueError(f"{product.name}: the quantity must be more than 0.")
            lines.append({"product_id": product.id, "quantity": quantity})
        note = self.note.text().strip()
        return lambda api: api.create_transfer(
            source_branch_id=source, destination_branch_id=destination, lines=lines, note=note
        )


@dataclass(frozen=True)
class TransferDocument:
    """A transfer with the names of its products, as the receive form shows it."""

    transfer: TransferRead
    names: dict[int, str]


def fetch_transfer(api: ApiClient, transfer_id: int) -> TransferDocument:
    """Fetch a transfer and its products' names (runs on a network thread)."""
    transfer = api.transfer(transfer_id)
    ids = sorted({line.product_id for line in transfer.lines})
    return TransferDocument(transfer, {pid: api.product(pid).name for pid in ids})


class TransferReceiveDialog(FormDialog):
    """Book what arrived, line by line; optionally close with the rest as a discrepancy."""

    def __init__(
        self, *, ctx: ManagerContext, document: TransferDocument, parent: QWidget | None = None
    ) -> None:
        transfer = document.transfer
        route = (
            f"{ctx.branch_name(transfer.source_branch_id)} → "
            f"{ctx.branch_name(transfer.destination_branch_id)}"
        )
        super().__init__(
            ctx=ctx,
            title=f"Receive transfer {transfer.id}: {route}",
            ok_text="Receive",
            parent=parent,
        )
        self.setMinimumSize(720, 420)
        self.transfer = transfer
        names = document.names
        self.table = QTableWidget(len(transfer.lines), 4)
        self.table.setObjectName("TransferReceiveLines")
        self.table.setHorizontalHeaderLabels(["Product", "Sent", "Still in transit", "Arrived"])
        self.outstanding: list[Decimal] = []
        for row, line in enumerate(transfer.lines):
            due = line.quantity - line.received_quantity
            self.outstanding.append(due)
            self.table.setItem(row, 0, _fixed(names.get(line.product_id, "?")))
            self.table.setItem(row, 1, _fixed(as_quantity(line.quantity), numeric=True))
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
        set_cell_text(self.table, row, 3, quantity)

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, line in enumerate(self.transfer.lines):
            name = cell_text(self.table, row, 0)
            quantity = parse_quantity(cell_text(self.table, row, 3) or "0", what=name)
            if quantity < 0 or quantity > self.outstanding[row]:
                raise ValueError(
                    f"{name}: between 0 and {as_quantity(self.outstanding[row])} can arrive."
                )
            if quantity:
                lines.append({"product_id": line.product_id, "quantity": quantity})
        close = self.close_box.isChecked()
        if not lines and not close:
            raise ValueError("Nothing arrived? Type what did, or tick “Close with discrepancy”.")
        transfer_id = self.transfer.id
        return lambda api: api.receive_transfer(transfer_id, lines=lines, close=close)
