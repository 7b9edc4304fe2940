"""The customer display: a second window (for a second screen) showing the cart, the totals,
what the customer saved and, when they pay by UPI, a QR code of the payment link.

The QR code is drawn here from the `qrcode` library's module matrix: no image library and
no network, so it works on an offline till.
"""

from __future__ import annotations

from decimal import Decimal

import qrcode
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.money import format_money
from pos_client.services.display import DisplayState

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def qr_image(text: str, *, module_px: int = 8) -> QImage:
    """Draw text as a QR code (black on white), module_px pixels per module."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE, box_size=1
    )
    code.add_data(text)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the quiet zone
    size = len(matrix) * module_px
    image = QImage(size, size, QImage.Format.Format_Grayscale8)
    image.fill(QColor("white"))
    painter = QPainter(image)
    black = QColor("black")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(x * module_px, y * module_px, module_px, module_px, black)
    painter.end()
    return image


class CustomerDisplay(QWidget):
    """A window facing the customer; it only draws what the till window tells it."""

    def __init__(self, *, shop_name: str, currency: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("CustomerDisplay")
        self.setWindowTitle("Customer display")
        self.currency = currency
        self.upi_link: str | None = None
        self.setStyleSheet(
            "#CustomerDisplay { background: #0f2a3d; }"
            "QLabel { color: white; }"
            "#DisplayShop { font-size: 26px; font-weight: 600; }"
            "#DisplayTotal { font-size: 46px; font-weight: 700; color: #ffe08a; }"
            "#DisplaySavings { font-size: 22px; color: #9be7a8; }"
            "#DisplayPrompt { font-size: 20px; }"
            "QTableWidget { background: #163a52; color: white; font-size: 20px;"
            " gridline-color: #0f2a3d; border: none; }"
            "QHeaderView::section { background: #0f2a3d; color: #b9d3e6; font-size: 16px;"
            " border: none; }"
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 22, 28, 22)
        self.shop = QLabel(shop_name)
        self.shop.setObjectName("DisplayShop")
        outer.addWidget(self.shop)
        body = QHBoxLayout()
        outer.addLayout(body, 1)

        left = QVBoxLayout()
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("DisplayLines")
        self.table.setHorizontalHeaderLabels(["Item", "Qty", "Amount"])
        self.table.verticalHeader().setVisible(False)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        left.addWidget(self.table, 1)
        self.savings = QLabel()
        self.savings.setObjectName("DisplaySavings")
        left.addWidget(self.savings)
        self.total = QLabel()
        self.total.setObjectName("DisplayTotal")
        left.addWidget(self.total)
        body.addLayout(left, 3)

        self.qr_panel = QFrame()

        self.qr_panel.setObjectName("DisplayQrPanel")
        panel = QVBoxLayout(self.qr_panel)
        self.prompt = QLabel()
        self.prompt.setObjectName("DisplayPrompt")
        self.prompt.setWordWrap(True)
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr = QLabel()
        self.qr.setObjectName("DisplayQr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        panel.addWidget(self.prompt)
        panel.addWidget(self.qr, 1)
        body.addWidget(self.qr_panel, 2)
        self.qr_panel.setVisible(False)
        self.resize(1024, 600)
        self.show_cart(
            DisplayState(
                lines=(), item_count=Decimal(0), savings=Decimal(0), total=Decimal(0), customer=None
            )
        )

    def money(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)

    def show_cart(self, state: DisplayState) -> None:
        """Show the lines, what the customer saved and what they pay."""
        self.table.setRowCount(len(state.lines))
        for row, line in enumerate(state.lines):
            name = line.name if not line.saving else f"{line.name}  (−{self.money(line.saving)})"
            cells = (name, line.quantity, self.money(line.amount))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
        if state.lines:
            self.table.scrollToBottom()
        self.savings.setText(f"You save {self.money(state.savings)}" if state.savings else "")
        self.total.setText(f"Total {self.money(state.total)}" if state.lines else "Welcome!")
        if not state.lines:
            self.clear_upi()

    def show_upi(self, *, link: str, amount: Decimal) -> None:
        """Show the QR code of a UPI payment link for the customer to scan."""
        self.upi_link = link
        image = qr_image(link, module_px=6)
        self.qr.setPixmap(QPixmap.fromImage(image))
        self.prompt.setText(f"Scan to pay {self.money(amount)} by UPI")
        self.qr_panel.setVisible(True)

    def clear_upi(self) -> None:
        """Hide the QR code (paid, or another tender chosen)."""
        self.upi_link = None
        self.qr.clear()
        self.qr_panel.setVisible(False)

    def place_on_second_screen(self) -> None:
        """Open full-screen on a second monitor if there is one, else as a window."""
        screens = QGuiApplication.screens()
        if len(screens) > 1:
            self.setGeometry(screens[1].geometry())
            self.showFullScreen()
        else:
            self.show()
