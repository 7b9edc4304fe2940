"""Table model of the cart over plain rows, so it is tested without a database."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from common.codes import Unit
from common.money import format_money
from pos_client.services.till import Cart, CartLine

Index = QModelIndex | QPersistentModelIndex

DISPLAY = Qt.ItemDataRole.DisplayRole
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
USER = Qt.ItemDataRole.UserRole
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
DISCOUNT_COLOUR = QColor("#ba2525")
OVERRIDE_COLOUR = QColor("#8d5a00")


@dataclass(frozen=True)
class CartRow:
    """One line of the cart as the table shows it."""

    line_id: str
    name: str
    sku: str
    quantity: Decimal
    unit: Unit
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    low_stock: bool
    price_overridden: bool
    details: str = ""

    @classmethod
    def of(cls, line: CartLine) -> CartRow:
        """Make the row of a cart line."""
        return cls(
            line_id=line.line_id,
            name=line.item.name,
            sku=line.item.sku,
            quantity=line.quantity,
            unit=line.item.unit,
            unit_price=line.unit_price,
            discount=line.discount,
            total=line.total,
            low_stock=line.item.is_low,
            price_overridden=line.price_overridden,
            details=describe_attributes(line.attributes),
        )


_ATTRIBUTE_LABELS = {
    "lot": "Lot",
    "expiry": "Exp",
    "best_before": "Best before",
    "serial": "S/N",
    "net_weight_kg": "Net",
}


def describe_attributes(attributes: dict[str, str]) -> str:
    """Say what a label told about a line's piece: "Lot L1 · Exp 2026-12-31"."""
    parts = []
    for key, label in _ATTRIBUTE_LABELS.items():
        if key in attributes:
            suffix = " kg" if key == "net_weight_kg" else ""
            parts.append(f"{label} {attributes[key]}{suffix}")
    return " · ".join(parts)


def format_quantity(quantity: Decimal, unit: Unit) -> str:
    """Show pieces as whole numbers and weights with their unit."""
    if unit == Unit.KG:
        return f"{quantity:.3f} kg"
    return f"{quantity.normalize():f}"


class CartTableModel(QAbstractTableModel):
    """Columns: item, quantity, price, discount, amount."""

    HEADERS = ("Item", "Qty", "Price", "Discount", "Amount")

    def __init__(self, *, currency: str = "INR") -> None:
        super().__init__()
        self.currency = currency
        self.rows: list[CartRow] = []
        # Each row's cell texts, with the row they were made from (rows are replaced, never
        # changed, so a row that is not the one cached has new texts to make).
        self._texts: dict[int, tuple[CartRow, tuple[str, ...]]] = {}

    def set_rows(self, rows: list[CartRow]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self.rows = list(rows)
        self._texts.clear()
        self.endResetModel()

    def show_cart(self, cart: Cart) -> None:
        """Show the cart's lines, telling the view only what changed.

        A scan appends a line or bumps one (and repricing may change others): those rows are
        inserted or updated in place, so the view repaints them alone instead of resetting
        (which dropped its selection and layout and repainted every row on every scan).
        Any other change of the lines (a void, a new sale) resets the model.
        """
        rows = [CartRow.of(line) for line in cart.lines]
        old = self.rows
        kept = len(old)
        if kept > len(rows) or any(
            a.line_id != b.line_id for a, b in zip(old, rows[:kept], strict=True)
        ):
            self.set_rows(rows)
            return
        last = len(self.HEADERS) - 1
        for i in range(kept):
            if old[i] != rows[i]:
                old[i] = rows[i]
                self.dataChanged.emit(self.index(i, 0), self.index(i, last))
        if len(rows) > kept:
            self.beginInsertRows(QModelIndex(), kept, len(rows) - 1)
            old.extend(rows[kept:])
            self.endInsertRows()

    def row_of(self, line_id: str) -> int:
        """Return the row index of a line, or -1."""
        return next((i for i, row in enumerate(self.rows) if row.line_id == line_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == ALIGNMENT and section > 0:
                return RIGHT
        return None

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        # The view asks for every role of every visible cell on each repaint: answer from the
        # row's texts, made once per row, and from constants, not from enum arithmetic.
        if not index.isValid():
            return None
        r, column = index.row(), index.column()
        if role == DISPLAY:
            texts = self._texts.get(r)
            if texts is None or texts[0] is not self.rows[r]:
                row = self.rows[r]
                texts = (row, tuple(self._text(row, c) for c in range(len(self.HEADERS))))
                self._texts[r] = texts
            return texts[1][column]
        if role == ALIGNMENT:
            return RIGHT if column > 0 else None
        row = self.rows[r]
        if role == FOREGROUND:
            if column == 3 and row.discount:
                return DISCOUNT_COLOUR
            if column == 2 and row.price_overridden:
                return OVERRIDE_COLOUR
        elif role == TOOLTIP:
            return "Low stock at this branch" if row.low_stock else None
        elif role == USER:
            return row.line_id
        return None

    def _text(self, row: CartRow, column: int) -> str:
        def money(amount: Decimal) -> str:
            return format_money(amount, self.currency, symbol=False)

        if column == 0:
            name = f"{row.name}   ⚠ low stock" if row.low_stock else row.name
            # Rows are 48 px tall: room for the label's lot and expiry under the name.
            return f"{name}\n{row.details}" if row.details else name
        if column == 1:
            return format_quantity(row.quantity, row.unit)
        if column == 2:
            return money(row.unit_price) + ("*" if row.price_overridden else "")
        if column == 3:
            return f"−{money(row.discount)}" if row.discount else ""
        return money(row.total)
