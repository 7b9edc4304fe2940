"""Customer forms: create/edit with credit limit and SMS opt-in, payments, history, statements."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from common.schemas.base import Page
from common.schemas.credit import CreditEntryRead
from common.schemas.partners import CustomerCreate, CustomerRead, CustomerUpdate
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, RowsModel, as_label, as_money, as_when
from pos_client.ui.manager.widgets import (
    FormDialog,
    choice,
)

# Plain digits with up to two decimals: what a shop manager types for a credit limit.
_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
# The numbers the server's SMS gateway accepts (sync_server.notifications.normalize_phone).
_SMS_PHONE = re.compile(r"\+?[0-9]{6,18}")
SMS_KEEP, SMS_ON, SMS_OFF = "keep", "on", "off"


def parse_amount(text: str, *, what: str) -> Decimal:
    """Read a non-negative money amount typed in a form ("25,000.50" allowed)."""
    cleaned = text.strip().replace(",", "").removeprefix("₹").strip()
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError(f"{what} must be an amount like 25000 or 25000.50, not “{text.strip()}”.")
    return Decimal(cleaned)


def schema_errors(exc: ValidationError) -> str:
    """Say which fields a schema refused, in one line."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def qdate(value: date) -> QDate:
    """Turn a date into a QDate."""
    return QDate(value.year, value.month, value.day)


def date_edit(value: date, *, name: str = "") -> QDateEdit:
    """Make a date field with a calendar, showing ISO dates."""
    edit = QDateEdit(qdate(value))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    if name:
        edit.setObjectName(name)
    return edit


def picked(edit: QDateEdit) -> date:
    """Return the date chosen in a date field."""
    chosen = edit.date()
    return date(chosen.year(), chosen.month(), chosen.day())


# Fetches a statement PDF for a period (first and last day), off the UI thread.
FetchStatement = Callable[[ApiClient, date, date], bytes]


class StatementError(Exception):
    """A statement could not be written to its file."""


class StatementDialog(FormDialog):
    """Choose a date range, then save the server's statement of account as a PDF."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        title: str,
        fetch_pdf: FetchStatement,
        ask_path: Callable[[], Path | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx=ctx, title=title, ok_text="Save PDF…", parent=parent)
        self.fetch_pdf = fetch_pdf
        self.ask_path = ask_path
        today = date.today()
        self.start = date_edit(today.replace(day=1), name="StatementFrom")
        self.end = date_edit(today, name="StatementTo")
        self.form.addRow("From", self.start)
        self.form.addRow("To", self.end)

    def build_call(self) -> Callable[[ApiClient], Any]:
        start, end = picked(self.start), picked(self.end)
        if start > end:
            raise ValueError("The statement must start on or before its last day.")
        target = self.ask_path()
        if target is None:
            raise ValueError("No file chosen: the statement was not saved.")
        fetch_pdf = self.fetch_pdf

        def fetch(api: ApiClient) -> Path:
            pdf = fetch_pdf(api, start, end)
            try:
                target.write_bytes(pdf)
            except OSError as exc:
                raise StatementError(f"Could not save {target}: {exc.strerror or exc}") from exc
            return target

        return fetch

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, StatementError):
            self.ok_button.setEnabled(True)
            self.show_error(str(error))
            return
        super()._failed(error)


def open_statement(
    *,
    ctx: ManagerContext,
    party: str,
    fetch_pdf: FetchStatement,
    ask_path: Callable[[], Path | None],
    saved: Callable[[Path], None],
    parent: QWidget,
) -> StatementDialog:
    """Open the statement dialog of a customer or supplier; call saved with the PDF's path."""
    dialog = StatementDialog(
        ctx=ctx,
        title=f"Statement — {party}",
        fetch_pdf=fetch_pdf,
        ask_path=ask_path,
        parent=parent,
    )
    dialog.accepted.connect(lambda: saved(dialog.result_value))
    dialog.open()
    return dialog


class OptInRefused(Exception):
    """The customer was saved but the SMS opt-in was refused."""

    def __init__(self, customer: CustomerRead, reason: BaseException) -> None:
        super().__init__(describe(reason))
        self.customer = customer


class CustomerDialog(FormDialog):
    """Create a customer or change one: contact details, credit limit, SMS opt-in."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        customer: CustomerRead | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            ctx=ctx,
            title=f"Edit {customer.name}" if customer else "New customer",
            ok_text="Save" if customer else "Create customer",
            parent=parent,
        )
        self.customer = customer
        self.name = QLineEdit(customer.name if customer else "")
        self.name.setObjectName("CustomerName")
        self.phone = QLineEdit(customer.phone if customer else "")
        self.phone.setPlaceholderText("+91 98450 11223")
        self.email = QLineEdit((customer.email or "") if customer else "")
        self.address = QLineEdit(customer.address if customer else "")
        self.tax_number = QLineEdit(customer.tax_number if customer else "")
        self.tax_number.setPlaceholderText("GSTIN")
        self.credit_limit = QLineEdit(str(customer.credit_limit) if customer else "0")
        self.credit_limit.setObjectName("CreditLimit")
        self.credit_limit.setToolTip("How much this customer may owe; 0 means cash only.")
        self.form.addRow("Name", self.name)
        self.form.addRow("Phone", self.phone)
        self.form.addRow("E-mail", self.email)
        self.form.addRow("Address", self.address)
        self.form.addRow("Tax number", self.tax_number)
        self.form.addRow("Credit limit", self.credit_limit)
        # The server does not say whether an existing customer opted in, so editing offers
        # "as before" rather than a tick box that could silently undo their choice.
        self.sms = QCheckBox("Agrees to order updates by SMS")
        self.sms.setObjectName("SmsOptIn")
        self.sms_choice = choice(
            [
                ("As before", SMS_KEEP),
                ("Agrees to texts", SMS_ON),
                ("No texts", SMS_OFF),
            ],
            name="SmsChoice",
        )
        self.active = QCheckBox("Active (can buy on account)")
        if customer is None:
            self.form.addRow("SMS", self.sms)
        else:
            self.form.addRow("SMS updates", self.sms_choice)
            self.active.setChecked(customer.active)
            self.form.addRow("", self.active)

    def sms_action(self) -> str:
        """Return what to do about text messages: keep, on or off."""
        if self.customer is None:
            return SMS_ON if self.sms.isChecked() else SMS_KEEP
        action: str = self.sms_choice.currentData()
        return action

    def build_call(self) -> Callable[[ApiClient], Any]:
        fields: dict[str, Any] = {
            "name": self.name.text().strip(),
            "phone": self.phone.text().strip(),
            "email": self.email.text().strip() or None,
            "address": self.address.text().strip(),
            "tax_number": self.tax_number.text().strip(),
            "credit_limit": parse_amount(self.credit_limit.text(), what="Credit limit"),
        }
        if not fields["name"]:
            raise ValueError("Type the customer's name.")
        if fields["email"] is not None and "@" not in fields["email"]:
            raise ValueError("The e-mail address needs an @.")
        sms = self.sms_action()
        if sms == SMS_ON and not _SMS_PHONE.fullmatch(re.sub(r"[\s().-]", "", fields["phone"])):
            raise ValueError("Type a mobile number to send text messages to.")
        try:
            if self.customer is None:
                data = CustomerCreate(**fields)
                return self._create(data, sms=sms)
            fields["active"] = self.active.isChecked()
            changed = {
                key: value for key, value in fields.items() if value != getattr(self.customer, key)
            }
            if not changed and sms == SMS_KEEP:
                raise ValueError("Nothing to save: change a field first.")
            update = CustomerUpdate(**changed)
        except ValidationError as exc:
            raise ValueError(schema_errors(exc)) from exc
        customer = self.customer
        sent = update.model_dump(mode="json", exclude_unset=True)

        def save(api: ApiClient) -> CustomerRead:
            saved = api.update_customer(customer.id, update) if sent else customer
            _apply_sms(api, saved, sms)
            return saved

        return save

    def _create(self, data: CustomerCreate, *, sms: str) -> Callable[[ApiClient], Any]:
        def create(api: ApiClient) -> CustomerRead:
            customer = api.create_customer(data)
            try:
                _apply_sms(api, customer, sms)
            except Exception as exc:
                raise OptInRefused(customer, exc) from exc
            return customer

        return create

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, OptInRefused):
            # The customer exists now: a second OK must change it, not create a twin.
            self.customer = error.customer
            self.setWindowTitle(f"Edit {error.customer.name}")
            self.title.setText(f"Edit {error.customer.name}")
            self.ok_button.setText("Save")
            self.form.setRowVisible(self.sms, False)
            self.form.addRow("SMS updates", self.sms_choice)
            self.sms_choice.setCurrentIndex(self.sms_choice.findData(SMS_ON))
            self.ok_button.setEnabled(True)
            self.show_error(f"Saved {error.customer.name}, but not the SMS opt-in: {error}")
            return
        super()._failed(error)


def _apply_sms(api: ApiClient, customer: CustomerRead, action: str) -> None:
    """Record or withdraw a customer's consent to text messages."""
    if action in (SMS_ON, SMS_OFF):
        api.set_sms_opt_in(customer.id, agreed=action == SMS_ON)


class PaymentDialog(FormDialog):
    """Record a payment a customer made against their account."""

    def __init__(
        self, *, ctx: ManagerContext, customer: CustomerRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            ctx=ctx, title=f"Payment from {customer.name}", ok_text="Record payment", parent=parent
        )
        self.customer = customer
        self.form.addRow("Balance due", QLabel(as_money(customer.balance)))
        self.amount = QLineEdit()
        self.amount.setObjectName("PaymentAmount")
        self.method = choice(
            [("Cash", "cash"), ("Card", "card"), ("Bank transfer", "bank"), ("UPI", "upi")]
        )
        self.reference = QLineEdit()
        # Paying more than is due leaves a credit: the user confirms that on purpose.
        self.as_credit = QCheckBox("Keep the extra as credit on the account")
        self.as_credit.setObjectName("OverpaymentAsCredit")
        self.as_credit.setVisible(False)
        self.amount.textChanged.connect(self._amount_changed)
        self.form.addRow("Amount", self.amount)
        self.form.addRow("Method", self.method)
        self.form.addRow("Reference", self.reference)
        self.form.addRow("", self.as_credit)

    def _extra(self) -> Decimal:
        """Return how much the typed amount exceeds the balance due (0 when it does not)."""
        try:
            amount = Decimal(self.amount.text().strip())
        except InvalidOperation:
            return Decimal(0)
        due: Decimal = self.customer.balance
        return max(amount - max(due, Decimal(0)), Decimal(0))

    def _amount_changed(self, _text: str) -> None:
        extra = self._extra()
        self.as_credit.setVisible(extra > 0)
        if extra > 0:
            self.as_credit.setText(f"Keep the extra {as_money(extra)} as credit on the account")
        else:
            self.as_credit.setChecked(False)

    def build_call(self) -> Callable[[ApiClient], Any]:
        try:
            amount = Decimal(self.amount.text().strip())
        except InvalidOperation as exc:
            raise ValueError("Type the amount paid.") from exc
        if amount <= 0:
            raise ValueError("A payment is a positive amount.")
        extra = self._extra()
        if extra > 0 and not self.as_credit.isChecked():
            raise ValueError(
                f"That is {as_money(extra)} more than the {as_money(self.customer.balance)} "
                "due. Tick “keep the extra as credit” to record it, or change the amount."
            )
        customer_id, method, reference = (
            self.customer.id,
            self.method.currentData(),
            self.reference.text(),
        )
        return lambda api: api.record_payment(
            customer_id, amount=amount, method=method, reference=reference
        )


class HistoryDialog(QDialog):
    """A customer's credit ledger: charges, payments and adjustments."""

    def __init__(
        self, *, ctx: ManagerContext, customer: CustomerRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Credit history — {customer.name}")
        self.resize(760, 440)
        self.model = RowsModel(
            [
                Column("created_at", "When", as_when),
                Column("kind", "Entry", as_label),
                Column("amount", "Amount", as_money, numeric=True),
                Column("open_amount", "Open", as_money, numeric=True),
                Column("method", "Method", as_label),
                Column("actor", "By"),
            ],
            self,
        )
        from PySide6.QtWidgets import QTableView

        view = QTableView()
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("Loading…")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(view, 1)
        NetOp(lambda api: api.credit_history(customer.id), pool=ctx.pool, owner=self).success(
            self._loaded
        ).failure(lambda e: self.status.setText(describe(e))).run()

    def _loaded(self, history: Page[CreditEntryRead]) -> None:
        items = history.items
        self.model.set_rows(items)
        self.status.setText(f"{len(items)} entries" if items else "No credit entries yet.")
