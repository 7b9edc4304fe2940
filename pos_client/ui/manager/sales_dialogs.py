"""Detail windows of the Sales screen: a till sale, a till return, an online order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.orders import ALLOWED_FROM, ENDED_UNSOLD, OrderRead
from pos_client.api.client import ApiClient, ApiError, Row
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import as_label, as_money, as_quantity, as_when, value_of
from pos_client.ui.manager.widgets import ActionBar, FormDialog, button

# (heading, how to show a row) per column of a detail table.
Cell = tuple[str, Callable[[Any], str]]


def tenders(payments: Sequence[Row]) -> str:
    """Say how a document was paid or refunded, e.g. "Cash 20.00, Card 5.00"."""
    return ", ".join(
        f"{as_label(p.get('method'))} {as_money(p.get('amount'))}"
        + (f" (received {as_money(p.get('tendered'))})" if p.get("tendered") else "")
        for p in payments
    )


MAX_TABLE_WIDTH = 1100


def detail_table(cells: Sequence[Cell], rows: Sequence[Any], *, name: str) -> QTableWidget:
    """Make a read-only table of a document's lines."""
    table = QTableWidget(len(rows), len(cells))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels([heading for heading, _ in cells])
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    for r, row in enumerate(rows):
        for c, (_, show) in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(show(row)))
    table.resizeColumnsToContents()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.setMinimumHeight(60 + 30 * min(len(rows), 6))
    return table


def fit_width(table: QTableWidget) -> None:
    """Size the columns as styled, and make the table wide enough to show them all."""
    table.resizeColumnsToContents()
    columns = sum(table.columnWidth(c) for c in range(table.columnCount()))
    table.setMinimumWidth(min(columns + 2 * table.frameWidth() + 4, MAX_TABLE_WIDTH))


def _field(key: str, show: Callable[[Any], str] = str) -> Callable[[Any], str]:
    return lambda row: "" if value_of(row, key) is None else show(value_of(row, key))


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("SectionTitle")
    return label


class DetailDialog(QDialog):
    """A read-only window over one document: facts on top, then its tables."""

    def __init__(self, *, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(720)
        heading = QLabel(title)
        heading.setObjectName("DialogTitle")
        self.facts = QFormLayout()
        self.facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.body = QVBoxLayout(self)
        self.body.addWidget(heading)
        self.body.addLayout(self.facts)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)

    def fact(self, label: str, value: str, *, name: str = "") -> QLabel:
        """Add a labelled fact (blank facts are left out)."""
        shown = QLabel(value)
        shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        shown.setWordWrap(True)
        if name:
            shown.setObjectName(name)
        if value:
            self.facts.addRow(label, shown)
        return shown

    def table(
        self, title: str, cells: Sequence[Cell], rows: Sequence[Any], *, name: str, empty: str
    ) -> QTableWidget:
        """Add a titled table, or a line saying there is nothing."""
        self.body.addWidget(_section(title))
        table = detail_table(cells, rows, name=name)
        if rows:
            self.body.addWidget(table)
        else:
            self.body.addWidget(QLabel(empty))
        return table

    def finish(self) -> None:
        """Put the close button last."""
        self.body.addWidget(self.buttons)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        # Only once styled do the columns know their real widths (header padding, fonts).
        for table in self.findChildren(QTableWidget):
            fit_width(table)
        super().showEvent(event)
        self.resize(max(self.width(), self.sizeHint().width()), self.height())


class SaleDialog(DetailDialog):
    """A till sale: what was sold, how it was paid, and what came back."""

    def __init__(self, *, ctx: ManagerContext, sale: Row, parent: QWidget | None = None) -> None:
        super().__init__(title=f"Receipt {sale['receipt_number']}", parent=parent)
        self.setObjectName("SaleDetail")
        self.sale = sale
        self.fact("When", as_when(sale["occurred_at"]))
        self.fact("Branch", ctx.branch_name(sale["branch_id"]))
        self.fact("Status", as_label(sale["status"]), name="SaleStatus")
        self.fact("Cashier", sale.get("cashier_name") or "")
        self.fact("Customer", sale.get("customer_name") or "")
        self.fact("Total", as_money(sale["total"]), name="SaleTotal")
        if sale.get("returns"):
            self.fact("Returned", as_money(sale.get("returned_total")))
        self.lines = self.table(
            "Items",
            [
                ("SKU", _field("sku")),
                ("Product", _field("name")),
                ("Qty", _field("quantity", as_quantity)),
                ("Price", _field("unit_price", as_money)),
                ("Discount", _field("discount", as_money)),
                ("Tax", _field("tax", as_money)),
                ("Total", _field("total", as_money)),
                ("Returned", _field("returned_quantity", as_quantity)),
                ("Still returnable", _field("returnable_quantity", as_quantity)),
            ],
            sale["lines"],
            name="SaleLines",
            empty="No items.",
        )
        self.payments = self.table(
            "Payments",
            [
                ("Tender", _field("method", as_label)),
                ("Amount", _field("amount", as_money)),
                ("Reference", _field("reference")),
            ],
            sale["payments"],
            name="SalePayments",
            empty="No payments recorded.",
        )
        self.returns = self.table(
            "Returns",
            [
                ("Receipt", _field("receipt_number")),
                ("When", _field("occurred_at", as_when)),
                ("Reason", _field("reason")),
                ("Refund", _field("total", as_money)),
            ],
            sale["returns"],
            name="SaleReturns",
            empty="Nothing from this sale has come back.",
        )
        self.finish()


class ReturnDialog(DetailDialog):
    """A till return: what came back, to which sale, and how it was refunded."""

    def __init__(self, *, ctx: ManagerContext, row: Row, parent: QWidget | None = None) -> None:
        super().__init__(title=f"Return {row['receipt_number']}", parent=parent)
        self.setObjectName("ReturnDetail")
        self.row = row
        self.fact("When", as_when(row["occurred_at"]))
        self.fact("Branch", ctx.branch_name(row["branch_id"]))
        original = row.get("original_receipt_number")
        if not original and row.get("original_sale_uuid"):
            original = "a sale not yet on the server"
        self.fact("Sale receipt", original or "none (no receipt)", name="OriginalReceipt")
        self.fact("Reason", row.get("reason") or "")
        self.fact("Cashier", row.get("cashier_name") or "")
        self.fact("Customer", row.get("customer_name") or "")
        self.fact("Total", as_money(row["total"]))
        self.lines = self.table(
            "Items back",
            [
                ("SKU", _field("sku")),
                ("Product", _field("name")),
                ("Qty", _field("quantity", as_quantity)),
                ("Amount", _field("amount", as_money)),
                ("Back on shelf", lambda r: "Yes" if r.get("restock") else "No"),
            ],
            row["lines"],
            name="ReturnLines",
            empty="No items.",
        )
        self.refunds = self.table(
            "Refunds",
            [
                ("Tender", _field("method", as_label)),
                ("Amount", _field("amount", as_money)),
                ("Reference", _field("reference")),
            ],
            row["refunds"],
            name="ReturnRefunds",
            empty="No refund was given.",
        )
        self.finish()


class ShipmentDialog(FormDialog):
    """Hand a packed order to a carrier with its tracking number."""

    def __init__(
        self, *, ctx: ManagerContext, order: OrderRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx,
            title=f"Ship {order.external_number}",
            ok_text="Record shipment",
            parent=parent,
        )
        self.order_id = order.id
        self.carrier = QLineEdit()
        self.carrier.setObjectName("Carrier")
        self.carrier.setPlaceholderText("e.g. Blue Dart")
        self.tracking = QLineEdit()
        self.tracking.setObjectName("TrackingNumber")
        self.form.addRow("Carrier", self.carrier)
        self.form.addRow("Tracking number", self.tracking)

    def build_call(self) -> Callable[[ApiClient], Any]:
        carrier, tracking = self.carrier.text().strip(), self.tracking.text().strip()
        if not carrier:
            raise ValueError("Say which carrier takes the parcel.")
        if not tracking:
            raise ValueError("Enter the tracking number the carrier gave.")
        order_id = self.order_id
        return lambda api: api.ship_order(order_id, carrier=carrier, tracking_number=tracking)


def save_picking_list(api: ApiClient, *, branch_id: int, path: Path) -> Path:
    """Fetch a branch's picking list as PDF and write it to path (runs off the UI thread)."""
    content = api.picking_list_pdf(branch_id=branch_id)
    try:
        path.write_bytes(content)
    except OSError as exc:
        raise ApiError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    return path


class OrderDialog(DetailDialog):
    """An online order: customer, lines, payment, its steps so far; ship it, print picking."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        order: OrderRead,
        customer: Row | None,
        ask_path: Callable[[str], Path | None],
        on_change: Callable[[OrderRead], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title=f"Order {order.external_number}", parent=parent)
        self.setObjectName("OrderDetail")
        self.ctx = ctx
        self.order = order
        self.ask_path = ask_path
        self.on_change = on_change
        self.shipment: ShipmentDialog | None = None
        self.status = self.fact("Status", as_label(order.status), name="OrderStatusText")
        self.fact("Branch", ctx.branch_name(order.branch_id))
        customer = customer or {}
        self.fact("Customer", customer.get("name") or f"#{order.customer_id}")
        self.fact("Phone", customer.get("phone") or "")
        self.fact("Email", customer.get("email") or "")
        self.fact("Ship to", order.shipping_address or customer.get("address") or "")
        self.fact("Notes", order.notes or "")
        self.fact("Total", as_money(order.total))
        paid = as_money(order.paid_amount)
        if order.payment_reference:
            paid = f"{paid} (ref. {order.payment_reference})"
        self.fact("Paid", paid, name="OrderPaid")
        if order.refunded_amount:
            self.fact("Refunded", as_money(order.refunded_amount))
        self.tracking = self.fact("Shipment", self._shipment_text(order), name="OrderShipment")
        self.lines = self.table(
            "Items",
            [
                ("SKU", _field("sku")),
                ("Product", _field("name")),
                ("Qty", _field("quantity", as_quantity)),
                ("Price", _field("unit_price", as_money)),
                ("Total", _field("line_total", as_money)),
                ("Returned", _field("returned_quantity", as_quantity)),
            ],
            order.lines,
            name="OrderLines",
            empty="No items.",
        )
        self.table(
            "History",
            [("Step", _field("step")), ("When", _field("when", as_when))],
            self._history(order),
            name="OrderHistory",
            empty="",
        )
        bar = ActionBar()
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setWordWrap(True)
        self.picking_button = bar.add(button("Picking list…", name="PickingList"))
        self.picking_button.clicked.connect(self.save_picking)
        bar.addStretch(1)
        self.ship_button = bar.add(
            button("Record shipment…", role="primary", name="RecordShipment"),
            allowed=ctx.can(Permission.ORDERS_WRITE),
        )
        self.ship_button.clicked.connect(self.record_shipment)
        self._enable()
        self.body.addLayout(bar)
        self.body.addWidget(self.message)
        self.finish()

    @staticmethod
    def _shipment_text(order: OrderRead) -> str:
        if not order.carrier:
            return ""
        return f"{order.carrier}, tracking {order.tracking_number}"

    @staticmethod
    def _history(order: OrderRead) -> list[Row]:
        steps = [
            ("Placed", order.created_at),
            ("Paid and confirmed", order.confirmed_at),
            ("Shipped", order.shipped_at),
            ("Delivered", order.delivered_at),
        ]
        rows: list[Row] = [{"step": step, "when": when} for step, when in steps if when]
        if order.status in ENDED_UNSOLD:
            reason = order.cancel_reason
            step = as_label(order.status) + (f": {reason}" if reason else "")
            rows.append({"step": step, "when": order.updated_at})
        return rows

    def _enable(self) -> None:
        packed = self.order.status in ALLOWED_FROM["ship"]
        self.ship_button.setEnabled(packed)
        self.ship_button.setToolTip("" if packed else "Only a packed order can be shipped.")

    def record_shipment(self) -> None:
        """Ask for the carrier and tracking number and ship the order."""
        dialog = ShipmentDialog(ctx=self.ctx, order=self.order, parent=self)
        dialog.accepted.connect(lambda: self._shipped(dialog.result_value))
        self.shipment = dialog
        dialog.open()

    def _shipped(self, order: OrderRead) -> None:
        self.order = order
        self.status.setText(as_label(order.status))
        self.tracking.setText(self._shipment_text(order))
        self.message.setText(f"{order.external_number} is shipped.")
        self._enable()
        self.on_change(order)

    def save_picking(self) -> None:
        """Save the order's branch picking list as a PDF where the user chooses."""
        branch_id = self.order.branch_id
        path = self.ask_path(f"picking-{self.ctx.branch_name(branch_id)}.pdf")
        if path is None:
            return
        self.message.setText("Saving the picking list…")
        NetOp(
            lambda api: save_picking_list(api, branch_id=branch_id, path=path),
            pool=self.ctx.pool,
            owner=self,
        ).success(lambda saved: self.message.setText(f"Picking list saved to {saved}.")).failure(
            lambda e: self.message.setText(f"Picking list not saved: {describe(e)}")
        ).run()
