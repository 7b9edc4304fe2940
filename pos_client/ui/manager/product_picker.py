"""Find a product by name, SKU or barcode and pick it: the start of every document line."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import as_money
from pos_client.ui.manager.widgets import SearchBox


class ProductPicker(QWidget):
    """A search box over the catalog with its matches; activating one emits `picked`."""

    picked = Signal(object)

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._asked = 0
        self.search = SearchBox("Find a product: name, SKU or scan a barcode")
        self.search.setObjectName("ProductSearch")
        self.search.search.connect(self.look_up)
        self.search.returnPressed.connect(self._pick_first)
        self.results = QListWidget()
        self.results.setObjectName("ProductResults")
        self.results.setMaximumHeight(110)
        self.results.setVisible(False)  # shown only while there are matches to choose from
        self.results.itemActivated.connect(lambda item: self._pick(item))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.results)

    def look_up(self, text: str) -> None:
        """Ask the server for products matching what was typed or scanned."""
        self._asked += 1
        asked = self._asked
        if not text:
            self.results.clear()
            self.results.setVisible(False)
            return
        NetOp(
            lambda api: api.products(q=text, limit=20).items, pool=self.ctx.pool, owner=self
        ).success(lambda found: self._found(found) if asked == self._asked else None).failure(
            lambda e: self._found([], problem=describe(e))
        ).run()

    def _found(self, products: list[Any], *, problem: str = "") -> None:
        self.results.clear()
        for product in products:
            item = QListWidgetItem(
                f"{product.name}  ·  {product.sku}  ·  last cost {as_money(product.cost)}"
            )
            item.setData(Qt.ItemDataRole.UserRole, product)
            self.results.addItem(item)
        if not products:
            self.results.addItem(QListWidgetItem(problem or "No product matches."))
        self.results.setVisible(True)

    def item_for(self, product_id: int) -> QListWidgetItem | None:
        """Return the listed match for a product, if the last answer had it."""
        for row in range(self.results.count()):
            product = self.results.item(row).data(Qt.ItemDataRole.UserRole)
            if product is not None and product.id == product_id:
                return self.results.item(row)
        return None

    def _pick_first(self) -> None:
        # A scanner ends with Enter: the first match is taken at once.
        if self.results.count():
            self._pick(self.results.item(0))

    def _pick(self, item: QListWidgetItem) -> None:
        product = item.data(Qt.ItemDataRole.UserRole)
        if product is None:
            return
        self.search.clear()
        self.results.clear()
        self.results.setVisible(False)
        self.picked.emit(product)
