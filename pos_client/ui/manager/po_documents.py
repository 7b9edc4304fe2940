"""Purchase orders as documents: a line editor with product search, and a detail view."""

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
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.money import round_money
from common.roles import Permission
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.product_picker import ProductPicker
from pos_client.ui.manager.table import as_label, as_money, as_quantity, as_when
from pos_client.ui.manager.widgets import (
    CommentDialog,
    FormDialog,
    button,
    choice,
)

QTY, COST, FREE, TOTAL = 1, 2, 3, 4
# The PO's timestamps, in the order a PO lives through them: its status history.
HISTORY = [
    ("created_at", "Created", "created_by_name"),
    ("submitted_at", "Submitted for approval", None),
    ("decided_at", "Decided", "decided_by_name"),
    ("sent_at", "Sent to supplier", None),
    ("confirmed_at", "Confirmed by supplier", None),
    ("shipped_at", "Shipped", None),
    ("received_at", "Received in full", None),
    ("closed_at", "Closed", None),
    ("cancelled_at", "Cancelled", None),
]


def _number(text: str, *, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}.") from exc
    if not value.is_finite():
        raise ValueError(f"{what} must be a number, got {text!r}.")
    return value


def _fixed(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


class PoLinesEditor(QWidget):
    """Find products by name, SKU or barcode and add them as lines; any number of lines."""

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.products: list[Any] = []  # one per line, in line order
        self.picker = ProductPicker(ctx=ctx)
        self.picker.picked.connect(self.add)
        self.search, self.results = self.picker.search, self.picker.results
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("PoLines")
        self.table.setHorizontalHeaderLabels(["Product", "Quantity", "Unit cost", "Free", "Total"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (QTY, COST, FREE, TOTAL):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(lambda _: self._update_total())
        self.remove_button = button("Remove line", name="PoRemoveLine")
        self.remove_button.clicked.connect(self.remove_selected)
        self.total = QLabel("No lines yet: find a product above.")
        self.total.setObjectName("PoTotal")
        bottom = QHBoxLayout()
        bottom.addWidget(self.remove_button)
        bottom.addStretch(1)
        bottom.addWidget(self.total)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    def find(self, text: str) -> None:
        """Ask the server for products matching text."""
        self.picker.find(text)

    def add(self, product: Any) -> None:
        """Add a product as a line (cost from its last cost), or one more of it if present."""
        if product is None:
            return
        for row, existing in enumerate(self.products):
            if existing.id == product.id:
                quantity = _number(self.table.item(row, QTY).text() or "0", what="Quantity")
                self.table.item(row, QTY).setText(as_quantity(quantity + 1))
                self.table.selectRow(row)
                return
        row = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.insertRow(row)
        self.products.append(product)
        self.table.setItem(row, 0, _fixed(f"{product.name} ({product.sku})"))
        self.table.setItem(row, QTY, QTableWidgetItem("1"))
        cost = Decimal(product.cost)
        self.table.setItem(row, COST, QTableWidgetItem(f"{cost:.2f}" if cost else ""))
        free = QCheckBox()
        free.setToolTip("The supplier gives these free: only then may the cost be 0")
        free.toggled.connect(lambda _: self._update_total())
        self.table.setCellWidget(row, FREE, free)
        self.table.setItem(row, TOTAL, _fixed(""))
        self.table.blockSignals(False)
        self.table.selectRow(row)
        self._update_total()

    def set_line(self, row: int, *, quantity: str, cost: str, free: bool = False) -> None:
        """Type a line's quantity and cost (used by the form and tests alike)."""
        self.table.item(row, QTY).setText(quantity)
        self.table.item(row, COST).setText(cost)
        self.free_box(row).setChecked(free)

    def free_box(self, row: int) -> QCheckBox:
        """Return a line's "free" tick box."""
        return self.table.cellWidget(row, FREE)

    def remove_selected(self) -> None:
        """Remove the selected line."""
        row = self.table.currentRow()
        if 0 <= row < len(self.products):
            self.table.removeRow(row)
            del self.products[row]
            self._update_total()

    def _update_total(self) -> None:
        total = Decimal(0)
        self.table.blockSignals(True)
        for row in range(len(self.products)):
            try:
                value = round_money(
                    _number(self.table.item(row, QTY).text(), what="Quantity")
                    * _number(self.table.item(row, COST).text() or "0", what="Unit cost")
                )
            except ValueError:
                self.table.item(row, TOTAL).setText("?")
                continue
            total += value
            self.table.item(row, TOTAL).setText(as_money(value))
        self.table.blockSignals(False)
        count = len(self.products)
        self.total.setText(
            f"{count} line(s), {as_money(total)} before tax" if count else "No lines yet."
        )

    def lines(self) -> list[dict[str, Any]]:
        """Return the lines for the server, or raise ValueError saying what to fix."""
        if not self.products:
            raise ValueError("Add at least one line: find a product by name, SKU or barcode.")
        out = []
        for row, product in enumerate(self.products):
            quantity = _number(
                self.table.item(row, QTY).text() or "", what=f"{product.name}: quantity"
            )
            if quantity <= 0:
                raise ValueError(f"{product.name}: the quantity must be more than 0.")
            text = self.table.item(row, COST).text().strip()
            free = self.free_box(row).isChecked()
            cost = _number(text, what=f"{product.name}: unit cost") if text else Decimal(0)
            if cost < 0:
                raise ValueError(f"{product.name}: a cost cannot be negative.")
            if cost == 0 and not free:
                raise ValueError(
                    f"Give a cost for {product.name}, or tick Free if the supplier gives it free."
                )
            out.append(
                {"product_id": product.id, "quantity": quantity, "unit_cost": cost, "free": free}
            )
        return out


class PurchaseOrderDialog(FormDialog):
    """Create a draft purchase order from products found by name, SKU or barcode."""

    def __init__(
        self, *, ctx: ManagerContext, suppliers: list[Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title="New purchase order", ok_text="Create draft", parent=parent)
        self.setMinimumWidth(760)
        self.setMinimumHeight(600)
        self.supplier = choice([(s.name, s.id) for s in suppliers], name="PoSupplier")
        self.branch = choice([(b.name, b.id) for b in ctx.branches], name="PoBranch")
        self.notes = QLineEdit()
        self.lines = PoLinesEditor(ctx=ctx)
        self.form.addRow("Supplier", self.supplier)
        self.form.addRow("Deliver to", self.branch)
        self.form.addRow("Notes", self.notes)
        self.body.insertWidget(2, self.lines, 1)
        # Enter in the search adds a product; it must not press "Create draft".
        self.ok_button.setAutoDefault(False)
        self.ok_button.setDefault(False)

    def build_call(self) -> Callable[[ApiClient], Any]:
        if self.supplier.currentData() is None:
            raise ValueError("Add a supplier first.")
        lines = self.lines.lines()
        supplier_id, branch_id, notes = (
            self.supplier.currentData(),
            self.branch.currentData(),
            self.notes.text(),
        )
        return lambda api: api.create_purchase_order(
            supplier_id=supplier_id, branch_id=branch_id, lines=lines, notes=notes
        )


def fetch_document(api: ApiClient, po_id: int) -> dict[str, Any]:
    """Fetch a PO with its receipts and its products' names (runs on a network thread)."""
    po = api.purchase_order(po_id)
    ids = {line["product_id"] for line in po["lines"]}
    receipts = api.purchase_order_receipts(po_id)
    return {
        "po": po,
        "receipts": receipts,
        "names": {pid: api.product(pid).name for pid in sorted(ids)},
    }


class PoDetailDialog(QDialog):
    """A purchase order as a document: lines, totals, history, receipts; approve or reject."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        document: dict[str, Any],
        supplier_name: str,
        changed: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.po = po = document["po"]
        names: dict[int, str] = document["names"]
        self._changed = changed
        self.sub_dialog: QDialog | None = None
        self.setWindowTitle(f"Purchase order {po['number']}")
        self.setMinimumSize(820, 560)
        title = QLabel(
            f"{po['number']} · {supplier_name} → {ctx.branch_name(po['branch_id'])} · "
            f"{as_label(po['status'])}"
        )
        title.setObjectName("DialogTitle")
        title.setWordWrap(True)
        self.lines = QTableWidget(len(po["lines"]), 7)
        self.lines.setObjectName("PoDetailLines")
        self.lines.setHorizontalHeaderLabels(
            ["Product", "Ordered", "Received", "Unit cost", "Tax %", "Total", "Note"]
        )
        self.lines.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lines.verticalHeader().setVisible(False)
        for row, line in enumerate(po["lines"]):
            free = Decimal(line["unit_cost"]) == 0
            cells = (
                names.get(line["product_id"], f"#{line['product_id']}"),
                as_quantity(line["quantity"]),
                as_quantity(line["received_quantity"]),
                as_money(line["unit_cost"]),
                as_quantity(line["tax_rate"]),
                as_money(line["line_total"]),
                "Free" if free else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 1 <= column <= 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.lines.setItem(row, column, item)
        header = self.lines.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 7):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.totals = QLabel(
            f"Subtotal {as_money(po['subtotal'])}   Tax {as_money(po['tax_total'])}   "
            f"<b>Total {as_money(po['total'])}</b>   Received {as_money(po['received_value'])}"
        )
        self.totals.setObjectName("PoDetailTotals")
        self.history = QListWidget()
        self.history.setObjectName("PoHistory")
        for key, label, who in HISTORY:
            if po.get(key):
                by = f" by {po[who]}" if who and po.get(who) else ""
                if key == "decided_at":
                    label = "Rejected" if po["status"] == "rejected" else "Approved"
                comment = (
                    f" — {po['decision_comment']}"
                    if key == "decided_at" and po.get("decision_comment")
                    else ""
                )
                self.history.addItem(f"{as_when(po[key])}  {label}{by}{comment}")
        self.receipts = QListWidget()
        self.receipts.setObjectName("PoReceipts")
        for receipt in document["receipts"]:
            items = ", ".join(
                f"{as_quantity(x['quantity'])} × {names.get(x['product_id'], '#')}"
                for x in receipt["lines"]
            )
            note = f" ({receipt['note']})" if receipt.get("note") else ""
            self.receipts.addItem(
                f"{as_when(receipt['received_at'])}  {receipt['actor']}: {items} — "
                f"{as_money(receipt['value'])}{note}"
            )
        if not document["receipts"]:
            self.receipts.addItem("Nothing received yet.")
        lists = QHBoxLayout()
        for caption, widget in (("Status history", self.history), ("Receipts", self.receipts)):
            box = QVBoxLayout()
            box.addWidget(QLabel(caption))
            box.addWidget(widget)
            lists.addLayout(box, 1)
        self.error = QLabel("")
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        decidable = po["status"] == "pending_approval" and ctx.can(Permission.PURCHASING_APPROVE)
        self.approve_button = button("Approve", role="primary", name="DetailApprove")
        self.reject_button = button("Reject…", role="danger", name="DetailReject")
        for widget in (self.approve_button, self.reject_button):
            self.buttons.addButton(widget, QDialogButtonBox.ButtonRole.ActionRole)
            widget.setVisible(decidable)  # after adding: the box shows what it is given
        self.approve_button.clicked.connect(self.approve)
        self.reject_button.clicked.connect(self.reject_po)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.lines, 2)
        layout.addWidget(self.totals)
        layout.addLayout(lists, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def approve(self) -> None:
        """Approve the PO shown; the server checks who may."""
        self.approve_button.setEnabled(False)
        self.error.setVisible(False)
        po_id = self.po["id"]
        NetOp(lambda api: api.po_action(po_id, "approve"), pool=self.ctx.pool, owner=self).success(
            lambda r: self._finished(f"{r['number']} is now {as_label(r['status']).lower()}.")
        ).failure(self._failed).run()

    def reject_po(self) -> None:
        """Ask why, then reject the PO shown."""
        po_id = self.po["id"]
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Reject {self.po['number']}",
            ok_text="Reject",
            call=lambda api, comment: api.po_action(po_id, "reject", comment=comment),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._finished(f"Rejected {self.po['number']}."))
        self.sub_dialog = dialog
        dialog.open()

    def _failed(self, error: BaseException) -> None:
        self.approve_button.setEnabled(True)
        self.error.setText(describe(error))
        self.error.setVisible(True)

    def _finished(self, text: str) -> None:
        self._changed(text)
        self.accept()
