#!/usr/bin/env bash
# Render the till's screens offscreen into screenshots/*.png (login, empty, mid-sale, payment,
# returns list and refund, shift menu, X report, denomination count, Z report), over a
# demonstration store in a temporary folder.
#   usage: scripts/screenshots.sh [OUTPUT_DIR]      (default: screenshots/)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-screenshots}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-.venv/bin/python}"
QT_QPA_PLATFORM=offscreen "$PYTHON" - "$OUT" <<'PY'
import atexit
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

from common.barcodes import make_ean13
from common.codes import Tender
from pos_client.launch import build_till
from pos_client.config import TillConfig
from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.store.db import LocalStore

out = Path(sys.argv[1])
app = QApplication([])
data = Path(tempfile.mkdtemp(prefix="till-shots-"))
atexit.register(shutil.rmtree, data, ignore_errors=True)  # leave no temporary folder behind
store = LocalStore(data / "till.db")
with store.transaction() as session:
    seed_demo(session)
config = TillConfig(data_dir=data, shop_name="Sharma General Store", branch_name="Indiranagar",
                    address_lines=("12, 100 Feet Road, Bengaluru",))
till = build_till(app=app, config=config, store=store)
window = till.window
window.resize(1366, 768)
window.show()


def pump(seconds: float = 0.25) -> None:
    end = time.time() + seconds
    while time.time() < end or till.runner.pending:
        app.processEvents()
        time.sleep(0.01)


def shot(name: str, dialog=None) -> None:
    pump()
    picture = window.grab()
    if dialog is not None:
        # Paint the dialog over a dimmed window, as the cashier sees it.
        painter = QPainter(picture)
        painter.fillRect(picture.rect(), QColor(16, 42, 67, 110))
        front: QPixmap = dialog.grab()
        painter.drawPixmap(QPoint((picture.width() - front.width()) // 2,
                                  (picture.height() - front.height()) // 2), front)
        painter.end()
    path = out / f"{name}.png"
    picture.save(str(path))
    print(f"wrote {path}")


pump()
window.login.username.setText("asha")
shot("01-login")
window.login.pin.setText("1234")
window.login.submit()
pump(0.6)
opening = window.dialog
opening.amount.setText("2000")
opening.ok.click()
pump()
shot("02-empty")

for product in DEMO_PRODUCTS[:4]:
    window.pipeline.handle(product.barcode)
window.pipeline.handle(DEMO_PRODUCTS[0].barcode)
window.pipeline.handle(make_ean13("200001001250"))  # 1.250 kg of bananas from the scale
pump()
window.cart.set_line_discount(window.cart.lines[1].line_id, amount=Decimal("5"))
window.refresh_cart()
window.pipeline.handle("4006381333931")  # not in the catalog: a notice and a beep
pump()
window.sale_screen.search.setText("tata")
pump(0.4)
shot("03-mid-sale")
window.sale_screen.search.clear()
pump()

window.sales.pay()
pay = window.dialog
shot("04a-quick-tenders", pay)
pay.tender_buttons[Tender.CARD].click()
pay.amount.setText("500")
pay.reference.setText("HDFC-448812")
pay.add_payment()
pay.tender_buttons[Tender.CASH].click()
pay.amount.setText("600")
pay.add_payment()
shot("04-payment", pay)
pay.finish()
pump(0.6)
shot("05-sale-complete")

number = window.last_sale.receipt_number
window.shifts.start_return()
returns = window.dialog
pump(0.4)
shot("06a-return-list", returns)
returns.take_scan(number)
pump()
returns.set_quantity(0, Decimal(1))
returns.reason.setText("Pack leaking")
if "card" in returns.tender_edits:
    returns.tender_edits["card"].setText("0")  # the customer wants it all back in cash
    returns._update_total(keep_choice=True)
shot("06-return", returns)
returns.reject()
pump()

window.shifts.shift_menu()
shot("07a-shift-menu", window.dialog)
window.dialog.buttons["x_report"].click()
pump(0.6)
shot("07b-x-report", window.dialog)
window.dialog.close()
pump()

window.shifts.start_close_shift()
pump(0.6)
counting = window.dialog
for value, count in ((Decimal(2000), 1), (Decimal(500), 1), (Decimal(50), 1), (Decimal(20), 2)):
    counting.counts[value].setText(str(count))
shot("07c-denomination-count", counting)
counting.ok.click()
pump(0.6)
shot("07-z-report", window.dialog)
window.dialog.close()
pump()

# The scanner and printer settings (Ctrl+D, a manager's), with a GS1 label test-scanned.
from pos_client.config import HidScannerSettings
from pos_client.printing.queue import PrinterConfig
from pos_client.scanners.serial import SerialScannerConfig
from pos_client.ui.till.devices_dialog import DevicesDialog

devices = DevicesDialog(
    config=config.with_changes(
        serial_scanner=SerialScannerConfig(port="/dev/ttyUSB0", suffix="CRLF"),
        printer=PrinterConfig(kind="network", target="192.168.1.50:9100"),
        hid=HidScannerSettings(),
    ),
    parent=window,
)
devices.show()
devices.take_scan("]C101" + "0" + DEMO_PRODUCTS[10].barcode + "3103000750\x1d10LOT-9\x1d17271231")
shot("09-scanner-printer-settings", devices)
devices.close()
pump()

# A manager at the same till: the back office is a key away (Ctrl+B).
window.lock()
window.login.username.setText("ravi")
window.login.pin.setText("1234")
window.login.submit()
pump(0.6)
if window.dialog is not None and window.dialog.isVisible():
    window.dialog.amount.setText("1000")  # the closed shift asks for a new float
    window.dialog.ok.click()
    pump()
shot("08-manager-at-till")
till.close()
PY
