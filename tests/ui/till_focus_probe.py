"""The real till window for the Xvfb focus test, reporting which window has the keyboard.

Run as `python till_focus_probe.py DATA_DIR OUT_FILE` with the repository on PYTHONPATH and
QT_QPA_PLATFORM=xcb. It builds the till over the store in DATA_DIR, signs the demo cashier in
with an open shift and one 5 kg rice in the cart, and appends JSON lines to OUT_FILE:
"ready" once the search box has focus, "focus" with the class of the window holding the
keyboard whenever it changes, "discount" when a line discount is applied, "sale" when a sale
completes, and "final" on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from common.roles import Role
from pos_client.config import TillConfig
from pos_client.launch import build_till
from pos_client.services import shifts
from pos_client.services.demo import DEMO_PRODUCTS
from pos_client.services.login import Cashier


def main() -> int:
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])

    def record(event: str, **fields: Any) -> None:
        with out.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({"event": event, **fields}) + "\n")

    app = QApplication(sys.argv[:1])
    cashier = Cashier(user_id=1, username="asha", full_name="Asha Verma", role=Role.CASHIER)
    till = build_till(app=app, config=TillConfig(data_dir=data_dir))
    with till.store.transaction() as session:
        shifts.open_shift(session, cashier=cashier, opening_float=Decimal(0))
    window = till.window
    search = window.sale_screen.search

    def focus_changed(_old: QWidget | None, new: QWidget | None) -> None:
        if new is not None:
            record("focus", window=type(new.window()).__name__, widget=new.objectName())

    app.focusChanged.connect(focus_changed)
    window.after_sale = lambda: record("sale", receipt=window.last_sale.receipt_number)
    refresh = window.sales.refresh_cart

    def refreshed(**kwargs: Any) -> None:
        refresh(**kwargs)
        if window.cart.lines and window.cart.lines[0].discount:
            record("discount", amount=str(window.cart.lines[0].discount))

    window.sales.refresh_cart = refreshed
    window.show()
    window._signed_in(cashier)
    rice = DEMO_PRODUCTS[2].barcode

    def announce() -> None:
        if till.runner.pending or not search.hasFocus() or window.shift is None:
            QTimer.singleShot(50, announce)
            return
        if not window.cart.lines:
            window.pipeline.handle(rice)
            QTimer.singleShot(50, announce)
            return
        record("ready")

    QTimer.singleShot(0, announce)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    ticker = QTimer(interval=100)
    ticker.timeout.connect(lambda: None)
    ticker.start()
    code = app.exec()
    record("final", lines=len(window.cart.lines))
    till.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
