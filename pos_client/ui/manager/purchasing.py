"""Purchasing screen: purchase orders from draft to receipt, suppliers, reorder suggestions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.partners import SupplierRead
from common.schemas.purchasing import (
    ALLOWED_FROM,
    APPROVED,
    CONFIRMED,
    DRAFT,
    PARTIAL,
    PENDING,
    RECEIVED,
    REJECTED,
    SENT,
    SHIPPED,
    PORead,
    SuggestionsRead,
)
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customer_dialogs import open_statement
from pos_client.ui.manager.po_detail import PoDetailDialog, fetch_document
from pos_client.ui.manager.po_documents import PurchaseOrderDialog
from pos_client.ui.manager.purchasing_dialogs import (
    ConfirmDialog,
    ReceiveDialog,
    SendDialog,
    ShipDialog,
    SupplierDialog,
    VendorPaymentDialog,
    due_date,
    shipment_text,
)
from pos_client.ui.manager.table import Column, RowsModel, as_label, as_money, as_quantity, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    CommentDialog,
    ServerTable,
    ask_pdf_path,
    button,
    choice,
    heading,
    statement_file_name,
)

PO_STATUSES = [
    ("All", None),
    ("Draft", DRAFT),
    ("Waiting approval", PENDING),
    ("Approved", APPROVED),
    ("Sent to supplier", SENT),
    ("Confirmed by supplier", CONFIRMED),
    ("Shipped", SHIPPED),
    ("Partially received", PARTIAL),
    ("Received", RECEIVED),
    ("Rejected", REJECTED),
]
# Which statuses each supplier-side step may start from: the server's own rule.
SENDABLE = ALLOWED_FROM["send"]
CONFIRMABLE = ALLOWED_FROM["confirm"]
SHIPPABLE = ALLOWED_FROM["ship"]
REORDER_METHODS = [("Low-stock levels", "threshold"), ("Sales forecast", "forecast")]


class PurchasingPage(QWidget):
    """Purchase orders and suppliers."""

    title = "Purchasing"
    orders: ServerTable  # made below the filter that reloads it

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dialog: QDialog | None = None
        self._suggestion_asked = 0
        self.suppliers: list[Any] = []
        self.status_filter = choice(PO_STATUSES, name="PoStatus")
        self.status_filter.currentIndexChanged.connect(lambda _: self.orders.reload())
        self.orders = ServerTable(
            ctx=ctx,
            columns=[
                Column("number", "PO"),
                Column("supplier_id", "Supplier", self._supplier_name),
                Column("branch_id", "Branch", ctx.branch_name),
                Column("status", "Status", as_label, status=True),
                Column("total", "Total", as_money, numeric=True),
                Column("received_value", "Received", as_money, numeric=True),
                Column("due", "Due", compute=due_date),
                Column("tracking_number", "Shipment", compute=shipment_text),
                Column("created_by_name", "Created by"),
                Column("decision_comment", "Comment"),
                Column("created_at", "Created", as_when),
            ],
            fetch=lambda api, offset, limit: api.purchase_orders(
                status=self.status_filter.currentData(), offset=offset, limit=limit
            ),
            empty_text="No purchase orders yet.\nCreate one with “New PO”.",
        )
        write = ctx.can(Permission.PURCHASING_WRITE)
        approve = ctx.can(Permission.PURCHASING_APPROVE)
        bar = ActionBar()
        bar.addWidget(self.status_filter)
        bar.addStretch(1)
        self.new_button = bar.add(button("New PO", role="primary", name="NewPo"), allowed=write)
        self.submit_button = bar.add(button("Submit for approval", name="SubmitPo"), allowed=write)
        self.approve_button = bar.add(
            button("Approve", role="primary", name="ApprovePo"), allowed=approve
        )
        self.reject_button = bar.add(
            button("Reject…", role="danger", name="RejectPo"), allowed=approve
        )
        self.send_button = bar.add(button("Send to supplier…", name="SendPO"), allowed=write)
        self.confirm_button = bar.add(
            button("Supplier confirmed…", name="ConfirmPO"), allowed=write
        )
        self.ship_button = bar.add(button("Shipped…", name="ShipPO"), allowed=write)
        self.receive_button = bar.add(
            button("Receive…", name="ReceivePo"), allowed=ctx.can(Permission.STOCK_RECEIVE)
        )
        self.new_button.clicked.connect(self.new_po)
        self.submit_button.clicked.connect(lambda: self._action("submit"))
        self.approve_button.clicked.connect(lambda: self._action("approve"))
        self.reject_button.clicked.connect(self.reject_po)
        self.receive_button.clicked.connect(self.receive_po)
        self.send_button.clicked.connect(self.send_po)
        self.confirm_button.clicked.connect(self.confirm_po)
        self.ship_button.clicked.connect(self.ship_po)
        # The supplier-side steps follow one another: offer only the one the PO is ready for.
        self.orders.selection_changed.connect(self._update_steps)
        # Qt reports Enter and a double-click on a row alike, as "activated".
        self.orders.view.activated.connect(lambda _: self.show_po())
        self.orders.model.modelReset.connect(self._update_steps)
        self._update_steps()
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        orders_tab = QWidget()
        orders_layout = QVBoxLayout(orders_tab)
        orders_layout.addLayout(bar)
        orders_layout.addWidget(self.message)
        orders_layout.addWidget(self.orders, 1)

        self.supplier_table = ServerTable(
            ctx=ctx,
            columns=[
                Column("name", "Supplier"),
                Column("contact_name", "Contact"),
                Column("phone", "Phone"),
                Column("email", "Email"),
                Column("payment_terms_days", "Terms (days)", numeric=True),
            ],
            fetch=lambda api, offset, limit: api.suppliers(offset=offset, limit=limit),
            empty_text="No suppliers yet.",
        )
        # Where statements go; the file chooser by default (tests point it at a folder).
        self.ask_statement_path: Callable[[SupplierRead], Path | None] = self._ask_statement_path
        self.last_statement: Path | None = None
        supplier_write = ctx.can(Permission.SUPPLIERS_WRITE)
        supplier_bar = ActionBar()
        self.new_supplier_button = supplier_bar.add(
            button("New supplier…", name="NewSupplier"), allowed=supplier_write
        )
        self.edit_supplier_button = supplier_bar.add(
            button("Edit…", name="EditSupplier"), allowed=supplier_write
        )
        self.supplier_statement_button = supplier_bar.add(
            button("Statement…", name="SupplierStatement")
        )
        self.account_button = supplier_bar.add(button("Vendor balance", name="VendorBalance"))
        self.pay_button = supplier_bar.add(
            button("Record payment…", role="primary", name="PayVendor"),
            allowed=ctx.can(Permission.VENDOR_PAY),
        )
        supplier_bar.addStretch(1)
        self.new_supplier_button.clicked.connect(self.new_supplier)
        self.edit_supplier_button.clicked.connect(self.edit_supplier)
        self.supplier_statement_button.clicked.connect(self.supplier_statement)
        self.account_button.clicked.connect(self.show_account)
        self.pay_button.clicked.connect(self.pay_vendor)
        self.vendor_message = QLabel("Select a supplier to see what is owed.")
        self.vendor_message.setObjectName("PageStatus")
        suppliers_tab = QWidget()
        suppliers_layout = QVBoxLayout(suppliers_tab)
        suppliers_layout.addLayout(supplier_bar)
        suppliers_layout.addWidget(self.vendor_message)
        suppliers_layout.addWidget(self.supplier_table, 1)

        self.reorder_branch = choice([(b.name, b.id) for b in ctx.branches], name="ReorderBranch")
        self.reorder_method = choice(REORDER_METHODS, name="ReorderMethod")
        self.reorder_method.setToolTip(
            "Low-stock levels: products at or below their low-stock level.\n"
            "Sales forecast: from each product's sales and its supplier's lead time, with why."
        )
        self.reorder_model = RowsModel(
            [
                Column("supplier_name", "Supplier"),
                Column("sku", "SKU"),
                Column("name", "Product"),
                Column("on_hand", "On hand", as_quantity, numeric=True),
                Column("threshold", "Low at", as_quantity, numeric=True),
                Column("daily_sales", "Sold / day", as_quantity, numeric=True),
                Column("on_order", "On order", as_quantity, numeric=True),
                Column("quantity", "Order", as_quantity, numeric=True),
                Column("unit_cost", "Unit cost", as_money, numeric=True),
                Column("reasoning", "Why"),
            ],
            self,
        )
        self.reorder_view = QTableView()
        self.reorder_view.setModel(self.reorder_model)
        self.reorder_view.verticalHeader().setVisible(False)
        self.reorder_view.horizontalHeader().setStretchLastSection(True)
        reorder_bar = ActionBar()
        reorder_bar.addWidget(self.reorder_branch)
        reorder_bar.addWidget(self.reorder_method)
        suggest = reorder_bar.add(button("Suggest", name="SuggestReorder"))
        self.draft_button = reorder_bar.add(
            button("Create draft POs", role="primary", name="DraftReorders"),
            allowed=ctx.can(Permission.PURCHASING_WRITE),
        )
        reorder_bar.addStretch(1)
        suggest.clicked.connect(self.suggest)
        self.draft_button.clicked.connect(self.draft_reorders)
        self.reorder_message = QLabel("Products at or below their low-stock level, by supplier.")
        self.reorder_message.setWordWrap(True)
        self.reorder_message.setObjectName("PageStatus")
        reorder_tab = QWidget()
        reorder_layout = QVBoxLayout(reorder_tab)
        reorder_layout.addLayout(reorder_bar)
        reorder_layout.addWidget(self.reorder_message)
        reorder_layout.addWidget(self.reorder_view, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(orders_tab, "Purchase orders")
        self.tabs.addTab(suppliers_tab, "Suppliers")
        self.tabs.addTab(reorder_tab, "Reorder suggestions")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.tabs, 1)

    def _tab_changed(self, index: int) -> None:
        if index == 1:
            self.supplier_table.reload(keep_page=True)
        elif index == 2:
            self.suggest()

    def suggest(self) -> None:
        """Ask the server what to reorder at the chosen branch, and what is already coming."""
        branch_id = self.reorder_branch.currentData()
        if branch_id is None:
            return
        method = self.reorder_method.currentData()
        with_incoming = method == "threshold" and self.ctx.can(Permission.STOCK_READ)

        def fetch(api: ApiClient) -> tuple[SuggestionsRead, dict[int, Any]]:
            result = api.reorder_suggestions(branch_id=branch_id, method=method)
            if not with_incoming:
                return result, {}
            # Only the forecast method reports on-order stock per line; ask for the rest.
            incoming = api.incoming_stock(branch_id=branch_id)
            return result, {row.product_id: row.on_order for row in incoming}

        # Only the latest question's answer is shown: an older one may arrive after it.
        self._suggestion_asked += 1
        asked = self._suggestion_asked
        self.reorder_message.setText("Working out suggestions…")
        NetOp(fetch, pool=self.ctx.pool, owner=self).success(
            lambda answer: self._suggested(*answer) if asked == self._suggestion_asked else None
        ).failure(
            lambda e: (
                self.reorder_message.setText(describe(e))
                if asked == self._suggestion_asked
                else None
            )
        ).run()

    def _suggested(self, result: SuggestionsRead, incoming: dict[int, Any]) -> None:
        rows = [
            {
                **line.model_dump(),
                "on_order": (
                    line.on_order
                    if line.on_order is not None
                    else incoming.get(line.product_id, "0")
                ),
                "supplier_name": group.supplier_name,
                "supplier_id": group.supplier_id,
            }
            for group in result.suppliers
            for line in group.lines
        ]
        self.reorder_model.set_rows(rows)
        self.reorder_view.resizeColumnsToContents()
        self.reorder_message.setText(
            f"{len(rows)} product(s) to reorder from {len(result.suppliers)} supplier(s)."
            if rows
            else "Nothing needs reordering here."
        )

    def draft_reorders(self) -> None:
        """Create one draft PO per supplier from the suggestions shown."""
        branch_id = self.reorder_branch.currentData()
        suppliers = sorted(
            {row["supplier_id"] for row in self.reorder_model.rows if row["supplier_id"]}
        )
        if branch_id is None or not suppliers:
            self.reorder_message.setText("There are no suggestions to turn into orders.")
            return
        method = self.reorder_method.currentData()

        def drafted(pos: list[PORead]) -> None:
            numbers = ", ".join(p.number for p in pos)
            self.reorder_message.setText(f"Created {len(pos)} draft PO(s): {numbers}.")
            self.orders.reload()

        NetOp(
            lambda api: api.draft_reorders(
                branch_id=branch_id, supplier_ids=suppliers, method=method
            ),
            pool=self.ctx.pool,
            owner=self,
        ).success(drafted).failure(lambda e: self.reorder_message.setText(describe(e))).run()

    def _selected_supplier(self) -> SupplierRead | None:
        supplier = self.supplier_table.current()
        if supplier is None:
            self.vendor_message.setText("Select a supplier first.")
        return supplier

    def new_supplier(self) -> None:
        """Open the form for a new supplier."""
        self._open_supplier(SupplierDialog(ctx=self.ctx, parent=self), created=True)

    def edit_supplier(self) -> None:
        """Open the selected supplier's details for editing."""
        if (supplier := self._selected_supplier()) is None:
            return
        self._open_supplier(
            SupplierDialog(ctx=self.ctx, supplier=supplier, parent=self), created=False
        )

    def _open_supplier(self, dialog: SupplierDialog, *, created: bool) -> None:
        dialog.accepted.connect(lambda: self._supplier_saved(dialog.result_value, created=created))
        self.dialog = dialog
        dialog.open()

    def _supplier_saved(self, supplier: SupplierRead, *, created: bool) -> None:
        self.vendor_message.setText(f"{'Created' if created else 'Saved'} {supplier.name}.")
        self.supplier_table.reload(keep_page=True)
        self.refresh()  # the PO list and the new-PO form name suppliers from this list

    def supplier_statement(self) -> None:
        """Save the selected supplier's statement of account for a date range as a PDF."""
        if (supplier := self._selected_supplier()) is None:
            return
        self.dialog = open_statement(
            ctx=self.ctx,
            party=supplier.name,
            fetch_pdf=lambda api, start, end: api.statement_pdf(
                "suppliers", supplier.id, start=start, end=end
            ),
            ask_path=lambda: self.ask_statement_path(supplier),
            saved=self._statement_saved,
            parent=self,
        )

    def _statement_saved(self, path: Path) -> None:
        self.last_statement = path
        self.vendor_message.setText(f"Statement saved to {path}.")

    def _ask_statement_path(self, supplier: SupplierRead) -> Path | None:
        return ask_pdf_path(
            self, title="Save statement", suggested=statement_file_name(supplier.name)
        )

    def show_account(self) -> None:
        """Show the selected vendor's balance."""
        supplier = self.supplier_table.current()
        if supplier is None:
            self.vendor_message.setText("Select a supplier first.")
            return
        NetOp(
            lambda api: api.supplier_account(supplier.id), pool=self.ctx.pool, owner=self
        ).success(
            lambda a: self.vendor_message.setText(
                f"{a.name}: supplied {as_money(a.total_supplied)}, paid "
                f"{as_money(a.total_paid)}, due {as_money(a.balance_due)}."
            )
        ).failure(lambda e: self.vendor_message.setText(describe(e))).run()

    def pay_vendor(self) -> None:
        """Record a payment to the selected vendor."""
        supplier = self.supplier_table.current()
        if supplier is None:
            self.vendor_message.setText("Select a supplier first.")
            return
        dialog = VendorPaymentDialog(ctx=self.ctx, supplier=supplier, parent=self)
        dialog.accepted.connect(self.show_account)
        self.dialog = dialog
        dialog.open()

    def refresh(self) -> None:
        """Reload suppliers (for names) and the orders."""
        NetOp(lambda api: api.suppliers(limit=200).items, pool=self.ctx.pool, owner=self).success(
            self._suppliers_loaded
        ).failure(lambda e: self.message.setText(describe(e))).run()
        self.orders.reload(keep_page=True)

    def _suppliers_loaded(self, suppliers: list[Any]) -> None:
        self.suppliers = suppliers
        self.orders.model.layoutChanged.emit()
        self.orders.fit_columns()

    def _supplier_name(self, supplier_id: int) -> str:
        return next((s.name for s in self.suppliers if s.id == supplier_id), f"#{supplier_id}")

    def _current(self) -> PORead | None:
        po = self.orders.current()
        if po is None:
            self.message.setText("Select a purchase order first.")
        return po

    def new_po(self) -> None:
        """Open the new-PO form."""
        dialog = PurchaseOrderDialog(ctx=self.ctx, suppliers=self.suppliers, parent=self)
        dialog.accepted.connect(
            lambda: self._done(f"Created {dialog.result_value.number} as a draft.")
        )
        self.dialog = dialog
        dialog.open()

    def _action(self, action: str) -> None:
        if (po := self._current()) is None:
            return
        NetOp(lambda api: api.po_action(po.id, action), pool=self.ctx.pool, owner=self).success(
            lambda r: self._done(f"{r.number} is now {as_label(r.status).lower()}.")
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def show_po(self) -> None:
        """Open the selected PO as a document: lines, totals, history, receipts."""
        if (po := self._current()) is None:
            return
        NetOp(lambda api: fetch_document(api, po.id), pool=self.ctx.pool, owner=self).success(
            self._open_detail
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def _open_detail(self, document: dict[str, Any]) -> None:
        dialog = PoDetailDialog(
            ctx=self.ctx,
            document=document,
            supplier_name=self._supplier_name(document["po"].supplier_id),
            changed=self._done,
            parent=self,
        )
        self.dialog = dialog
        dialog.open()

    def reject_po(self) -> None:
        """Ask for a reason and reject the selected PO."""
        if (po := self._current()) is None:
            return
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Reject {po.number}",
            ok_text="Reject",
            call=lambda api, comment: api.po_action(po.id, "reject", comment=comment),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._done(f"Rejected {po.number}."))
        self.dialog = dialog
        dialog.open()

    def receive_po(self) -> None:
        """Open the receiving form for the selected PO (names fetched first)."""
        if (po := self._current()) is None:
            return

        NetOp(lambda api: self._names(api, po), pool=self.ctx.pool, owner=self).success(
            lambda n: self._open_receive(po, n)
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def _open_receive(self, po: PORead, names: dict[int, str]) -> None:
        dialog = ReceiveDialog(ctx=self.ctx, po=po, names=names, parent=self)
        dialog.accepted.connect(lambda: self._done(f"Received goods for {po.number}."))
        self.dialog = dialog
        dialog.open()

    def _update_steps(self) -> None:
        po = self.orders.current()
        status = po.status if po else None
        self.send_button.setEnabled(status in SENDABLE)
        self.confirm_button.setEnabled(status in CONFIRMABLE)
        self.ship_button.setEnabled(status in SHIPPABLE)

    def send_po(self) -> None:
        """Ask, then e-mail the selected approved PO to its supplier.

        The server is asked first whether it can send e-mail at all, so the question says
        so before anything is sent.
        """
        if (po := self._current()) is None:
            return
        NetOp(lambda api: api.purchase_order_emails(po.id), pool=self.ctx.pool, owner=self).success(
            lambda answer: self._open_send(po, answer.email_configured)
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def _open_send(self, po: PORead, email_configured: bool) -> None:
        supplier = next((s for s in self.suppliers if s.id == po.supplier_id), None)
        dialog = SendDialog(
            ctx=self.ctx,
            po=po,
            supplier=supplier,
            email_configured=email_configured,
            parent=self,
        )
        email = supplier.email if supplier else None
        dialog.accepted.connect(
            lambda: self._done(
                f"{po.number} is sent: the e-mail to {email or 'the supplier'} is queued; "
                "open the order to see when it leaves."
            )
        )
        self.dialog = dialog
        dialog.open()

    def confirm_po(self) -> None:
        """Record the supplier's confirmation of the selected PO (names fetched first)."""
        if (po := self._current()) is None:
            return
        NetOp(lambda api: self._names(api, po), pool=self.ctx.pool, owner=self).success(
            lambda names: self._open_confirm(po, names)
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def _open_confirm(self, po: PORead, names: dict[int, str]) -> None:
        dialog = ConfirmDialog(ctx=self.ctx, po=po, names=names, parent=self)
        dialog.accepted.connect(
            lambda: self._done(
                f"{po.number} confirmed by the supplier for {dialog.result_value.confirmed_date}."
            )
        )
        self.dialog = dialog
        dialog.open()

    def ship_po(self) -> None:
        """Record the shipment of the selected PO."""
        if (po := self._current()) is None:
            return
        dialog = ShipDialog(ctx=self.ctx, po=po, parent=self)
        dialog.accepted.connect(
            lambda: self._done(
                f"{po.number} shipped with {dialog.result_value.carrier}, arriving "
                f"{dialog.result_value.expected_arrival}."
            )
        )
        self.dialog = dialog
        dialog.open()

    @staticmethod
    def _names(api: ApiClient, po: PORead) -> dict[int, str]:
        """Return the names of a PO's products (runs on a network thread)."""
        return {line.product_id: api.product(line.product_id).name for line in po.lines}

    def _done(self, text: str) -> None:
        self.message.setText(text)
        self.orders.reload(keep_page=True)
