"""The variant matrix: a template's sizes by colours as a grid, priced cell by cell."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import QLineEdit, QPushButton, QTableWidget, QTableWidgetItem, QWidget

from common.schemas.catalog import TemplateCreate
from pos_client.api.client import ApiClient
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.widgets import FormDialog


def parse_values(text: str) -> list[str]:
    """Return the comma-separated values of an attribute, trimmed, empty ones dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


class VariantMatrixDialog(FormDialog):
    """Name a template, its row and column attributes, then price the variants in a grid."""

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(
            ctx=ctx, title="New product with variants", ok_text="Create", parent=parent
        )
        self.setMinimumWidth(620)
        self.sku = QLineEdit(placeholderText="e.g. TEE")
        self.name = QLineEdit(placeholderText="e.g. Cotton tee")
        self.price = QLineEdit(placeholderText="the usual price of a variant")
        self.rows_name = QLineEdit("size")
        self.rows_values = QLineEdit(placeholderText="S, M, L")
        self.columns_name = QLineEdit("colour")
        self.columns_values = QLineEdit(placeholderText="Red, Blue (empty: no second attribute)")
        self.show_grid = QPushButton("Show the grid")
        self.show_grid.setObjectName("ShowVariantGrid")
        self.grid = QTableWidget()
        self.grid.setObjectName("VariantGrid")
        for label, widget in (
            ("SKU", self.sku),
            ("Name", self.name),
            ("Price", self.price),
            ("Rows are", self.rows_name),
            ("Row values", self.rows_values),
            ("Columns are", self.columns_name),
            ("Column values", self.columns_values),
            ("", self.show_grid),
        ):
            self.form.addRow(label, widget)
        self.body.insertWidget(2, self.grid)
        self.show_grid.clicked.connect(self.fill_grid)

    def _axes(self) -> tuple[list[str], list[str]]:
        return parse_values(self.rows_values.text()), parse_values(self.columns_values.text())

    def fill_grid(self) -> None:
        """Lay the variants out: one cell per variant, each at the usual price to start."""
        rows, columns = self._axes()
        columns = columns or [""]
        self.grid.clear()
        self.grid.setRowCount(len(rows))
        self.grid.setColumnCount(len(columns))
        self.grid.setVerticalHeaderLabels(rows)
        self.grid.setHorizontalHeaderLabels([c or "Price" for c in columns])
        for r in range(len(rows)):
            for c in range(len(columns)):
                self.grid.setItem(r, c, QTableWidgetItem(self.price.text().strip()))

    def _label(self, row: str, column: str) -> str:
        return f"{row} / {column}" if column else row

    def build_call(self) -> Callable[[ApiClient], Any]:
        rows, columns = self._axes()
        if not rows:
            raise ValueError("Give the row values, e.g. S, M, L.")
        attributes = {self.rows_name.text().strip() or "size": rows}
        if columns:
            attributes[self.columns_name.text().strip() or "colour"] = columns
        if self.grid.rowCount() != len(rows) or self.grid.columnCount() != max(len(columns), 1):
            self.fill_grid()
        base = self.price.text().strip()
        prices: dict[str, str] = {}
        for r, row in enumerate(rows):
            for c, column in enumerate(columns or [""]):
                cell = self.grid.item(r, c)
                text = cell.text().strip() if cell is not None else base
                try:
                    differs = text and Decimal(text) != Decimal(base or "0")
                except InvalidOperation as exc:
                    raise ValueError(
                        f"The price of {self._label(row, column)} is not a number."
                    ) from exc
                if differs:
                    prices[self._label(row, column)] = text
        try:
            data = TemplateCreate(
                sku=self.sku.text().strip(),
                name=self.name.text().strip(),
                price=base,
                attributes=attributes,
                prices=prices,
            )
        except ValidationError as exc:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from exc
        return lambda api: api.create_template(data)
