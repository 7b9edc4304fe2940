"""Choose the sale's customer, or create one at the till (offline; it syncs later)."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy.orm import Session

from pos_client.services.changes import OpChanges
from pos_client.services.queries import customer_credit, find_customers
from pos_client.services.till import CreditInfo
from pos_client.ui.models.search_model import CustomerListModel
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import button, error_label, title_label
from pos_client.ui.widgets.messages import explain


class CustomerDialog(QDialog):
    """Search customers by name or phone; pick one or add a new one."""

    chosen = Signal(object)  # CreditInfo | None

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Customer")
        self.setModal(True)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Customer"))
        self.search = QLineEdit()
        self.search.setObjectName("CustomerSearch")
        self.search.setPlaceholderText("Name or phone")
        layout.addWidget(self.search)
        self.model = CustomerListModel(currency=ctx.config.currency)
        self.list = QListView()
        self.list.setObjectName("CustomerList")
        self.list.setModel(self.model)
        self.list.doubleClicked.connect(lambda _: self.pick())
        layout.addWidget(self.list)
        form = QFormLayout()
        self.new_name = QLineEdit()
        self.new_name.setObjectName("NewCustomerName")
        self.new_phone = QLineEdit()
        self.new_phone.setObjectName("NewCustomerPhone")
        form.addRow("New customer", self.new_name)
        form.addRow("Phone", self.new_phone)
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        row = QHBoxLayout()
        walk_in = button("Walk-in (no customer)")
        walk_in.clicked.connect(lambda: self._done(None))
        create = button("Create customer", name="CreateCustomerButton")
        create.clicked.connect(self.create_customer)
        choose = button("Choose (Enter)", role="primary", name="ChooseCustomerButton")
        choose.setDefault(True)
        choose.clicked.connect(self.pick)
        row.addWidget(walk_in)
        row.addWidget(create)
        row.addWidget(choose)
        layout.addLayout(row)
        self._debounce = QTimer(self, singleShot=True, interval=120)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.setMinimumSize(560, 520)
        self.refresh()

    def refresh(self) -> None:
        """Look customers up for what is typed."""
        text = self.search.text()
        self.ctx.query(lambda s: find_customers(s, text)).success(self._show).run()

    def _show(self, customers: list[CreditInfo]) -> None:
        self.model.set_customers(customers)
        if customers:
            self.list.setCurrentIndex(self.model.index(0))

    def pick(self) -> None:
        """Choose the selected customer."""
        index = self.list.currentIndex()
        if not index.isValid():
            self.error.setText("Choose a customer from the list, or create one")
            return
        self._done(self.model.customers[index.row()])

    def create_customer(self) -> None:
        """Create the customer in the local store (with its outbox event) and choose it."""
        name, phone = self.new_name.text().strip(), self.new_phone.text().strip()
        if not name:
            self.error.setText("Enter the new customer's name")
            return

        # Imported here, on the GUI thread: it loads the sync protocol, and imports on the DB
        # thread would race PySide's import hook.
        from pos_client.store import documents

        def work(session: Session) -> CreditInfo | None:
            customer = documents.create_customer_offline(session, name=name, phone=phone)
            return customer_credit(session, customer.local_id)

        self.ctx.command(work, changes=OpChanges(customer=True, outbox=True)).success(
            self._done
        ).failure(lambda e: self.error.setText(explain(e))).run()

    def _done(self, customer: CreditInfo | None) -> None:
        self.chosen.emit(customer)
        self.accept()
