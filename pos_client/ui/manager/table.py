"""A table model over plain rows (dicts or pydantic models) described by columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from common.money import format_money

Index = QModelIndex | QPersistentModelIndex

TOOLTIP_FROM = 24  # characters: shorter cells always fit their column

# Status colours shared by every screen (text colour, background), matching the till's palette.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "in_stock": ("#0b6e64", "#e3f8f5"),
    "low": ("#8d5a00", "#fff4e0"),
    "out": ("#a61b1b", "#fde8e8"),
    "negative": ("#ffffff", "#a61b1b"),
    "pending_approval": ("#8d5a00", "#fff4e0"),
    "open": ("#a61b1b", "#fde8e8"),
    "approved": ("#0b6e64", "#e3f8f5"),
    "rejected": ("#a61b1b", "#fde8e8"),
    "partially_received": ("#1d4f91", "#e6effa"),
    "received": ("#0b6e64", "#e3f8f5"),
    "cleared": ("#52606d", "#f0f4f8"),
    "pending_payment": ("#8d5a00", "#fff4e0"),
    "confirmed": ("#1d4f91", "#e6effa"),
    "delivered": ("#0b6e64", "#e3f8f5"),
    "cancelled": ("#52606d", "#f0f4f8"),
    "draft": ("#52606d", "#f0f4f8"),
    "low_stock": ("#8d5a00", "#fff4e0"),
    "out_of_stock": ("#a61b1b", "#fde8e8"),
    "negative_stock": ("#ffffff", "#a61b1b"),
    "acknowledged": ("#52606d", "#f0f4f8"),
    # Documents on their way: purchase orders with the supplier, transfers, picked orders.
    "submitted": ("#8d5a00", "#fff4e0"),
    "sent": ("#1d4f91", "#e6effa"),
    "shipped": ("#1d4f91", "#e6effa"),
    "created": ("#52606d", "#f0f4f8"),
    "dispatched": ("#1d4f91", "#e6effa"),
    "picking": ("#1d4f91", "#e6effa"),
    "packed": ("#1d4f91", "#e6effa"),
    "closed": ("#52606d", "#f0f4f8"),
    "expired": ("#52606d", "#f0f4f8"),
    "completed": ("#0b6e64", "#e3f8f5"),
    "voided": ("#a61b1b", "#fde8e8"),
}


def value_of(row: Any, key: str) -> Any:
    """Read a field from a dict row or an object row."""
    if isinstance(row, dict):
        return row.get(key)
    return getattr(row, key, None)


def as_money(value: Any) -> str:
    """Format a money value from the wire (a string) for display."""
    if value is None or value == "":
        return ""
    try:
        return format_money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def as_quantity(value: Any) -> str:
    """Show a quantity without trailing zeros (weighed goods keep their decimals)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value)).normalize()
    except InvalidOperation:
        return str(value)
    return f"{number:f}"


def as_when(value: Any) -> str:
    """Show a timestamp to the minute."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.replace("T", " ")[:16]


def as_label(value: Any) -> str:
    """Show an enum-like value as words."""
    return "" if value is None else str(value).replace("_", " ").capitalize()


@dataclass(frozen=True)
class Column:
    """One column: the row key, its heading, and how to show the value."""

    key: str
    label: str
    show: Callable[[Any], str] = lambda v: "" if v is None else str(v)
    numeric: bool = False
    status: bool = False  # colour the cell by its value
    compute: Callable[[Any], Any] | None = None

    def raw(self, row: Any) -> Any:
        """Return the column's raw value for a row."""
        return self.compute(row) if self.compute is not None else value_of(row, self.key)


# The roles RowsModel.data answers; it says None to every other one without reading the row.
_SHOWN_ROLES = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
    )
)


class RowsModel(QAbstractTableModel):
    """Rows for a QTableView; the screen replaces them wholesale after each server page."""

    def __init__(self, columns: Sequence[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Replace all rows."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, index: int) -> Any:
        """Return the row at a position."""
        return self.rows[index]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        return 0 if parent.isValid() else len(self.columns)

    def headerData(  # noqa: N802 - Qt API
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].label
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        if role not in _SHOWN_ROLES:
            # A view asks each cell for a dozen roles (font, decoration, check state…) on
            # every paint and column fit; read the row only for the ones answered here.
            return None
        raw = column.raw(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return column.show(raw)
        if role == Qt.ItemDataRole.ToolTipRole:
            # Columns are capped in width; the whole text is a hover away.
            text = column.show(raw)
            return text if len(text) > TOOLTIP_FROM else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column.status and role in (
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.BackgroundRole,
        ):
            colours = STATUS_COLOURS.get(str(raw))
            if colours is None:
                return None
            fg, bg = colours
            return QBrush(QColor(fg if role == Qt.ItemDataRole.ForegroundRole else bg))
        return None
