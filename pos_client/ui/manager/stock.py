"""Stock screen: levels per branch colour-coded by status, movements, adjustments, transfers."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.codes import AdjustReason
from common.roles import Permission
from common.schemas.inventory import StockLevelRead, TransferRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.stock_counts import CountDialog
from pos_client.ui.manager.stock_documents import (
    TransferDialog,
    TransferDocument,
    TransferReceiveDialog,
    fetch_transfer,
)
from pos_client.ui.manager.table import Column, as_label, as_money, as_quantity, as_when
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
        self, *, ctx: ManagerContext, level: StockLevelRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Adjust {level.name}", ok_text="Record adjustment", parent=parent
        )
        self.level = level
        self.form.addRow("On hand", QLabel(as_quantity(level.on_hand)))
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
        branch_id, product_id = self.level.branch_id, self.level.product_id
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
        self, *, ctx: ManagerContext, level: StockLevelRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Movements — {level.name}")
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
        branch_id, product_id = level.branch_id, level.product_id
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


class StockPage(QWidget):
    """Stock levels per branch, plus transfers."""

    title = "Stock"
    levels: ServerTable  # made below the filters that reload it

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
        self.new_transfer_button = transfer_bar.add(
            button("New transfer…", role="primary", name="NewTransfer"),
            allowed=ctx.can(Permission.STOCK_TRANSFER) and len(ctx.branches) > 1,
        )
        self.new_transfer_button.clicked.connect(self.new_transfer)
        self.dispatch_button = transfer_bar.add(
            button("Dispatch", name="DispatchTransfer"), allowed=ctx.can(Permission.STOCK_TRANSFER)
        )
        self.receive_transfer_button = transfer_bar.add(
            button("Receive…", name="ReceiveTransfer"), allowed=ctx.can(Permission.STOCK_TRANSFER)
        )
        transfer_bar.addStretch(1)
        self.dispatch_button.clicked.connect(self.dispatch)
        self.receive_transfer_button.clicked.connect(self.receive_transfer)
        # The transfers tab says what happened there, not on the hidden Levels tab.
        self.transfer_message = QLabel("")
        self.transfer_message.setObjectName("PageStatus")
        self.transfer_message.setWordWrap(True)
        transfers_tab = QWidget()
        transfers_layout = QVBoxLayout(transfers_tab)
        transfers_layout.addLayout(transfer_bar)
        transfers_layout.addWidget(self.transfer_message)
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

    def _selected(self) -> StockLevelRead | None:
        level = self.levels.current()
        if level is None:
            self.message.setText("Select a product first.")
        return level

    def adjust(self) -> None:
        """Open the adjustment form for the selected level."""
        if (level := self._selected()) is None:
            return
        dialog = AdjustDialog(ctx=self.ctx, level=level, parent=self)
        dialog.accepted.connect(lambda: self._changed(f"Adjusted {level.name}."))
        self.dialog = dialog
        dialog.open()

    def transfer(self) -> None:
        """Open the transfer form, starting with the selected product if there is one."""
        level = self.levels.current()
        dialog = TransferDialog(
            ctx=self.ctx,
            source_id=level.branch_id if level else self.branch.currentData(),
            parent=self,
        )
        if level is not None:
            # The levels row carries what the form's line needs: id, name and SKU.
            dialog.add(_LevelProduct(level))
        dialog.accepted.connect(
            lambda: self._transfer_done(
                f"Transfer {dialog.result_value.id} created; dispatch it when it leaves."
            )
        )
        self.dialog = dialog
        dialog.open()

    def new_transfer(self) -> None:
        """Open an empty transfer form."""
        dialog = TransferDialog(ctx=self.ctx, source_id=self.branch.currentData(), parent=self)
        dialog.accepted.connect(
            lambda: self._transfer_done(
                f"Transfer {dialog.result_value.id} created; dispatch it when it leaves."
            )
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

    def _say_transfer(self, text: str, *, error: bool = False) -> None:
        label = self.transfer_message
        label.setObjectName("ErrorText" if error else "PageStatus")
        label.style().unpolish(label)
        label.style().polish(label)
        label.setText(text)

    def _transfer_done(self, text: str) -> None:
        """Say what happened on the transfers tab; stock may have moved, so reload both."""
        self.tabs.setCurrentIndex(1)
        self._say_transfer(text)
        self.transfers.reload(keep_page=True)
        self.levels.reload(keep_page=True)

    def _selected_transfer(self) -> TransferRead | None:
        transfer = self.transfers.current()
        if transfer is None:
            self._say_transfer("Select a transfer first.", error=True)
        return transfer

    def dispatch(self) -> None:
        """Send the selected transfer: its stock leaves the source branch."""
        if (transfer := self._selected_transfer()) is None:
            return
        NetOp(
            lambda api: api.transfer_action(transfer.id, "dispatch"),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda t: self._transfer_done(
                f"Transfer {t.id} dispatched from {self.ctx.branch_name(t.source_branch_id)}."
            )
        ).failure(lambda e: self._say_transfer(describe(e), error=True)).run()

    def receive_transfer(self) -> None:
        """Open the receive form for the selected transfer (lines and names fetched first)."""
        if (transfer := self._selected_transfer()) is None:
            return
        NetOp(lambda api: fetch_transfer(api, transfer.id), pool=self.ctx.pool, owner=self).success(
            self._open_receive
        ).failure(lambda e: self._say_transfer(describe(e), error=True)).run()

    def _open_receive(self, document: TransferDocument) -> None:
        transfer = document.transfer
        if transfer.status not in ("dispatched", "partially_received"):
            self._say_transfer(
                f"Transfer {transfer.id} is "
                f"{as_label(transfer.status).lower()}: only a dispatched "
                "transfer can be received.",
                error=True,
            )
            return
        dialog = TransferReceiveDialog(ctx=self.ctx, document=document, parent=self)
        dialog.accepted.connect(lambda: self._received(dialog.result_value))
        self.dialog = dialog
        dialog.open()

    def _received(self, transfer: TransferRead) -> None:
        missing = sum((x.discrepancy for x in transfer.lines), Decimal(0))
        text = f"Transfer {transfer.id} is {as_label(transfer.status).lower()}."
        if missing:
            text += f" {as_quantity(missing)} unit(s) never arrived and are recorded as missing."
        self._transfer_done(text)


class _LevelProduct:
    """The product fields a transfer line shows, read from a stock-levels row."""

    def __init__(self, level: StockLevelRead) -> None:
        self.id, self.name, self.sku = level.product_id, level.name, level.sku
