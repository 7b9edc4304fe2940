"""Stock screen: levels per branch colour-coded by status, movements, adjustments, transfers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.codes import AdjustReason
from common.roles import Permission
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, RowsModel, as_label, as_money, as_quantity, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    FormDialog,
    SearchBox,
    ServerTable,
    button,
    choice,
    heading,
)

STATUSES = [
    ("All statuses", None),
    ("In stock", "in_stock"),
    ("Low", "low"),
    ("Out", "out"),
    ("Negative", "negative"),
]


def _on_order(value: Any) -> str:
    # Most products have nothing on the way: a blank cell lets the ones that do stand out.
    text = as_quantity(value)
    return "" if text in ("", "0") else text


class AdjustDialog(FormDialog):
    """Adjust one product's stock at one branch, with a reason."""

    def __init__(
        self, *, ctx: ManagerContext, level: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Adjust {level['name']}", ok_text="Record adjustment", parent=parent
        )
        self.level = level
        self.form.addRow("On hand", QLabel(as_quantity(level["on_hand"])))
        self.quantity = QLineEdit()
        self.quantity.setObjectName("AdjustQuantity")
        self.quantity.setPlaceholderText("e.g. -2 to take out, 5 to add")
        self.reason = choice(
            [(as_label(r.value), r.value) for r in AdjustReason], name="AdjustReason"
        )
        self.reference = QLineEdit()
        self.form.addRow("Change by", self.quantity)
        self.form.addRow("Reason", self.reason)
        self.form.addRow("Note", self.reference)

    def build_call(self) -> Callable[[ApiClient], Any]:
        try:
            quantity = Decimal(self.quantity.text().strip())
        except InvalidOperation as exc:
            raise ValueError("Type how much to add (positive) or take out (negative).") from exc
        if quantity == 0:
            raise ValueError("A zero adjustment changes nothing.")
        branch_id, product_id = self.level["branch_id"], self.level["product_id"]
        reason, reference = self.reason.currentData(), self.reference.text().strip()
        return lambda api: api.adjust_stock(
            branch_id=branch_id,
            product_id=product_id,
            quantity=quantity,
            reason=reason,
            reference=reference,
        )


class MovementsDialog(QDialog):
    """The movement history of one product at one branch."""

    def __init__(
        self, *, ctx: ManagerContext, level: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Movements — {level['name']}")
        self.resize(820, 480)
        columns = [
            Column("occurred_at", "When", as_when),
            Column("code", "Movement", as_label),
            Column("quantity", "Quantity", as_quantity, numeric=True),
            Column("unit_cost", "Unit cost", as_money, numeric=True),
            Column("reason", "Reason", as_label),
            Column("actor", "By"),
            Column("reference_type", "Document", as_label),
        ]
        branch_id, product_id = level["branch_id"], level["product_id"]
        self.table = ServerTable(
            ctx=ctx,
            columns=columns,
            fetch=lambda api, offset, limit: api.movements(
                branch_id=branch_id, product_id=product_id, offset=offset, limit=limit
            ),
            empty_text="No movements yet for this product here.",
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.table.reload()


class TransferDialog(FormDialog):
    """Move stock of one product from one branch to another."""

    def __init__(
        self, *, ctx: ManagerContext, level: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Transfer {level['name']}", ok_text="Create transfer", parent=parent
        )
        self.level = level
        others = [(b.name, b.id) for b in ctx.branches if b.id != level["branch_id"]]
        self.destination = choice(others, name="TransferTo")
        self.quantity = QLineEdit()
        self.form.addRow("From", QLabel(ctx.branch_name(level["branch_id"])))
        self.form.addRow("To", self.destination)
        self.form.addRow("Quantity", self.quantity)

    def build_call(self) -> Callable[[ApiClient], Any]:
        try:
            quantity = Decimal(self.quantity.text().strip())
        except InvalidOperation as exc:
            raise ValueError("Type the quantity to move.") from exc
        if quantity <= 0 or self.destination.currentData() is None:
            raise ValueError("Choose a destination and a positive quantity.")
        source, destination = self.level["branch_id"], self.destination.currentData()
        lines = [{"product_id": self.level["product_id"], "quantity": quantity}]
        return lambda api: api.create_transfer(
            source_branch_id=source, destination_branch_id=destination, lines=lines
        )


class CountDialog(QDialog):
    """A stock count at one branch: scan what is on the shelf, review differences, post."""

    def __init__(
        self, *, ctx: ManagerContext, branch_id: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.count: dict[str, Any] | None = None
        self.setWindowTitle(f"Stock count — {ctx.branch_name(branch_id)}")
        self.resize(820, 520)
        self.scan = QLineEdit()
        self.scan.setObjectName("CountScan")
        self.scan.setPlaceholderText("Scan or type a barcode, then Enter: each scan counts one")
        self.scan.returnPressed.connect(self.scanned)
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
        view = QTableView()
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("Starting the count…")
        self.status.setObjectName("PageStatus")
        self.post_button = button("Post count", role="primary", name="PostCount")
        self.post_button.setEnabled(False)
        # Enter belongs to the scanner: it must never press "Post count".
        self.post_button.setAutoDefault(False)
        self.post_button.setDefault(False)
        self.post_button.clicked.connect(self.post)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scan)
        layout.addWidget(self.status)
        layout.addWidget(view, 1)
        layout.addWidget(self.post_button, 0, Qt.AlignmentFlag.AlignRight)
        self._call(lambda api: api.start_count(branch_id=branch_id))

    def _call(self, fn: Callable[[ApiClient], Any]) -> None:
        NetOp(fn, pool=self.ctx.pool, owner=self).success(self._show).failure(
            lambda e: self.status.setText(describe(e))
        ).run()

    def _show(self, count: dict[str, Any]) -> None:
        self.count = count
        self.model.set_rows(count["lines"])
        self.post_button.setEnabled(count["status"] != "posted" and bool(count["lines"]))
        if count["status"] == "posted":
            self.status.setText(
                f"Posted: stock now matches the count ({as_money(count['difference_value'])})."
            )
        else:
            self.status.setText(
                f"{len(count['lines'])} product(s) counted; "
                f"difference {as_money(count['difference_value'])}."
            )

    def scanned(self) -> None:
        """Count one of the scanned product."""
        code = self.scan.text().strip()
        self.scan.clear()
        if not code or self.count is None:
            return
        count_id = self.count["id"]
        self._call(lambda api: api.count_scan(count_id, barcode=code))

    def post(self) -> None:
        """Post the count: differences become count movements."""
        if self.count is None:
            return
        count_id = self.count["id"]
        self.post_button.setEnabled(False)
        self._call(lambda api: api.post_count(count_id))


class StockPage(QWidget):
    """Stock levels per branch, plus transfers."""

    title = "Stock"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = ""
        self.dialog: QDialog | None = None
        self.branch = choice(
            [(b.name, b.id) for b in ctx.branches] or [("No branch", None)], name="BranchFilter"
        )
        self.status_filter = choice(STATUSES, name="StatusFilter")
        self.search = SearchBox("Search products…")
        self.search.search.connect(self._search)
        self.branch.currentIndexChanged.connect(lambda _: self.levels.reload())
        self.status_filter.currentIndexChanged.connect(lambda _: self.levels.reload())
        columns = [
            Column("sku", "SKU"),
            Column("name", "Product"),
            Column("on_hand", "On hand", as_quantity, numeric=True),
            Column("reserved", "Reserved", as_quantity, numeric=True),
            Column("available", "Available", as_quantity, numeric=True),
            Column("on_order", "On order", _on_order, numeric=True),
            Column("expected_at", "Due", lambda v: str(v or "")),
            Column("threshold", "Low at", as_quantity, numeric=True),
            Column("status", "Status", as_label, status=True),
            Column("unit_cost", "Unit cost", as_money, numeric=True),
        ]
        self.levels = ServerTable(
            ctx=ctx,
            columns=columns,
            fetch=self._fetch,
            empty_text="No stock here yet.\nReceive a purchase order or record an adjustment.",
        )
        bar = ActionBar()
        bar.addWidget(self.branch)
        bar.addWidget(self.status_filter)
        bar.addWidget(self.search, 1)
        self.adjust_button = bar.add(
            button("Adjust…", role="primary", name="AdjustStock"),
            allowed=ctx.can(Permission.STOCK_ADJUST),
        )
        self.transfer_button = bar.add(
            button("Transfer…", name="TransferStock"),
            allowed=ctx.can(Permission.STOCK_TRANSFER) and len(ctx.branches) > 1,
        )
        self.count_button = bar.add(
            button("Count…", name="StockCount"), allowed=ctx.can(Permission.STOCK_COUNT)
        )
        self.count_button.clicked.connect(self.start_count)
        self.movements_button = bar.add(button("Movements", name="ShowMovements"))
        self.adjust_button.clicked.connect(self.adjust)
        self.transfer_button.clicked.connect(self.transfer)
        self.movements_button.clicked.connect(self.movements)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")

        levels_tab = QWidget()
        levels_layout = QVBoxLayout(levels_tab)
        levels_layout.addLayout(bar)
        levels_layout.addWidget(self.message)
        levels_layout.addWidget(self.levels, 1)

        self.transfers = ServerTable(
            ctx=ctx,
            columns=[
                Column("id", "No.", numeric=True),
                Column("source_branch_id", "From", ctx.branch_name),
                Column("destination_branch_id", "To", ctx.branch_name),
                Column("status", "Status", as_label, status=True),
                Column("lines", "Lines", lambda v: str(len(v or []))),
                Column("created_at", "Created", as_when),
            ],
            fetch=lambda api, offset, limit: api.transfers(offset=offset, limit=limit),
            empty_text="No transfers between branches yet.",
        )
        transfer_bar = ActionBar()
        self.dispatch_button = transfer_bar.add(
            button("Dispatch", name="DispatchTransfer"), allowed=ctx.can(Permission.STOCK_TRANSFER)
        )
        self.receive_transfer_button = transfer_bar.add(
            button("Receive", name="ReceiveTransfer"), allowed=ctx.can(Permission.STOCK_TRANSFER)
        )
        transfer_bar.addStretch(1)
        self.dispatch_button.clicked.connect(lambda: self._transfer_action("dispatch"))
        self.receive_transfer_button.clicked.connect(lambda: self._transfer_action("receive"))
        transfers_tab = QWidget()
        transfers_layout = QVBoxLayout(transfers_tab)
        transfers_layout.addLayout(transfer_bar)
        transfers_layout.addWidget(self.transfers, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(levels_tab, "Levels")
        self.tabs.addTab(transfers_tab, "Transfers")
        self.tabs.currentChanged.connect(lambda i: self.transfers.reload() if i == 1 else None)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        """Reload the levels."""
        self.levels.reload(keep_page=True)

    def _search(self, text: str) -> None:
        self.query = text
        self.levels.reload()

    def _fetch(self, api: ApiClient, offset: int, limit: int) -> Any:
        return api.stock_levels(
            branch_id=self.branch.currentData(),
            status=self.status_filter.currentData(),
            q=self.query,
            offset=offset,
            limit=limit,
        )

    def _selected(self) -> dict[str, Any] | None:
        level = self.levels.current()
        if level is None:
            self.message.setText("Select a product first.")
        return level

    def adjust(self) -> None:
        """Open the adjustment form for the selected level."""
        if (level := self._selected()) is None:
            return
        dialog = AdjustDialog(ctx=self.ctx, level=level, parent=self)
        dialog.accepted.connect(lambda: self._changed(f"Adjusted {level['name']}."))
        self.dialog = dialog
        dialog.open()

    def transfer(self) -> None:
        """Open the transfer form for the selected level."""
        if (level := self._selected()) is None:
            return
        dialog = TransferDialog(ctx=self.ctx, level=level, parent=self)
        dialog.accepted.connect(
            lambda: self._changed("Transfer created; dispatch it from Transfers.")
        )
        self.dialog = dialog
        dialog.open()

    def start_count(self) -> None:
        """Open a stock count for the chosen branch."""
        if self.branch.currentData() is None:
            return
        dialog = CountDialog(ctx=self.ctx, branch_id=self.branch.currentData(), parent=self)
        dialog.finished.connect(lambda _: self.levels.reload(keep_page=True))
        self.dialog = dialog
        dialog.open()

    def movements(self) -> None:
        """Show the selected product's movement history."""
        if (level := self._selected()) is None:
            return
        self.dialog = MovementsDialog(ctx=self.ctx, level=level, parent=self)
        self.dialog.open()

    def _changed(self, text: str) -> None:
        self.message.setText(text)
        self.levels.reload(keep_page=True)

    def _transfer_action(self, action: str) -> None:
        transfer = self.transfers.current()
        if transfer is None:
            return
        NetOp(
            lambda api: api.transfer_action(transfer["id"], action), pool=self.ctx.pool, owner=self
        ).success(lambda _: self.transfers.reload(keep_page=True)).failure(
            lambda e: self.message.setText(describe(e))
        ).run()
