"""Purchase orders as documents: a line editor with product search, units, tax and costs
that start from the supplier's price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.schemas.tax import TaxClassRead
from common.tax import Component, Supply, class_from_wire, components_for, tax_exclusive
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.product_picker import ProductPicker
from pos_client.ui.manager.table import as_money, as_quantity
from pos_client.ui.manager.widgets import FormDialog, button, choice
from pos_client.ui.widgets.cells import cell_item, cell_text, cell_widget, set_cell_text

QTY, UNIT, COST, TAX, FREE, TOTAL = 1, 2, 3, 4, 5, 6
HEADERS = ["Product", "Quantity", "Unit", "Unit cost", "Tax", "Free", "Total"]
SOURCES = {
    "supplier_price": "the supplier's price",
    "last_cost": "the product's last cost",
    "none": "nothing known: type it",
}


def _number(text: str, *, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}.") from exc
    if not value.is_finite():
        raise ValueError(f"{what} must be a number, got {text!r}.")
    return value


def _fixed(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def unit_choices(product: Any) -> list[tuple[str, tuple[str, Decimal]]]:
    """Return the units a product can be ordered in: its usual purchase unit first."""
    base = (product.unit, (product.unit, Decimal(1)))
    per = Decimal(product.purchase_units_per or 1)
    if product.purchase_unit and product.purchase_unit != product.unit:
        bought = (
            f"{product.purchase_unit} of {as_quantity(per)} {product.unit}",
            (product.purchase_unit, per),
        )
        return [bought, base]
    return [base]


@dataclass
class _Line:
    product: Any
    base_cost: Decimal  # per base unit, from the supplier's price or the last cost
    source: str
    typed: bool = False  # the buyer typed a cost: never overwrite it


class PoLinesEditor(QWidget):
    """Find products by name, SKU or barcode and add them as lines; any number of lines.

    Each line has its unit (the product's purchase unit or its base unit), its tax (the
    product's tax class by default) and a cost that starts from the supplier's price for the
    product, else its last cost; a cost the buyer typed is kept.
    """

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        supplier_id: Callable[[], int | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.supplier_id = supplier_id
        self.entries: list[_Line] = []
        self.tax_classes: list[TaxClassRead] = []
        self._filling = False
        self.picker = ProductPicker(ctx=ctx)
        self.picker.picked.connect(self.add)
        self.search, self.results = self.picker.search, self.picker.results
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("PoLines")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (QTY, UNIT, COST, TAX, FREE, TOTAL):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(self._item_changed)
        self.remove_button = button("Remove line", name="PoRemoveLine")
        self.remove_button.clicked.connect(self.remove_selected)
        self.total = QLabel("No lines yet: find a product above.")
        self.total.setObjectName("PoTotal")
        self.total.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(self.remove_button)
        bottom.addStretch(1)
        bottom.addWidget(self.total, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    @property
    def products(self) -> list[Any]:
        """Return the products on the lines, in line order."""
        return [entry.product for entry in self.entries]

    def look_up(self, text: str) -> None:
        """Ask the server for products matching text."""
        self.picker.look_up(text)

    def set_tax_classes(self, classes: list[TaxClassRead]) -> None:
        """Offer the business's tax classes on every line (keeping each line's choice)."""
        self.tax_classes = classes
        for row, entry in enumerate(self.entries):
            combo = self.tax_box(row)
            kept = combo.currentData()
            self._fill_tax(combo, entry.product)
            if kept is not None and combo.findData(kept) >= 0:
                combo.setCurrentIndex(combo.findData(kept))
        self._update_total()

    def _fill_tax(self, combo: QComboBox, product: Any) -> None:
        combo.blockSignals(True)
        combo.clear()
        # Keys are text ("class:7", "rate:18"): Qt compares them by value in findData.
        combo.addItem("No tax", "rate:0")
        for tax_class in self.tax_classes:
            combo.addItem(tax_class.name, f"class:{tax_class.id}")
        rate = Decimal(product.tax_rate or 0)
        if rate and product.tax_class_id is None:
            combo.addItem(f"{as_quantity(rate)}%", f"rate:{rate}")
        wanted = (
            f"class:{product.tax_class_id}"
            if product.tax_class_id is not None
            else (f"rate:{rate}" if rate else "rate:0")
        )
        index = combo.findData(wanted)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def add(self, product: Any) -> None:
        """Add a product as a line, or one more of it if present; then ask its starting cost."""
        if product is None:
            return
        for row, existing in enumerate(self.entries):
            if existing.product.id == product.id:
                quantity = _number(cell_text(self.table, row, QTY) or "0", what="Quantity")
                set_cell_text(self.table, row, QTY, as_quantity(quantity + 1))
                self.table.selectRow(row)
                return
        row = self.table.rowCount()
        cost = Decimal(product.cost or 0)
        entry = _Line(product=product, base_cost=cost, source="last_cost" if cost else "none")
        self._filling = True
        self.table.insertRow(row)
        self.entries.append(entry)
        name = _fixed(f"{product.name} ({product.sku})")
        name.setToolTip(name.text())
        self.table.setItem(row, 0, name)
        self.table.setItem(row, QTY, QTableWidgetItem("1"))
        unit = choice(unit_choices(product))
        unit.setToolTip("Quantity and cost count in this unit; stock comes in as pieces")
        unit.currentIndexChanged.connect(lambda _, e=entry: self._unit_changed(e))
        self.table.setCellWidget(row, UNIT, unit)
        self.table.setItem(row, COST, QTableWidgetItem(""))
        tax = QComboBox()
        self._fill_tax(tax, product)
        tax.currentIndexChanged.connect(lambda _: self._update_total())
        self.table.setCellWidget(row, TAX, tax)
        free = QCheckBox()
        free.setToolTip("The supplier gives these free: only then may the cost be 0")
        free.toggled.connect(lambda _: self._update_total())
        self.table.setCellWidget(row, FREE, free)
        self.table.setItem(row, TOTAL, _fixed(""))
        # As tall as the choices it holds, so their text is never cut off at the bottom.
        self.table.setRowHeight(row, max(unit.sizeHint().height(), tax.sizeHint().height()) + 4)
        self._filling = False
        self._show_cost(entry)
        self.table.selectRow(row)
        self.refresh_costs([product.id])

    def refresh_costs(self, product_ids: list[int] | None = None) -> None:
        """Ask the supplier's prices (else last costs) for lines whose cost was not typed."""
        supplier_id = self.supplier_id()
        ids = product_ids or [e.product.id for e in self.entries if not e.typed]
        if supplier_id is None or not ids:
            return
        NetOp(
            lambda api: api.starting_costs(supplier_id, ids), pool=self.ctx.pool, owner=self
        ).success(
            lambda costs: self._costs_known(costs) if supplier_id == self.supplier_id() else None
        ).run()

    def _costs_known(self, costs: dict[int, dict[str, Any]]) -> None:
        for entry in self.entries:
            known = costs.get(entry.product.id)
            if known is None or entry.typed:
                continue
            entry.base_cost, entry.source = Decimal(known["unit_cost"]), known["source"]
            self._show_cost(entry)

    def _row_of(self, entry: _Line) -> int:
        return next(i for i, e in enumerate(self.entries) if e is entry)

    def _unit_changed(self, entry: _Line) -> None:
        if not entry.typed:
            self._show_cost(entry)
        self._update_total()

    def _show_cost(self, entry: _Line) -> None:
        """Show a line's starting cost in its unit (a case of 12 costs 12 pieces)."""
        row = self._row_of(entry)
        _, per = self.unit_box(row).currentData()
        cost = entry.base_cost * per
        item = cell_item(self.table, row, COST)
        self._filling = True
        item.setText(f"{cost:.2f}" if cost else "")
        item.setToolTip(f"Starts from {SOURCES.get(entry.source, entry.source)}")
        self._filling = False
        self._update_total()

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        if item.column() == COST and item.row() < len(self.entries):
            entry = self.entries[item.row()]
            entry.typed = True
            item.setToolTip("Typed by you")
        self._update_total()

    def set_line(self, row: int, *, quantity: str, cost: str, free: bool = False) -> None:
        """Type a line's quantity and cost (used by the form and tests alike)."""
        set_cell_text(self.table, row, QTY, quantity)
        set_cell_text(self.table, row, COST, cost)
        self.free_box(row).setChecked(free)

    def free_box(self, row: int) -> QCheckBox:
        """Return a line's "free" tick box."""
        return cell_widget(self.table, row, FREE, QCheckBox)

    def unit_box(self, row: int) -> QComboBox:
        """Return a line's unit choice."""
        return cell_widget(self.table, row, UNIT, QComboBox)

    def tax_box(self, row: int) -> QComboBox:
        """Return a line's tax choice."""
        return cell_widget(self.table, row, TAX, QComboBox)

    def remove_selected(self) -> None:
        """Remove the selected line."""
        row = self.table.currentRow()
        if 0 <= row < len(self.entries):
            self.table.removeRow(row)
            del self.entries[row]
            self._update_total()

    def _tax(self, row: int) -> tuple[str, str]:
        kind, _, value = str(self.tax_box(row).currentData() or "rate:0").partition(":")
        return kind, value

    def _components(self, row: int) -> tuple[Component, ...]:
        kind, value = self._tax(row)
        if kind == "class":
            found = next((c for c in self.tax_classes if str(c.id) == value), None)
            if found is not None:
                wire = found.model_dump(mode="json")
                return class_from_wire(wire).components_on(day=date.today())
            return ()
        return components_for(
            tax_class=None, tax_rate=Decimal(value), day=date.today(), supply=Supply.INTRA
        )

    def _update_total(self) -> None:
        taxable = tax = Decimal(0)
        self._filling = True
        for row in range(len(self.entries)):
            try:
                line = tax_exclusive(
                    _number(cell_text(self.table, row, QTY), what="Quantity")
                    * _number(cell_text(self.table, row, COST) or "0", what="Unit cost"),
                    components=self._components(row),
                )
            except ValueError:
                set_cell_text(self.table, row, TOTAL, "?")
                continue
            taxable += line.taxable
            tax += line.tax
            set_cell_text(self.table, row, TOTAL, as_money(line.total))
        self._filling = False
        count = len(self.entries)
        self.total.setText(
            f"{count} line(s) · taxable value {as_money(taxable)} · tax {as_money(tax)} · "
            f"<b>total {as_money(taxable + tax)}</b>"
            if count
            else "No lines yet."
        )

    def lines(self) -> list[dict[str, Any]]:
        """Return the lines for the server, or raise ValueError saying what to fix."""
        if not self.entries:
            raise ValueError("Add at least one line: find a product by name, SKU or barcode.")
        out = []
        for row, product in enumerate(self.products):
            quantity = _number(
                cell_text(self.table, row, QTY) or "", what=f"{product.name}: quantity"
            )
            if quantity <= 0:
                raise ValueError(f"{product.name}: the quantity must be more than 0.")
            text = cell_text(self.table, row, COST).strip()
            free = self.free_box(row).isChecked()
            cost = _number(text, what=f"{product.name}: unit cost") if text else Decimal(0)
            if cost < 0:
                raise ValueError(f"{product.name}: a cost cannot be negative.")
            if cost == 0 and not free:
                raise ValueError(
                    f"Give a cost for {product.name}, or tick Free if the supplier gives it free."
                )
            unit, per = self.unit_box(row).currentData()
            line: dict[str, Any] = {
                "product_id": product.id,
                "quantity": quantity,
                "unit_cost": cost,
                "free": free,
                "purchase_unit": unit,
                "units_per": per,
            }
            kind, value = self._tax(row)
            if kind == "class":
                line["tax_class_id"] = int(value)
            else:
                line["tax_rate"] = Decimal(value)
            out.append(line)
        return out


class PurchaseOrderDialog(FormDialog):
    """Create a draft purchase order from products found by name, SKU or barcode."""

    def __init__(
        self, *, ctx: ManagerContext, suppliers: list[Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title="New purchase order", ok_text="Create draft", parent=parent)
        self.setMinimumWidth(1080)
        self.setMinimumHeight(620)
        self.supplier = choice([(s.name, s.id) for s in suppliers], name="PoSupplier")
        self.branch = choice([(b.name, b.id) for b in ctx.branches], name="PoBranch")
        self.notes = QLineEdit()
        self.lines = PoLinesEditor(ctx=ctx, supplier_id=self.supplier.currentData)
        self.supplier.currentIndexChanged.connect(lambda _: self.lines.refresh_costs())
        self.form.addRow("Supplier", self.supplier)
        self.form.addRow("Deliver to", self.branch)
        self.form.addRow("Notes", self.notes)
        self.body.insertWidget(2, self.lines, 1)
        # Enter in the search adds a product; it must not press "Create draft".
        self.ok_button.setAutoDefault(False)
        self.ok_button.setDefault(False)
        NetOp(lambda api: api.tax_classes(), pool=ctx.pool, owner=self).success(
            self.lines.set_tax_classes
        ).run()

    def build_call(self) -> Callable[[ApiClient], Any]:
        if self.supplier.currentData() is None:
            raise ValueError("Add a supplier first.")
        lines = self.lines.lines()
        supplier_id, branch_id, notes = (
            self.supplier.currentData(),
            self.branch.currentData(),
            self.notes.text(),
        )
        return lambda api: api.create_purchase_order(
            supplier_id=supplier_id, branch_id=branch_id, lines=lines, notes=notes
        )
