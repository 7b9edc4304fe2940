"""Sales screen: wholesale requests (approve/reject), online orders, till sales and returns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QDialog, QLabel, QTabWidget, QVBoxLayout, QWidget

from common.roles import Permission
from common.schemas import orders
from common.schemas import wholesale as requests
from common.schemas.orders import OrderRead
from common.schemas.wholesale import SalesRequestRead
from pos_client.api.client import ApiClient, Row
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.sales_dialogs import OrderDialog, ReturnDialog, SaleDialog, tenders
from pos_client.ui.manager.sales_journal import JournalTab
from pos_client.ui.manager.table import Column, as_label, as_money, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    CommentDialog,
    ServerTable,
    ask_pdf_path,
    button,
    choice,
    heading,
)

# What the filters call each status; every status the server knows is here (a test holds
# these against common/), so no document can be out of reach of a filter.
REQUEST_LABELS = {
    requests.PENDING: "Waiting approval",
    requests.APPROVED: "Approved",
    requests.REJECTED: "Rejected",
    requests.CANCELLED: "Cancelled",
}
ORDER_LABELS = {
    orders.PENDING_PAYMENT: "Awaiting payment",
    orders.CONFIRMED: "Confirmed",
    orders.PICKING: "Picking",
    orders.PACKED: "Packed",
    orders.SHIPPED: "Shipped",
    orders.DELIVERED: "Delivered",
    orders.CANCELLED: "Cancelled",
    orders.EXPIRED: "Expired",
}
REQUEST_STATUSES: list[tuple[str, str | None]] = [
    *((REQUEST_LABELS[s], s) for s in requests.REQUEST_STATUSES),
    ("All", None),
]
ORDER_STATUSES: list[tuple[str, str | None]] = [
    ("All", None),
    *((ORDER_LABELS[s], s) for s in orders.ORDER_STATUSES),
]
# Each order button, the server step it asks for, and the step's name in common/.
ORDER_STEPS = (
    ("picking", "Start picking", "pick"),
    ("packed", "Packed", "pack"),
    ("delivered", "Delivered", "deliver"),
)


class SalesPage(QWidget):
    """Sales requests waiting for a decision, and online orders."""

    title = "Sales"
    # Made below the filters that reload them.
    requests: ServerTable
    orders: ServerTable

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dialog: QDialog | None = None
        self.customer_names: dict[int, str] = {}
        # Where picking lists go; the file chooser by default (tests point it at a folder).
        self.ask_path: Callable[[str], Path | None] = self._ask_path
        self.request_status = choice(REQUEST_STATUSES, name="RequestStatus")
        self.request_status.currentIndexChanged.connect(lambda _: self.requests.reload())
        self.requests = ServerTable(
            ctx=ctx,
            columns=[
                Column("number", "Request"),
                Column("customer_id", "Customer", lambda v: self.customer_names.get(v, f"#{v}")),
                Column("branch_id", "Branch", ctx.branch_name),
                Column("status", "Status", as_label, status=True),
                Column("total", "Total", as_money, numeric=True),
                Column("payment_terms", "Terms", as_label),
                Column("created_by_name", "Requested by"),
                Column("decision_comment", "Comment"),
                Column("created_at", "Created", as_when),
            ],
            fetch=lambda api, offset, limit: api.sales_requests(
                status=self.request_status.currentData(), offset=offset, limit=limit
            ),
            empty_text="No sales requests here.\nRequests waiting for approval show up here.",
        )
        approve = ctx.can(Permission.SALES_REQUESTS_APPROVE)
        bar = ActionBar()
        bar.addWidget(self.request_status)
        bar.addStretch(1)
        self.approve_button = bar.add(
            button("Approve", role="primary", name="ApproveRequest"), allowed=approve
        )
        self.reject_button = bar.add(
            button("Reject…", role="danger", name="RejectRequest"), allowed=approve
        )
        self.approve_button.clicked.connect(self.approve)
        self.reject_button.clicked.connect(self.reject)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        requests_tab = QWidget()
        requests_layout = QVBoxLayout(requests_tab)
        requests_layout.addLayout(bar)
        requests_layout.addWidget(self.message)
        requests_layout.addWidget(self.requests, 1)

        self.order_status = choice(ORDER_STATUSES, name="OrderStatus")
        self.order_status.currentIndexChanged.connect(lambda _: self.orders.reload())
        self.orders = ServerTable(
            ctx=ctx,
            columns=[
                Column("external_number", "Order"),
                Column("channel", "Channel", as_label),
                Column("status", "Status", as_label, status=True),
                Column("branch_id", "Branch", ctx.branch_name),
                Column("total", "Total", as_money, numeric=True),
                Column("paid_amount", "Paid", as_money, numeric=True),
                Column("lines", "Lines", lambda v: str(len(v or []))),
                Column("created_at", "Placed", as_when),
            ],
            fetch=lambda api, offset, limit: api.orders(
                status=self.order_status.currentData(), offset=offset, limit=limit
            ),
            empty_text="No online orders yet.",
        )
        orders_tab = QWidget()
        orders_layout = QVBoxLayout(orders_tab)
        order_bar = ActionBar()
        order_bar.addWidget(self.order_status)
        order_bar.addStretch(1)
        write = ctx.can(Permission.ORDERS_WRITE)
        self.order_buttons = {}
        for action, text, _step in ORDER_STEPS:
            widget = order_bar.add(button(text, name=f"Order-{action}"), allowed=write)
            widget.clicked.connect(lambda _=False, a=action: self.order_action(a))
            self.order_buttons[action] = widget
        self.cancel_order_button = order_bar.add(
            button("Cancel order…", role="danger", name="CancelOrder"), allowed=write
        )
        self.cancel_order_button.clicked.connect(self.cancel_order)
        self.order_details_button = order_bar.add(button("Details…", name="OrderDetails"))
        self.order_details_button.clicked.connect(self.show_order)
        self.orders.view.activated.connect(lambda _: self.show_order())
        # The rows may change under a kept selection when a page reloads: look again then too.
        for signal in (self.orders.selection_changed, self.orders.loaded):
            signal.connect(lambda *_: self._update_order_steps())
        for signal in (self.requests.selection_changed, self.requests.loaded):
            signal.connect(lambda *_: self._update_request_steps())
        self._update_order_steps()
        self._update_request_steps()
        self.order_message = QLabel("")
        self.order_message.setObjectName("PageStatus")
        orders_layout.addLayout(order_bar)
        orders_layout.addWidget(self.order_message)
        orders_layout.addWidget(self.orders, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(requests_tab, "Sales requests")
        self._tables: dict[QWidget, ServerTable] = {}
        if ctx.can(Permission.ORDERS_READ):
            self.tabs.addTab(orders_tab, "Online orders")
            self._tables[orders_tab] = self.orders
        if ctx.can(Permission.SALES_READ):
            self._build_journal()
        self.tabs.currentChanged.connect(self._tab_shown)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.tabs, 1)

    def _update_order_steps(self) -> None:
        """Offer only the steps the selected order's status allows (as the server will)."""
        order = self.orders.current()
        status = order.status if order else None
        for action, _text, step in ORDER_STEPS:
            self.order_buttons[action].setEnabled(status in orders.ALLOWED_FROM[step])
        self.cancel_order_button.setEnabled(status in orders.ALLOWED_FROM["cancel"])

    def _update_request_steps(self) -> None:
        request = self.requests.current()
        status = request.status if request else None
        self.approve_button.setEnabled(status in requests.ALLOWED_FROM["approve"])
        self.reject_button.setEnabled(status in requests.ALLOWED_FROM["reject"])

    def refresh(self) -> None:
        """Reload the requests (and customer names for them)."""
        NetOp(
            lambda api: {c.id: c.name for c in api.customers(limit=200).items},
            pool=self.ctx.pool,
            owner=self,
        ).success(self._names).failure(lambda _e: None).run()
        self.requests.reload(keep_page=True)

    def _names(self, names: dict[int, str]) -> None:
        self.customer_names = names
        self.requests.model.layoutChanged.emit()
        self.requests.fit_columns()

    def _current(self) -> SalesRequestRead | None:
        request = self.requests.current()
        if request is None:
            self.message.setText("Select a sales request first.")
        return request

    def approve(self) -> None:
        """Approve the selected request (stock goes out, the account is charged)."""
        if (request := self._current()) is None:
            return
        NetOp(
            lambda api: api.sales_request_action(request.id, "approve"),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda r: self._done(f"Approved {r.number}; invoice {r.invoice_number or '—'}.")
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def reject(self) -> None:
        """Ask for a reason and reject the selected request."""
        if (request := self._current()) is None:
            return
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Reject {request.number}",
            ok_text="Reject",
            call=lambda api, comment: api.sales_request_action(
                request.id, "reject", comment=comment
            ),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._done(f"Rejected {request.number}."))
        self.dialog = dialog
        dialog.open()

    def order_action(self, action: str) -> None:
        """Move the selected online order to its next step."""
        order = self.orders.current()
        if order is None:
            self.order_message.setText("Select an order first.")
            return

        def moved(r: OrderRead) -> None:
            self.order_message.setText(f"{r.external_number} is now {as_label(r.status).lower()}.")
            self.orders.reload(keep_page=True)

        NetOp(
            lambda api: api.order_action(order.id, action), pool=self.ctx.pool, owner=self
        ).success(moved).failure(lambda e: self.order_message.setText(describe(e))).run()

    def cancel_order(self) -> None:
        """Cancel the selected order with a reason (stock is released or returned)."""
        order = self.orders.current()
        if order is None:
            self.order_message.setText("Select an order first.")
            return
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Cancel {order.external_number}",
            ok_text="Cancel order",
            call=lambda api, reason: api.order_action(order.id, "cancel", {"reason": reason}),
            parent=self,
        )
        dialog.accepted.connect(lambda: self.orders.reload(keep_page=True))
        self.dialog = dialog
        dialog.open()

    def _done(self, text: str) -> None:
        self.message.setText(text)
        self.requests.reload(keep_page=True)

    # --- till sales and returns -------------------------------------------------------
    def _build_journal(self) -> None:
        branch = self.ctx.branch_name
        self.sales_tab = JournalTab(
            ctx=self.ctx,
            kind="sales",
            name="Sale",
            what="a sale",
            columns=[
                Column("receipt_number", "Receipt"),
                Column("occurred_at", "When", as_when),
                Column("branch_id", "Branch", branch),
                Column("status", "Status", as_label, status=True),
                Column("cashier_name", "Cashier"),
                Column("customer_name", "Customer"),
                Column("line_count", "Items", numeric=True),
                Column("payments", "Paid by", tenders),
                Column("total", "Total", as_money, numeric=True),
            ],
            search_text="Receipt number…",
            empty_text="No till sales match.\nSales show up here once the tills have synced.",
            make_dialog=lambda sale: SaleDialog(ctx=self.ctx, sale=sale, parent=self),
        )
        self.returns_tab = JournalTab(
            ctx=self.ctx,
            kind="returns",
            name="Return",
            what="a return",
            columns=[
                Column("receipt_number", "Return"),
                Column("occurred_at", "When", as_when),
                Column("original_receipt_number", "Sale receipt"),
                Column("branch_id", "Branch", branch),
                Column("reason", "Reason"),
                Column("refunds", "Refunded by", tenders),
                Column("cashier_name", "Cashier"),
                Column("total", "Total", as_money, numeric=True),
            ],
            search_text="Return or sale receipt…",
            empty_text="No returns match.",
            make_dialog=lambda row: ReturnDialog(ctx=self.ctx, row=row, parent=self),
            with_reason=True,
        )
        self.sales, self.returns = self.sales_tab.table, self.returns_tab.table
        for tab, title in ((self.sales_tab, "Till sales"), (self.returns_tab, "Returns")):
            self.tabs.addTab(tab, title)
            self._tables[tab] = tab.table

    def _tab_shown(self, index: int) -> None:
        tab = self.tabs.widget(index)
        table = self._tables.get(tab) if tab is not None else None
        if table is not None:
            table.reload(keep_page=True)

    def show_order(self) -> None:
        """Open the selected online order: customer, lines, steps, shipment, picking list."""
        may_see_customers = self.ctx.can(Permission.CUSTOMERS_READ)

        def fetch(api: ApiClient, row: OrderRead) -> tuple[OrderRead, Row | None]:
            order = api.order(row.id)
            customer = None
            if may_see_customers:
                customer = api.customer(order.customer_id).model_dump(mode="json")
            return order, customer

        row = self.orders.current()
        if row is None:
            self.order_message.setText("Select an order first.")
            return
        self.order_message.setText("")
        NetOp(lambda api: fetch(api, row), pool=self.ctx.pool, owner=self).success(
            lambda found: self._show(
                OrderDialog(
                    ctx=self.ctx,
                    order=found[0],
                    customer=found[1],
                    ask_path=lambda suggested: self.ask_path(suggested),
                    on_change=lambda _order: self.orders.reload(keep_page=True),
                    parent=self,
                )
            )
        ).failure(lambda e: self.order_message.setText(describe(e))).run()

    def _show(self, dialog: QDialog) -> None:
        self.dialog = dialog
        dialog.open()

    def _ask_path(self, suggested: str) -> Path | None:
        return ask_pdf_path(self, title="Save picking list", suggested=suggested)
