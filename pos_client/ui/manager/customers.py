"""Customers screen: customer records, credit limits, balances, payments, statements."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.credit import CreditEntryRead
from common.schemas.partners import CustomerRead
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customer_dialogs import (
    CustomerDialog,
    HistoryDialog,
    PaymentDialog,
    open_statement,
)
from pos_client.ui.manager.table import Column, as_money
from pos_client.ui.manager.widgets import (
    ActionBar,
    SearchBox,
    ServerTable,
    ask_pdf_path,
    button,
    choice,
    heading,
    statement_file_name,
)


class CustomersPage(QWidget):
    """Customers with their credit limits and balances."""

    title = "Customers"
    table: ServerTable  # made below the filters that reload it

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = ""
        self.dialog: QDialog | None = None
        self.search = SearchBox("Search customers by name, phone or email…")
        self.search.search.connect(self._search)
        self.with_balance = choice(
            [("All customers", None), ("With a balance", True)], name="BalanceFilter"
        )
        self.with_balance.currentIndexChanged.connect(lambda _: self.table.reload())
        self.table = ServerTable(
            ctx=ctx,
            columns=[
                Column("name", "Customer"),
                Column("phone", "Phone"),
                Column("email", "Email"),
                Column("credit_limit", "Credit limit", as_money, numeric=True),
                Column("balance", "Balance due", as_money, numeric=True),
                Column("active", "Status", lambda v: "Active" if v else "Inactive"),
            ],
            fetch=lambda api, offset, limit: api.customers(
                q=self.query,
                with_balance=self.with_balance.currentData(),
                offset=offset,
                limit=limit,
            ),
            empty_text="No customers match.",
        )
        # Where statements go; the file chooser by default (tests point it at a folder).
        self.ask_statement_path: Callable[[CustomerRead], Path | None] = self._ask_path
        self.last_statement: Path | None = None
        write = ctx.can(Permission.CUSTOMERS_WRITE)
        bar = ActionBar()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.with_balance)
        self.new_button = bar.add(button("New customer…", name="NewCustomer"), allowed=write)
        self.edit_button = bar.add(button("Edit…", name="EditCustomer"), allowed=write)
        self.statement_button = bar.add(
            button("Statement…", name="CustomerStatement"),
            allowed=ctx.can(Permission.CREDIT_READ),
        )
        self.payment_button = bar.add(
            button("Record payment…", role="primary", name="RecordPayment"),
            allowed=ctx.can(Permission.CREDIT_WRITE),
        )
        self.history_button = bar.add(
            button("Credit history", name="CreditHistory"), allowed=ctx.can(Permission.CREDIT_READ)
        )
        self.new_button.clicked.connect(self.new_customer)
        self.edit_button.clicked.connect(self.edit_customer)
        self.statement_button.clicked.connect(self.statement)
        self.payment_button.clicked.connect(self.record_payment)
        self.history_button.clicked.connect(self.history)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Reload the list."""
        self.table.reload(keep_page=True)

    def _search(self, text: str) -> None:
        self.query = text
        self.table.reload()

    def _current(self) -> CustomerRead | None:
        customer = self.table.current()
        if customer is None:
            self.message.setText("Select a customer first.")
        return customer

    def record_payment(self) -> None:
        """Open the payment form for the selected customer."""
        if (customer := self._current()) is None:
            return
        dialog = PaymentDialog(ctx=self.ctx, customer=customer, parent=self)
        dialog.accepted.connect(lambda: self._paid(customer, dialog.result_value))
        self.dialog = dialog
        dialog.open()

    def _paid(self, customer: CustomerRead, entry: CreditEntryRead) -> None:
        self.message.setText(f"Recorded {as_money(entry.amount)} from {customer.name}.")
        self.table.reload(keep_page=True)

    def history(self) -> None:
        """Show the selected customer's credit history."""
        if (customer := self._current()) is None:
            return
        self.dialog = HistoryDialog(ctx=self.ctx, customer=customer, parent=self)
        self.dialog.open()

    def new_customer(self) -> None:
        """Open the form for a new customer."""
        dialog = CustomerDialog(ctx=self.ctx, parent=self)
        dialog.accepted.connect(lambda: self._saved(dialog.result_value, created=True))
        self.dialog = dialog
        dialog.open()

    def edit_customer(self) -> None:
        """Open the selected customer's details for editing."""
        if (customer := self._current()) is None:
            return
        dialog = CustomerDialog(ctx=self.ctx, customer=customer, parent=self)
        dialog.accepted.connect(lambda: self._saved(dialog.result_value, created=False))
        self.dialog = dialog
        dialog.open()

    def _saved(self, customer: CustomerRead, *, created: bool) -> None:
        self.message.setText(f"{'Created' if created else 'Saved'} {customer.name}.")
        self.table.reload(keep_page=True)

    def statement(self) -> None:
        """Save the selected customer's statement of account for a date range as a PDF."""
        if (customer := self._current()) is None:
            return
        self.dialog = open_statement(
            ctx=self.ctx,
            party=customer.name,
            fetch_pdf=lambda api, start, end: api.statement_pdf(
                "customers", customer.id, start=start, end=end
            ),
            ask_path=lambda: self.ask_statement_path(customer),
            saved=self._statement_saved,
            parent=self,
        )

    def _statement_saved(self, path: Path) -> None:
        self.last_statement = path
        self.message.setText(f"Statement saved to {path}.")

    def _ask_path(self, customer: CustomerRead) -> Path | None:
        return ask_pdf_path(
            self, title="Save statement", suggested=statement_file_name(customer.name)
        )
