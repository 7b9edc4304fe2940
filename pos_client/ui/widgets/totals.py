"""The totals panel beside the cart: big total, figures, customer."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from common.money import format_money
from pos_client.services.till import CreditInfo, Totals


class TotalsPanel(QFrame):
    """Show the cart's totals in letters readable at arm's length."""

    def __init__(self, *, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TotalsPanel")
        self.currency = currency
        self._held = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 12)
        layout.setSpacing(4)
        caption = QLabel("TOTAL (TAX INCLUSIVE)")
        caption.setObjectName("TotalLabel")
        self.total = QLabel()
        self.total.setObjectName("TotalAmount")
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(caption)
        layout.addWidget(self.total)
        grid = QGridLayout()
        grid.setVerticalSpacing(3)
        self.figures: dict[str, QLabel] = {}
        for row, (key, name) in enumerate(
            (
                ("items", "Lines"),
                ("subtotal", "Subtotal"),
                ("discount", "Discounts"),
                ("tax", "Tax included"),
            )
        ):
            label = QLabel(name)
            label.setObjectName("FigureName")
            value = QLabel()
            value.setObjectName("FigureValue")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(label, row, 0)
            grid.addWidget(value, row, 1)
            self.figures[key] = value
        # The figures take what the names leave, so their width is set once the panel is laid
        # out (see _hold_sizes).
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.customer = QLabel()
        self.customer.setObjectName("CustomerBadge")
        self.customer.setWordWrap(True)
        layout.addWidget(self.customer)
        self.show_totals(None)
        self.show_customer(None)

    def money(self, amount: Decimal) -> str:
        """Format an amount in the till's currency."""
        return format_money(amount, self.currency)

    def show_totals(self, totals: Totals | None) -> None:
        """Show the figures of the cart (None: an empty cart)."""
        self._hold_sizes()
        zero = Decimal(0)
        self.total.setText(self.money(totals.total if totals else zero))
        self.figures["items"].setText(str(totals.line_count if totals else 0))
        self.figures["subtotal"].setText(self.money(totals.subtotal if totals else zero))
        discount = totals.discount_total if totals else zero
        self.figures["discount"].setText(f"−{self.money(discount)}" if discount else "—")
        self.figures["tax"].setText(self.money(totals.tax if totals else zero))

    def _hold_sizes(self) -> None:
        """Keep each figure at the size the panel's layout gave it, once it has one.

        A label's new text otherwise makes every layout up to the window's run again (about
        a third of a millisecond on each scan): a widget of fixed size tells no one. The
        panel's width is fixed by the till's side column and each figure is one line, so the
        sizes never need to change; a figure too wide is cut as it was before.
        """
        if self._held or not self.isVisible():
            return
        for label in (self.total, *self.figures.values()):
            label.setFixedSize(label.size())
        self._held = True

    def show_customer(self, customer: CreditInfo | None) -> None:
        """Show the customer attached to the sale and what they may still buy on account."""
        if customer is None:
            self.customer.setText("Walk-in customer · F9 to choose")
            return
        credit = (
            f"\nOn account: {self.money(customer.available)} available"
            if customer.credit_limit
            else ""
        )
        self.customer.setText(f"Customer: {customer.name}{credit}")
