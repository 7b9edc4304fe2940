"""Purchasing forms: orders, receiving, vendor payments, suppliers, the supplier's steps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from common.schemas.partners import SupplierCreate, SupplierRead, SupplierUpdate
from common.schemas.purchasing import PORead
from pos_client.api.client import ApiClient
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customer_dialogs import date_edit, picked, schema_errors
from pos_client.ui.manager.table import as_money, as_quantity
from pos_client.ui.manager.widgets import FormDialog, choice
from pos_client.ui.widgets.cells import cell_text


def typed_decimal(text: str, *, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}") from exc
    if not value.is_finite():  # "NaN" parses, and then refuses every comparison
        raise ValueError(f"{what} must be a number, got {text!r}")
    return value


def due_date(po: PORead) -> str:
    """Return when the goods are due: shipment arrival, else confirmed, else wanted date."""
    due = po.expected_arrival or po.confirmed_date or po.expected_date
    return due.isoformat() if due else ""


def shipment_text(po: PORead) -> str:
    """Return the carrier and tracking number of a shipped PO."""
    return " ".join(filter(None, (po.carrier, po.tracking_number)))


class ReceiveDialog(FormDialog):
    """Receive goods against a purchase order; any quantity up to what is still due."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: PORead,
        names: dict[int, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx=ctx, title=f"Receive {po.number}", ok_text="Receive", parent=parent)
        self.setMinimumWidth(640)
        self.po = po
        self.due = [(line, line.quantity - line.received_quantity) for line in po.lines]
        self.table = QTableWidget(len(self.due), 4)
        self.table.setObjectName("ReceiveLines")
        self.table.setHorizontalHeaderLabels(["Product", "Ordered", "Still due", "Receive now"])
        for row, (line, due) in enumerate(self.due):
            # Counted in the line's unit (bags of 25 are received as bags), so say which.
            unit = f" {line.purchase_unit}" if line.purchase_unit else ""
            for column, text in enumerate(
                (
                    names.get(line.product_id, f"#{line.product_id}"),
                    as_quantity(line.quantity) + unit,
                    as_quantity(due) + unit,
                )
            ):
                item = QTableWidgetItem(text)
                self.table.setItem(row, column, item)
            self.table.setItem(row, 3, QTableWidgetItem(as_quantity(due)))
        # Names are what the receiver checks against the delivery: never cut them short.
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        # Widen the dialog to the longest name in the font the stylesheet gives the table.
        self.table.ensurePolished()
        metrics = self.table.fontMetrics()
        longest = max(
            (metrics.horizontalAdvance(cell_text(self.table, r, 0)) for r in range(len(self.due))),
            default=0,
        )
        self.setMinimumWidth(min(1300, max(640, longest + 380)))
        self.table.resizeRowsToContents()
        self.note = QLineEdit()
        self.form.addRow(self.table)
        self.form.addRow("Delivery note", self.note)

    def set_quantity(self, row: int, quantity: str) -> None:
        """Type a quantity to receive on one line."""
        self.table.setItem(row, 3, QTableWidgetItem(quantity))

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, (line, due) in enumerate(self.due):
            text = cell_text(self.table, row, 3)
            quantity = typed_decimal(text or "0", what="Receive now")
            if quantity < 0 or quantity > due:
                raise ValueError(f"Line {row + 1}: receive between 0 and {as_quantity(due)}.")
            if quantity:
                lines.append({"line_id": line.id, "quantity": quantity})
        if not lines:
            raise ValueError("Nothing to receive: type a quantity on at least one line.")
        po_id, note = self.po.id, self.note.text()
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
        amount = typed_decimal(self.amount.text(), what="Amount")
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
                data = SupplierCreate(**fields)
                return lambda api: api.create_supplier(data)
            fields["active"] = self.active.isChecked()
            changed = {k: v for k, v in fields.items() if v != getattr(self.supplier, k)}
            if not changed:
                raise ValueError("Nothing to save: change a field first.")
            update = SupplierUpdate(**changed)
        except ValidationError as exc:
            raise ValueError(schema_errors(exc)) from exc
        supplier_id = self.supplier.id
        return lambda api: api.update_supplier(supplier_id, update)


class SendDialog(FormDialog):
    """Ask before e-mailing an approved purchase order to its supplier."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: PORead,
        supplier: SupplierRead | None,
        email_configured: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Send {po.number} to the supplier", ok_text="Send", parent=parent
        )
        self.po = po
        name = supplier.name if supplier else "the supplier"
        email = supplier.email if supplier else None
        if not email_configured:
            text = (
                f"{po.number} cannot be e-mailed: this server has no mail server "
                "configured, so nothing would leave it. Ask whoever runs the server to set "
                "STOCKPILOT_SMTP_HOST, or send the PDF yourself (open the order, Save PDF…)."
            )
        elif email:
            text = (
                f"E-mail {po.number} ({as_money(po.total)}) to {name} at {email}, with "
                "its PDF attached? They are asked to confirm quantities and the delivery date. "
                "The order's detail view shows when the e-mail has left."
            )
        else:
            text = f"{name} has no e-mail address on file; add one on the Suppliers tab first."
        self.summary = QLabel(text)
        self.summary.setObjectName("SendSummary")
        self.summary.setWordWrap(True)
        self.form.addRow(self.summary)
        # Nothing to send through, or nobody to send to: say so instead of offering Send.
        self.ok_button.setEnabled(bool(email_configured and email))

    def build_call(self) -> Callable[[ApiClient], Any]:
        po_id = self.po.id
        return lambda api: api.send_purchase_order(po_id)


class ConfirmDialog(FormDialog):
    """Record what the supplier confirmed: a quantity per line and the delivery date."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        po: PORead,
        names: dict[int, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx,
            title=f"Supplier confirmed {po.number}",
            ok_text="Record confirmation",
            parent=parent,
        )
        self.setMinimumWidth(620)
        self.po = po
        self.table = QTableWidget(len(po.lines), 3)
        self.table.setObjectName("ConfirmLines")
        self.table.setHorizontalHeaderLabels(["Product", "Ordered", "Confirmed"])
        for row, line in enumerate(po.lines):
            confirmed = (
                line.quantity if line.confirmed_quantity is None else line.confirmed_quantity
            )
            cells = (
                names.get(line.product_id, f"#{line.product_id}"),
                as_quantity(line.quantity),
                as_quantity(confirmed),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column < 2:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        planned = po.confirmed_date or po.expected_date
        self.delivery = date_edit(
            planned or date.today() + timedelta(days=7),
            name="DeliveryDate",
        )
        self.form.addRow(self.table)
        self.form.addRow("Delivery date", self.delivery)

    def set_confirmed(self, row: int, quantity: str) -> None:
        """Type the quantity the supplier confirmed on one line."""
        self.table.setItem(row, 2, QTableWidgetItem(quantity))

    def build_call(self) -> Callable[[ApiClient], Any]:
        lines = []
        for row, line in enumerate(self.po.lines):
            item = self.table.item(row, 2)
            quantity = typed_decimal(item.text() if item else "", what=f"Line {row + 1} confirmed")
            ordered = line.quantity
            if quantity < 0 or quantity > ordered:
                raise ValueError(
                    f"Line {row + 1}: the supplier can confirm 0 to {as_quantity(ordered)}."
                )
            lines.append({"line_id": line.id, "quantity": quantity})
        delivery, po_id = picked(self.delivery), self.po.id
        return lambda api: api.confirm_purchase_order(po_id, delivery_date=delivery, lines=lines)


class ShipDialog(FormDialog):
    """Record the supplier's shipment: carrier, tracking number and expected arrival."""

    def __init__(self, *, ctx: ManagerContext, po: PORead, parent: QWidget | None = None) -> None:
        super().__init__(
            ctx=ctx, title=f"{po.number} shipped", ok_text="Record shipment", parent=parent
        )
        self.po = po
        self.carrier = QLineEdit(po.carrier or "")
        self.carrier.setObjectName("Carrier")
        self.carrier.setPlaceholderText("Blue Dart, own van…")
        self.tracking = QLineEdit(po.tracking_number or "")
        self.tracking.setObjectName("TrackingNumber")
        due = po.expected_arrival or po.confirmed_date
        self.arrival = date_edit(
            due or date.today() + timedelta(days=3),
            name="ExpectedArrival",
        )
        self.form.addRow("Carrier", self.carrier)
        self.form.addRow("Tracking number", self.tracking)
        self.form.addRow("Expected arrival", self.arrival)

    def build_call(self) -> Callable[[ApiClient], Any]:
        carrier, tracking = self.carrier.text().strip(), self.tracking.text().strip()
        if not carrier or not tracking:
            raise ValueError("Type the carrier and the tracking number.")
        arrival, po_id = picked(self.arrival), self.po.id
        return lambda api: api.ship_purchase_order(
            po_id, carrier=carrier, tracking_number=tracking, expected_arrival=arrival
        )
