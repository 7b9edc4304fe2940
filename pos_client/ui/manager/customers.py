"""Customers screen: credit limits, balances, payments and credit history."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QVBoxLayout, QWidget

from common.roles import Permission
from common.schemas.partners import CustomerRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, RowsModel, as_label, as_money, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    FormDialog,
    SearchBox,
    ServerTable,
    button,
    choice,
    heading,
)


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
        self.form.addRow("Amount", self.amount)
        self.form.addRow("Method", self.method)
        self.form.addRow("Reference", self.reference)

    def build_call(self) -> Callable[[ApiClient], Any]:
        try:
            amount = Decimal(self.amount.text().strip())
        except InvalidOperation as exc:
            raise ValueError("Type the amount paid.") from exc
        if amount <= 0:
            raise ValueError("A payment is a positive amount.")
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

    def _loaded(self, history: Any) -> None:
        items = (
            history.get("items", history.get("entries", []))
            if isinstance(history, dict)
            else history
        )
        self.model.set_rows(items)
        self.status.setText(f"{len(items)} entries" if items else "No credit entries yet.")


class CustomersPage(QWidget):
    """Customers with their credit limits and balances."""

    title = "Customers"

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
        bar = ActionBar()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.with_balance)
        self.payment_button = bar.add(
            button("Record payment…", role="primary", name="RecordPayment"),
            allowed=ctx.can(Permission.CREDIT_WRITE),
        )
        self.history_button = bar.add(
            button("Credit history", name="CreditHistory"), allowed=ctx.can(Permission.CREDIT_READ)
        )
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

    def _paid(self, customer: CustomerRead, entry: dict[str, Any]) -> None:
        self.message.setText(f"Recorded {as_money(entry['amount'])} from {customer.name}.")
        self.table.reload(keep_page=True)

    def history(self) -> None:
        """Show the selected customer's credit history."""
        if (customer := self._current()) is None:
            return
        self.dialog = HistoryDialog(ctx=self.ctx, customer=customer, parent=self)
        self.dialog.open()
