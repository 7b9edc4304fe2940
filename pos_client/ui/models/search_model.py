"""List model of product search results and customers, over plain dataclasses."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from common.money import format_money
from common.units import format_quantity
from pos_client.services.till import CatalogItem, CreditInfo

Index = QModelIndex | QPersistentModelIndex


class ProductResultsModel(QAbstractListModel):
    """Search results: name, SKU, price and the local stock."""

    def __init__(self, *, currency: str = "INR") -> None:
        super().__init__()
        self.currency = currency
        self.items: list[CatalogItem] = []

    def set_items(self, items: list[CatalogItem]) -> None:
        """Replace the results."""
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            stock = ""
            if item.on_hand is not None:
                if item.on_hand <= 0:
                    stock = (
                        " · ⚠ none in stock"
                        if item.on_hand == 0
                        else (f" · ⚠ stock count {format_quantity(item.on_hand)} (check the shelf)")
                    )
                else:
                    stock = f" · {format_quantity(item.on_hand)} in stock"
                    if item.is_low:
                        stock += " ⚠ low"
            return f"{item.name}\n{item.sku} · {format_money(item.price, self.currency)}{stock}"
        if role == Qt.ItemDataRole.UserRole:
            return item
        return None


class CustomerListModel(QAbstractListModel):
    """Customers with their credit available."""

    def __init__(self, *, currency: str = "INR") -> None:
        super().__init__()
        self.currency = currency
        self.customers: list[CreditInfo] = []

    def set_customers(self, customers: list[CreditInfo]) -> None:
        """Replace the list."""
        self.beginResetModel()
        self.customers = list(customers)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.customers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        customer = self.customers[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            pending = "" if customer.customer_id else " · new, not yet synced"
            return (
                f"{customer.name}  {customer.phone}{pending}\n"
                f"Credit available {format_money(customer.available, self.currency)}"
            )
        if role == Qt.ItemDataRole.UserRole:
            return customer
        return None
