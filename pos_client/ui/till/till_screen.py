"""The selling screen: search, cart, totals, quick keys and the action buttons."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.barcodes import is_product_code
from common.money import format_money
from pos_client.services.till import CatalogItem
from pos_client.ui.models.cart_model import CartTableModel
from pos_client.ui.models.search_model import ProductResultsModel
from pos_client.ui.till.dialogs import button
from pos_client.ui.widgets.notice import NoticeBar
from pos_client.ui.widgets.totals import TotalsPanel

QUICK_KEYS = 6

# (key, label, action name) of the buttons beside the cart; each is also a shortcut.
ACTIONS = (
    ("F4", "Quantity", "quantity"),
    ("F5", "Discount", "discount"),
    ("Shift+F5", "Order %", "order_discount"),
    ("F6", "Price", "price"),
    ("F8", "Void line", "void_line"),
    ("F7", "Void sale", "void_sale"),
    ("F9", "Customer", "customer"),
    ("Ctrl+K", "Coupon", "coupon"),
    ("F3", "Return", "returns"),
    ("F11", "Shift", "shift"),
    ("Ctrl+P", "Reprint", "reprint"),
    ("F12", "Lock", "lock"),
    ("F1", "Help", "help"),
)


def looks_like_scan(text: str) -> bool:
    """Tell whether text typed into the search box is a barcode rather than a search."""
    # An AIM symbology identifier: only scanners send those.
    return text.strip().startswith("]") or is_product_code(text)


class _SearchKeys(QObject):
    """Arrow keys in the search box move through the results; Esc clears it."""

    def __init__(self, screen: TillScreen) -> None:
        super().__init__(screen)
        self.screen = screen

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.screen.results_visible:
                self.screen.move_result(1 if event.key() == Qt.Key.Key_Down else -1)
                return True
            if event.key() == Qt.Key.Key_Escape and self.screen.search.text():
                self.screen.search.clear()
                return True
        return False


class TillScreen(QWidget):
    """Lay out the sale; emit what the cashier asks for, the window decides what happens."""

    _debounce: QTimer  # made below the search box that restarts it

    search_changed = Signal(str)
    product_chosen = Signal(object)  # CatalogItem
    action = Signal(str)
    pay_requested = Signal()
    typed_scan = Signal(str)  # a barcode that reached the search box, ended by Enter

    def __init__(self, *, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TillScreen")
        self.currency = currency
        root = QHBoxLayout(self)
        root.setContentsMargins(16, 14, 16, 12)
        root.setSpacing(14)

        left = QVBoxLayout()
        left.setSpacing(10)
        self.search = QLineEdit()
        self.search.setObjectName("SearchBox")
        self.search.setPlaceholderText("Scan, or search by name / SKU / barcode  (F2)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.search.returnPressed.connect(self._search_enter)
        self.search.installEventFilter(_SearchKeys(self))
        left.addWidget(self.search)
        self.results_model = ProductResultsModel(currency=currency)
        self.results = QListView()
        self.results.setObjectName("SearchResults")
        self.results.setModel(self.results_model)
        self.results.setMaximumHeight(260)
        self.results.setAlternatingRowColors(True)
        self.results.setSpacing(2)
        self.results.clicked.connect(lambda index: self._choose(index.row()))
        self.results.activated.connect(lambda index: self._choose(index.row()))
        self.results.setVisible(False)
        left.addWidget(self.results)
        self.notice = NoticeBar()
        left.addWidget(self.notice)

        self.cart_model = CartTableModel(currency=currency)
        self.cart = QTableView()
        self.cart.setObjectName("CartTable")
        self.cart.setModel(self.cart_model)
        self.cart.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.cart.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.cart.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cart.setAlternatingRowColors(True)
        self.cart.setShowGrid(False)
        self.cart.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cart.verticalHeader().setVisible(False)
        self.cart.verticalHeader().setDefaultSectionSize(48)
        # The scroll bar keeps its place, so the cart does not narrow when a sale first
        # outgrows it (which laid out and repainted every visible row again); it is enabled,
        # and its handle drawn, only while there is something to scroll.
        self.cart.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        bar = self.cart.verticalScrollBar()
        bar.setEnabled(False)
        bar.rangeChanged.connect(lambda low, high: bar.setEnabled(high > low))
        header = self.cart.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col, width in ((1, 110), (2, 120), (3, 120), (4, 140)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.cart.setColumnWidth(col, width)
        left.addWidget(self.cart, 1)
        self.empty_hint = QLabel(
            "<div style='font-size:26px; font-weight:bold; color:#243b53'>Ready to scan</div>"
            "<div style='font-size:16px; color:#627d98; margin-top:10px'>Scan an item, type a "
            "name or SKU above (F2), or tap a quick key</div>",
        )
        self.empty_hint.setObjectName("EmptyCart")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setTextFormat(Qt.TextFormat.RichText)
        left.addWidget(self.empty_hint, 1)
        root.addLayout(left, 3)

        right = QVBoxLayout()
        right.setSpacing(10)
        self.totals = TotalsPanel(currency=currency)
        right.addWidget(self.totals)
        self.quick = QFrame()
        self.quick.setObjectName("QuickKeys")
        self.quick_grid = QGridLayout(self.quick)
        self.quick_grid.setContentsMargins(10, 10, 10, 10)
        self.quick_grid.setSpacing(8)
        right.addWidget(self.quick)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.action_buttons: dict[str, QPushButton] = {}
        for i, (key, label, name) in enumerate(ACTIONS):
            b = button(f"{label}\n{key}", role="action", name=f"Action_{name}")
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _=False, n=name: self.action.emit(n))
            grid.addWidget(b, i // 4, i % 4)
            self.action_buttons[name] = b
        right.addLayout(grid)
        right.addStretch(1)
        self.pay = button("PAY   F10", role="pay", name="PayButton")
        self.pay.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pay.clicked.connect(self.pay_requested)
        right.addWidget(self.pay)
        side = QWidget()
        side.setLayout(right)
        side.setFixedWidth(430)
        root.addWidget(side)

        self._debounce = QTimer(self, singleShot=True, interval=60)
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))

    # -- search --------------------------------------------------------------------------

    @property
    def results_visible(self) -> bool:
        """Say whether search results are showing."""
        return self.results.isVisible() and self.results_model.rowCount() > 0

    def show_results(self, query: str, items: list[CatalogItem]) -> None:
        """Show results if they still belong to what is typed."""
        if query != self.search.text():
            return
        self.results_model.set_items(items)
        # Two text lines per result; the list is only as tall as what it shows.
        row = self.results.sizeHintForRow(0) if items else 0
        self.results.setFixedHeight(min(len(items), 5) * (row + 4) + 6)
        self.results.setVisible(bool(query.strip()) and bool(items))
        if items:
            self.results.setCurrentIndex(self.results_model.index(0))

    def move_result(self, step: int) -> None:
        """Move the highlighted result up or down."""
        row = max(
            0, min(self.results.currentIndex().row() + step, self.results_model.rowCount() - 1)
        )
        self.results.setCurrentIndex(self.results_model.index(row))

    def _search_enter(self) -> None:
        text = self.search.text().strip()
        if not text:
            self.pay_requested.emit()
            return
        # Digits that match nothing are a code cut short: the pipeline says so aloud.
        unmatched_digits = text.isdigit() and len(text) >= 6 and not self.results_visible
        if looks_like_scan(text) or unmatched_digits:
            self.typed_scan.emit(text)
            return
        if self.results_model.rowCount():
            self._choose(max(self.results.currentIndex().row(), 0))

    def _choose(self, row: int) -> None:
        if 0 <= row < len(self.results_model.items):
            item = self.results_model.items[row]
            self.search.clear()
            self.results.setVisible(False)
            self.product_chosen.emit(item)

    # -- quick keys ----------------------------------------------------------------------

    def set_quick_keys(self, items: list[CatalogItem]) -> None:
        """Show one-touch buttons for frequent items."""
        while self.quick_grid.count():
            taken = self.quick_grid.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, item in enumerate(items[:QUICK_KEYS]):
            metrics = QFontMetrics(self.font())
            name = metrics.elidedText(item.name, Qt.TextElideMode.ElideRight, 112)
            b = button(
                f"{name}\n{format_money(item.price, self.currency)}",
                role="quick",
                name=f"Quick_{item.sku}",
            )
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(item.name)
            b.clicked.connect(lambda _=False, it=item: self.product_chosen.emit(it))
            self.quick_grid.addWidget(b, i // 3, i % 3)
        self.quick.setVisible(bool(items))

    # -- cart ----------------------------------------------------------------------------

    def selected_line_id(self) -> str | None:
        """Return the selected cart line (the last one if none is selected)."""
        index = self.cart.currentIndex()
        if index.isValid():
            return self.cart_model.rows[index.row()].line_id
        return self.cart_model.rows[-1].line_id if self.cart_model.rows else None

    def select_line(self, line_id: str | None) -> None:
        """Highlight a cart line."""
        row = self.cart_model.row_of(line_id) if line_id else -1
        if row >= 0:
            self.cart.selectRow(row)
            self.cart.scrollTo(self.cart_model.index(row, 0))
        # An empty sale shows a welcome card instead of an empty table.
        self.empty_hint.setVisible(not self.cart_model.rows)
        self.cart.setVisible(bool(self.cart_model.rows))
        self.pay.setEnabled(bool(self.cart_model.rows))
