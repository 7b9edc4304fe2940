"""Pick the variant (size, colour) of a template the cashier found by searching."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.money import format_money
from common.units import format_quantity
from pos_client.services.till import CatalogItem
from pos_client.ui.till.dialogs import button, title_label


def variant_text(item: CatalogItem, *, currency: str) -> str:
    """Return one row of the picker: values, price and what is on the shelf."""
    stock = "" if item.on_hand is None else f"   ({format_quantity(item.on_hand)} in stock)"
    return f"{item.variant or item.name}   {format_money(item.price, currency)}{stock}"


class VariantPicker(QDialog):
    """A list of a template's variants; Enter or a double click adds the highlighted one."""

    chosen = Signal(object)  # CatalogItem

    def __init__(
        self,
        *,
        title: str,
        variants: list[CatalogItem],
        currency: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        self.variants = variants
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label(title))
        self.list = QListWidget()
        self.list.setObjectName("VariantList")
        for item in variants:
            row = QListWidgetItem(variant_text(item, currency=currency))
            row.setData(Qt.ItemDataRole.UserRole, item.product_id)
            self.list.addItem(row)
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _: self.pick())
        layout.addWidget(self.list)
        buttons = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        add = button("Add (Enter)", role="primary", name="AddVariantButton")
        add.setDefault(True)
        add.clicked.connect(self.pick)
        buttons.addWidget(cancel)
        buttons.addWidget(add)
        layout.addLayout(buttons)
        self.list.setFocus()

    def pick(self) -> None:
        """Add the highlighted variant and close."""
        row = self.list.currentRow()
        if 0 <= row < len(self.variants):
            self.chosen.emit(self.variants[row])
            self.accept()
