"""Purchasing screen: purchase orders from draft to receipt, suppliers, reorder suggestions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.partners import SupplierCreate, SupplierRead, SupplierUpdate
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customers import StatementDialog, date_edit, picked, schema_errors
from pos_client.ui.manager.table import Column, RowsModel, as_label, as_money, as_quantity, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    CommentDialog,
    FormDialog,
    ServerTable,
    button,
    choice,
    heading,
)

PO_STATUSES = [
    ("All", None),
    ("Draft", "draft"),
    ("Waiting approval", "pending_approval"),
    ("Approved", "approved"),
    ("Sent to supplier", "sent"),
    ("Confirmed by supplier", "confirmed"),
    ("Shipped", "shipped"),
    ("Partially received", "partially_received"),
    ("Received", "received"),
    ("Rejected", "rejected"),
]
# Which statuses each supplier-side step may start from (sync_server.purchasing.service).
SENDABLE = frozenset({"approved"})
CONFIRMABLE = frozenset({"sent", "confirmed"})
SHIPPABLE = frozenset({"sent", "confirmed"})
REORDER_METHODS = [("Low-stock levels", "threshold"), ("Sales forecast", "forecast")]


def _decimal(text: str, *, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}") from exc
    if not value.is_finite():  # "NaN" parses, and then refuses every comparison
        raise ValueError(f"{what} must be a number, got {text!r}")
    return value


def _due_date(po: dict[str, Any]) -> str:
    """Return when the goods are due: shipment arrival, else confirmed, else wanted date."""
    return po.get("expected_arrival") or po.get("confirmed_date") or po.get("expected_date") or ""


def _shipment(po: dict[str, Any]) -> str:
    """Return the carrier and tracking number of a shipped PO."""
    return " ".join(filter(None, (po.get("carrier"), po.get("tracking_number"))))


class LinesTable(QTableWidget):
    """Editable product lines: product (by SKU), quantity and a third number column."""

    def __init__(self, *, third: str, rows: int = 5) -> None:
        super().__init__(rows, 3)
        self.setHorizontalHeaderLabels(["Product SKU", "Quantity", third])
        self.horizontalHeader().setStretchLastSection(True)
        self.setColumnWidth(0, 200)

    def set_line(self, row: int, *values: str) -> None:
        """Fill one line (used by forms and tests alike)."""
        for column, value in enumerate(values):
            self.setItem(row, column, QTableWidgetItem(value))

    def lines(self) -> list[tuple[str, str, str]]:
        """Return the filled lines as text."""
        out = []
        for row in range(self.rowCount()):
            cells = [
                self.item(row, c).text().strip() if self.item(row, c) else "" for c in range(3)
            ]
            if any(cells):
                out.append((cells[0], cells[1], cells[2]))
        return out


def resolve_skus(api: ApiClient, skus: list[str]) -> dict[str, int]:
    """Find product ids for SKUs typed in a form; raise ValueError for unknown ones."""
    found: dict[str, int] = {}
    for sku in skus:
        page = api.products(q=sku, limit=20)
        match = next((p for p in page.items if p.sku.lower() == sku.lower()), None)
        if match is None:
            raise ValueError(f"There is no product with SKU {sku}.")
        found[sku] = match.id
    return found


class PurchaseOrderDialog(FormDialog):
    """Create a draft purchase order."""

    def __init__(
        self, *, ctx: ManagerContext, suppliers: list[Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title="New purchase order", ok_text="Create draft", parent=parent)
        self.setMinimumWidth(620)
        self.supplier = choice([(s.name, s.id) for s in suppliers], name="PoSupplier")
        self.branch = choice([(b.name, b.id) for b in ctx.branches], name="PoBranch")
        self.notes = QLineEdit()
        self.lines = LinesTable(third="Unit cost")
        self.form.addRow("Supplier", self.supplier)
        self.form.addRow("Deliver to", self.branch)
        self.form.addRow("Notes", self.notes)
        self.form.addRow(self.lines)

    def build_call(self) -> Callable[[ApiClient], Any]:
        typed = self.lines.lines()
        if not typed:
            raise ValueError("Add at least one line: SKU, quantity and unit cost.")
        if self.supplier.currentData() is None:
            raise ValueError("Add a supplier first.")
        parsed = [
            (sku, _decimal(qty, what="Quantity"), _decimal(cost or "0", what="Unit cost"))
            for sku, qty, cost in typed
        ]
        supplier_id, branch_id, notes = (
            self.supplier.currentData(),
            self.branch.currentData(),
            self.notes.text(),
        )

        def create(api: ApiClient) -> Any:
            ids = resolve_skus(api, [sku for sku, _, _ in parsed])
            lines = [
                {"product_id": ids[sku], "quantity": q, "unit_cost": c} for sku, q, c in parsed
            ]
            return api.create_purchase_order(
                supplier_id=supplier_id, branch_id=branch_id, lines=lines, notes=notes
            )

        return create

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ValueError):
            self.ok_button.setEnabled(True)
            self.show_error(str(error))
            return
        super()._failed(error)


class ReceiveDialog(FormDialog):
    """Receive goods against a purchase order; any quantity up to what is still due."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: dict[str, Any],
        names: dict[int, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx=ctx, title=f"Receive {po['number']}", ok_text="Receive", parent=parent)
        self.setMinimumWidth(640)
        self.po = po
        self.due = [
            (line, Decimal(line["quantity"]) - Decimal(line["received_quantity"]))
            for line in po["lines"]
        ]
        self.table = QTableWidget(len(self.due), 4)
        self.table.setObjectName("ReceiveLines")
        self.table.setHorizontalHeaderLabels(["Product", "Ordered", "Still due", "Receive now"])
        for row, (line, due) in enumerate(self.due):
            for column, text in enumerate(
                (
                    names.get(line["product_id"], f"#{line['product_id']}"),
                    as_quantity(line["quantity"]),
                    as_quantity(due),
                )
            ):
                item = QTableWidgetItem(text)
                self.table.setItem(row, column, item)
            self.table.setItem(row, 3, QTableWidgetItem(as_quantity(due)))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.note = QLineEdit()
        self.form.addRow(self.table)
        self.form.addRow("Delivery note", self.note)

    def set_quantity(self, row: int, quantity: str) -> None:
        """Type a quantity to receive on one line."""
        self.table.setItem(row, 3, QTableWidgetItem(quantity))

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, (line, due) in enumerate(self.due):
            text = self.table.item(row, 3).text() if self.table.item(row, 3) else ""
            quantity = _decimal(text or "0", what="Receive now")
            if quantity < 0 or quantity > due:
                raise ValueError(f"Line {row + 1}: receive between 0 and {as_quantity(due)}.")
            if quantity:
                lines.append({"line_id": line["id"], "quantity": quantity})
        if not lines:
            raise ValueError("Nothing to receive: type a quantity on at least one line.")
        po_id, note = self.po["id"], self.note.text()
        return lambda api: api.receive_purchase_order(po_id, lines=lines, note=note)


class VendorPaymentDialog(FormDialog):
    """Record money paid to a vendor."""

    def __init__(
        self, *, ctx: ManagerContext, supplier: Any, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Pay {supplier.name}", ok_text="Record payment", parent=parent
        )
        self.supplier = supplier
        self.amount = QLineEdit()
        self.method = choice([("Bank transfer", "bank"), ("Cash", "cash"), ("Cheque", "cheque")])
        self.reference = QLineEdit()
        self.form.addRow("Amount", self.amount)
        self.form.addRow("Method", self.method)
        self.form.addRow("Reference", self.reference)

    def build_call(self) -> Callable[[ApiClient], Any]:
        amount = _decimal(self.amount.text(), what="Amount")
        if amount <= 0:
            raise ValueError("A payment is a positive amount.")
        supplier_id, method, reference = (
            self.supplier.id,
            self.method.currentData(),
            self.reference.text(),
        )
        return lambda api: api.pay_supplier(
            supplier_id, amount=amount, method=method, reference=reference
        )


class SupplierDialog(FormDialog):
    """Create a supplier or change one: contact, address, tax number, payment terms."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        supplier: SupplierRead | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx,
            title=f"Edit {supplier.name}" if supplier else "New supplier",
            ok_text="Save" if supplier else "Create supplier",
            parent=parent,
        )
        self.supplier = supplier
        self.name = QLineEdit(supplier.name if supplier else "")
        self.name.setObjectName("SupplierName")
        self.contact_name = QLineEdit(supplier.contact_name if supplier else "")
        self.email = QLineEdit((supplier.email or "") if supplier else "")
        self.email.setPlaceholderText("Purchase orders are e-mailed here")
        self.phone = QLineEdit(supplier.phone if supplier else "")
        self.address = QLineEdit(supplier.address if supplier else "")
        self.tax_number = QLineEdit(supplier.tax_number if supplier else "")
        self.tax_number.setPlaceholderText("GSTIN")
        self.payment_terms_days = QSpinBox()
        self.payment_terms_days.setRange(0, 365)
        self.payment_terms_days.setSuffix(" days")
        self.payment_terms_days.setValue(supplier.payment_terms_days if supplier else 30)
        self.active = QCheckBox("Active (can be ordered from)")
        self.form.addRow("Name", self.name)
        self.form.addRow("Contact", self.contact_name)
        self.form.addRow("E-mail", self.email)
        self.form.addRow("Phone", self.phone)
        self.form.addRow("Address", self.address)
        self.form.addRow("Tax number", self.tax_number)
        self.form.addRow("Payment terms", self.payment_terms_days)
        if supplier is not None:
            self.active.setChecked(supplier.active)
            self.form.addRow("", self.active)

    def build_call(self) -> Callable[[ApiClient], Any]:
        fields: dict[str, Any] = {
            "name": self.name.text().strip(),
            "contact_name": self.contact_name.text().strip(),
            "email": self.email.text().strip() or None,
            "phone": self.phone.text().strip(),
            "address": self.address.text().strip(),
            "tax_number": self.tax_number.text().strip(),
            "payment_terms_days": self.payment_terms_days.value(),
        }
        if not fields["name"]:
            raise ValueError("Type the supplier's name.")
        if fields["email"] is not None and "@" not in fields["email"]:
            raise ValueError("The e-mail address needs an @.")
        try:
            if self.supplier is None:
                body = SupplierCreate(**fields).model_dump(mode="json")
                return lambda api: SupplierRead.model_validate(api.post("/suppliers", body))
            fields["active"] = self.active.isChecked()
            changed = {k: v for k, v in fields.items() if v != getattr(self.supplier, k)}
            if not changed:
                raise ValueError("Nothing to save: change a field first.")
            update = SupplierUpdate(**changed).model_dump(mode="json", exclude_unset=True)
        except ValidationError as exc:
            raise ValueError(schema_errors(exc)) from exc
        path = f"/suppliers/{self.supplier.id}"
        return lambda api: SupplierRead.model_validate(api.patch(path, update))


class SendDialog(FormDialog):
    """Ask before e-mailing an approved purchase order to its supplier."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: dict[str, Any],
        supplier: SupplierRead | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Send {po['number']} to the supplier", ok_text="Send", parent=parent
        )
        self.po = po
        name = supplier.name if supplier else "the supplier"
        email = supplier.email if supplier else None
        text = (
            f"E-mail {po['number']} ({as_money(po['total'])}) to {name} at {email}, with a "
            "link to its PDF? They are asked to confirm quantities and the delivery date."
            if email
            else f"{name} has no e-mail address on file; add one on the Suppliers tab first."
        )
        self.summary = QLabel(text)
        self.summary.setObjectName("SendSummary")
        self.summary.setWordWrap(True)
        self.form.addRow(self.summary)

    def build_call(self) -> Callable[[ApiClient], Any]:
        po_id = self.po["id"]
        return lambda api: api.post(f"/purchase-orders/{po_id}/send", {})


class ConfirmDialog(FormDialog):
    """Record what the supplier confirmed: a quantity per line and the delivery date."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: dict[str, Any],
        names: dict[int, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx,
            title=f"Supplier confirmed {po['number']}",
            ok_text="Record confirmation",
            parent=parent,
        )
        self.setMinimumWidth(620)
        self.po = po
        self.table = QTableWidget(len(po["lines"]), 3)
        self.table.setObjectName("ConfirmLines")
        self.table.setHorizontalHeaderLabels(["Product", "Ordered", "Confirmed"])
        for row, line in enumerate(po["lines"]):
            confirmed = line.get("confirmed_quantity") or line["quantity"]
            cells = (
                names.get(line["product_id"], f"#{line['product_id']}"),
                as_quantity(line["quantity"]),
                as_quantity(confirmed),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column < 2:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        planned = po.get("confirmed_date") or po.get("expected_date")
        self.delivery = date_edit(
            date.fromisoformat(planned) if planned else date.today() + timedelta(days=7),
            name="DeliveryDate",
        )
        self.form.addRow(self.table)
        self.form.addRow("Delivery date", self.delivery)

    def set_confirmed(self, row: int, quantity: str) -> None:
        """Type the quantity the supplier confirmed on one line."""
        self.table.setItem(row, 2, QTableWidgetItem(quantity))

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, line in enumerate(self.po["lines"]):
            item = self.table.item(row, 2)
            quantity = _decimal(item.text() if item else "", what=f"Line {row + 1} confirmed")
            ordered = Decimal(line["quantity"])
            if quantity < 0 or quantity > ordered:
                raise ValueError(
                    f"Line {row + 1}: the supplier can confirm 0 to {as_quantity(ordered)}."
                )
            lines.append({"line_id": line["id"], "quantity": quantity})
        body = {"delivery_date": picked(self.delivery).isoformat(), "lines": lines}
        po_id = self.po["id"]
        return lambda api: api.post(f"/purchase-orders/{po_id}/confirm", body)


class ShipDialog(FormDialog):
    """Record the supplier's shipment: carrier, tracking number and expected arrival."""

    def __init__(
        self, *, ctx: ManagerContext, po: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"{po['number']} shipped", ok_text="Record shipment", parent=parent
        )
        self.po = po
        self.carrier = QLineEdit(po.get("carrier") or "")
        self.carrier.setObjectName("Carrier")
        self.carrier.setPlaceholderText("Blue Dart, own van…")
        self.tracking = QLineEdit(po.get("tracking_number") or "")
        self.tracking.setObjectName("TrackingNumber")
        due = po.get("expected_arrival") or po.get("confirmed_date")
        self.arrival = date_edit(
            date.fromisoformat(due) if due else date.today() + timedelta(days=3),
            name="ExpectedArrival",
        )
        self.form.addRow("Carrier", self.carrier)
        self.form.addRow("Tracking number", self.tracking)
        self.form.addRow("Expected arrival", self.arrival)

    def build_call(self) -> Callable[[ApiClient], Any]:
        carrier, tracking = self.carrier.text().strip(), self.tracking.text().strip()
        if not carrier or not tracking:
            raise ValueError("Type the carrier and the tracking number.")
        body = {
            "carrier": carrier,
            "tracking_number": tracking,
            "expected_arrival": picked(self.arrival).isoformat(),
        }
        po_id = self.po["id"]
        return lambda api: api.post(f"/purchase-orders/{po_id}/ship", body)


class PurchasingPage(QWidget):
    """Purchase orders and suppliers."""

    title = "Purchasing"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dialog: QDialog | None = None
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
                Column("due", "Due", compute=_due_date),
                Column("tracking_number", "Shipment", compute=_shipment),
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

        def fetch(api: ApiClient) -> dict[str, Any]:
            result = api.get("/reorder-suggestions", branch_id=branch_id, method=method)
            if with_incoming:
                # Only the forecast method reports on-order stock per line; ask for the rest.
                incoming = api.get("/stock/incoming", branch_id=branch_id)
                result["incoming"] = {row["product_id"]: row["on_order"] for row in incoming}
            return result

        self.reorder_message.setText("Working out suggestions…")
        NetOp(fetch, pool=self.ctx.pool, owner=self).success(self._suggested).failure(
            lambda e: self.reorder_message.setText(describe(e))
        ).run()

    def _suggested(self, result: dict[str, Any]) -> None:
        incoming = result.get("incoming", {})
        rows = [
            {
                **line,
                "on_order": line.get("on_order") or incoming.get(line["product_id"], "0"),
                "supplier_name": group["supplier_name"],
                "supplier_id": group["supplier_id"],
            }
            for group in result["suppliers"]
            for line in group["lines"]
        ]
        self.reorder_model.set_rows(rows)
        self.reorder_view.resizeColumnsToContents()
        self.reorder_message.setText(
            f"{len(rows)} product(s) to reorder from {len(result['suppliers'])} supplier(s)."
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
        body = {
            "branch_id": branch_id,
            "supplier_ids": suppliers,
            "method": self.reorder_method.currentData(),
        }
        NetOp(
            lambda api: api.post("/reorder-suggestions/purchase-orders", body),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda pos: (
                self.reorder_message.setText(
                    f"Created {len(pos)} draft PO(s): {', '.join(p['number'] for p in pos)}."
                ),
                self.orders.reload(),
            )
        ).failure(lambda e: self.reorder_message.setText(describe(e))).run()

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
        dialog = StatementDialog(
            ctx=self.ctx,
            title=f"Statement — {supplier.name}",
            path=f"/suppliers/{supplier.id}/statement",
            ask_path=lambda: self.ask_statement_path(supplier),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._statement_saved(dialog.result_value))
        self.dialog = dialog
        dialog.open()

    def _statement_saved(self, path: Path) -> None:
        self.last_statement = path
        self.vendor_message.setText(f"Statement saved to {path}.")

    def _ask_statement_path(self, supplier: SupplierRead) -> Path | None:
        suggested = f"statement-{supplier.name.replace(' ', '-')}.pdf"
        name, _ = QFileDialog.getSaveFileName(self, "Save statement", suggested, "PDF (*.pdf)")
        return Path(name) if name else None

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
                f"{a['name']}: supplied {as_money(a['total_supplied'])}, paid "
                f"{as_money(a['total_paid'])}, due {as_money(a['balance_due'])}."
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

    def _current(self) -> dict[str, Any] | None:
        po = self.orders.current()
        if po is None:
            self.message.setText("Select a purchase order first.")
        return po

    def new_po(self) -> None:
        """Open the new-PO form."""
        dialog = PurchaseOrderDialog(ctx=self.ctx, suppliers=self.suppliers, parent=self)
        dialog.accepted.connect(
            lambda: self._done(f"Created {dialog.result_value['number']} as a draft.")
        )
        self.dialog = dialog
        dialog.open()

    def _action(self, action: str) -> None:
        if (po := self._current()) is None:
            return
        NetOp(lambda api: api.po_action(po["id"], action), pool=self.ctx.pool, owner=self).success(
            lambda r: self._done(f"{r['number']} is now {as_label(r['status']).lower()}.")
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def reject_po(self) -> None:
        """Ask for a reason and reject the selected PO."""
        if (po := self._current()) is None:
            return
        dialog = CommentDialog(
            ctx=self.ctx,
            title=f"Reject {po['number']}",
            ok_text="Reject",
            call=lambda api, comment: api.po_action(po["id"], "reject", comment=comment),
            parent=self,
        )
        dialog.accepted.connect(lambda: self._done(f"Rejected {po['number']}."))
        self.dialog = dialog
        dialog.open()

    def receive_po(self) -> None:
        """Open the receiving form for the selected PO (names fetched first)."""
        if (po := self._current()) is None:
            return

        NetOp(lambda api: self._names(api, po), pool=self.ctx.pool, owner=self).success(
            lambda n: self._open_receive(po, n)
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def _open_receive(self, po: dict[str, Any], names: dict[int, str]) -> None:
        dialog = ReceiveDialog(ctx=self.ctx, po=po, names=names, parent=self)
        dialog.accepted.connect(lambda: self._done(f"Received goods for {po['number']}."))
        self.dialog = dialog
        dialog.open()

    def _update_steps(self) -> None:
        po = self.orders.current()
        status = po["status"] if po else None
        self.send_button.setEnabled(status in SENDABLE)
        self.confirm_button.setEnabled(status in CONFIRMABLE)
        self.ship_button.setEnabled(status in SHIPPABLE)

    def send_po(self) -> None:
        """Ask, then e-mail the selected approved PO to its supplier."""
        if (po := self._current()) is None:
            return
        supplier = next((s for s in self.suppliers if s.id == po["supplier_id"]), None)
        dialog = SendDialog(ctx=self.ctx, po=po, supplier=supplier, parent=self)
        email = supplier.email if supplier else None
        dialog.accepted.connect(
            lambda: self._done(
                f"{po['number']} is sent: the e-mail to {email or 'the supplier'} is queued "
                "for delivery."
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

    def _open_confirm(self, po: dict[str, Any], names: dict[int, str]) -> None:
        dialog = ConfirmDialog(ctx=self.ctx, po=po, names=names, parent=self)
        dialog.accepted.connect(
            lambda: self._done(
                f"{po['number']} confirmed by the supplier for "
                f"{dialog.result_value['confirmed_date']}."
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
                f"{po['number']} shipped with {dialog.result_value['carrier']}, arriving "
                f"{dialog.result_value['expected_arrival']}."
            )
        )
        self.dialog = dialog
        dialog.open()

    @staticmethod
    def _names(api: ApiClient, po: dict[str, Any]) -> dict[int, str]:
        """Return the names of a PO's products (runs on a network thread)."""
        return {line["product_id"]: api.product(line["product_id"]).name for line in po["lines"]}

    def _done(self, text: str) -> None:
        self.message.setText(text)
        self.orders.reload(keep_page=True)
