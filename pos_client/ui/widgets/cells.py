"""Table cells read and typed safely: a cell never filled in is empty, not a crash."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

AnyWidget = TypeVar("AnyWidget", bound=QWidget)


def cell_text(table: QTableWidget, row: int, column: int) -> str:
    """Return the text of a table cell; a cell never filled in reads as empty."""
    item = table.item(row, column)
    return item.text() if item is not None else ""


def cell_item(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    """Return a table cell's item, giving a cell never filled in an empty one."""
    item = table.item(row, column)
    if item is None:
        item = QTableWidgetItem()
        table.setItem(row, column, item)
    return item


def set_cell_text(table: QTableWidget, row: int, column: int, text: str) -> None:
    """Type into a table cell, keeping the item (and its flags) when it has one."""
    cell_item(table, row, column).setText(text)


def cell_widget(table: QTableWidget, row: int, column: int, kind: type[AnyWidget]) -> AnyWidget:
    """Return the control a table cell holds; a cell without one of that kind is a bug."""
    widget = table.cellWidget(row, column)
    if not isinstance(widget, kind):
        raise LookupError(f"row {row}, column {column} holds no {kind.__name__}")
    return widget
