"""The cart and totals as scans fill them: scanner bursts through the till's own key filter."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from common.barcodes import make_ean13
from common.codes import Unit
from pos_client.launch import Till
from pos_client.services.demo import DEMO_PRODUCTS
from tests.client.test_hid_filter import send_scan
from tests.ui.test_till_window import press

# Every demo product sold by the piece (each a new line), then scale labels of bananas (each
# weighed piece its own line): more lines than the cart shows at the window's smallest size.
PIECES = [p.barcode for p in DEMO_PRODUCTS if p.unit == Unit.PIECE.value]
LABELS = [make_ean13(f"2000010{grams:05d}") for grams in range(1010, 1070, 10)]
CODES = PIECES + LABELS


def scan_burst(qtbot: QtBot, till: Till, code: str, *, at_ms: int) -> None:
    """Scan a code as a keyboard scanner types it, into whatever has the focus."""
    lines = len(till.window.cart.lines)
    receiver = QApplication.focusWidget() or till.window.sale_screen.search
    send_scan(receiver, code, start_ms=at_ms, gap_ms=2)
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == lines + 1, timeout=3000)


def test_a_long_sale_scrolls_the_cart_without_narrowing_it(
    qtbot: QtBot, till: Till, sign_in
) -> None:
    till.window.resize(till.window.minimumSize())
    sign_in()
    screen = till.window.sale_screen
    cart, bar = screen.cart, screen.cart.verticalScrollBar()
    widths, enabled, shown = [], [], []
    for n, code in enumerate(CODES):
        scan_burst(qtbot, till, code, at_ms=100_000 + n * 1_000)
        qtbot.wait(20)  # let the view lay out and paint the new line
        widths.append(cart.viewport().width())
        enabled.append(bar.isEnabled())
        last = cart.visualRect(screen.cart_model.index(n, 0))
        shown.append(cart.viewport().rect().contains(last))

    assert len(till.window.cart.lines) == len(CODES) == 16
    # The cart keeps its width when it first overflows (no relayout of every row mid-sale).
    assert len(set(widths)) == 1, widths
    # The scroll bar is live only once there is something to scroll, and then it is.
    assert enabled[0] is False
    assert enabled[-1] is True
    assert bar.value() == bar.maximum() > 0
    # Every line just scanned is in sight, selected.
    assert all(shown), shown
    assert cart.currentIndex().row() == len(CODES) - 1

    # A voided sale leaves nothing to scroll; the next sale's first scan is shown as before.
    press(qtbot, till, Qt.Key.Key_F7)
    press(qtbot, till, Qt.Key.Key_F7)
    qtbot.waitUntil(lambda: not till.window.cart.lines, timeout=2000)
    assert bar.isEnabled() is False
    scan_burst(qtbot, till, PIECES[0], at_ms=200_000)
    qtbot.wait(20)
    assert cart.isVisible()
    assert cart.viewport().width() == widths[0]
    assert bar.isEnabled() is False


class LayoutRequests(QObject):
    """Count the layout requests delivered anywhere in the application."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest:
            self.seen.append(type(watched).__name__)
        return False


def test_a_scan_relays_out_nothing_and_every_figure_is_shown_whole(
    qtbot: QtBot, till: Till, sign_in
) -> None:
    sign_in()
    # Products in stock (no low-stock notice comes up), each a new line of the sale.
    plenty = [p.barcode for p in DEMO_PRODUCTS if p.unit == "piece" and p.on_hand == "40"]
    scan_burst(qtbot, till, plenty[0], at_ms=300_000)  # the first line shows the table
    qtbot.wait(50)
    requests = LayoutRequests()
    QApplication.instance().installEventFilter(requests)
    try:
        for n, code in enumerate(plenty[1:], start=1):
            scan_burst(qtbot, till, code, at_ms=300_000 + n * 1_000)
            qtbot.wait(20)
    finally:
        QApplication.instance().removeEventFilter(requests)
    assert len(till.window.cart.lines) == len(plenty) == 8
    # New totals do not make the panel, the side column and the window lay themselves out.
    assert requests.seen == []

    # The figures keep the places the panel's layout gave them, and a large sale still fits.
    till.window.cart.set_quantity(till.window.cart.lines[0].line_id, Decimal("99999"))
    till.window.sales.refresh_cart()
    panel = till.window.sale_screen.totals
    assert panel.total.text() == "₹6,600,907.00"  # 99,999 milks and one of seven others
    inside = panel.layout().contentsRect()
    for label in (panel.total, *panel.figures.values()):
        assert label.geometry().right() == inside.right()
        assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()
    assert panel.total.geometry().left() == inside.left()
