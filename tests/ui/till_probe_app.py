"""The real till window for the Xvfb test, reporting what lands in its cart.

Run as `python till_probe_app.py DATA_DIR OUT_FILE` with the repository on PYTHONPATH and
QT_QPA_PLATFORM=xcb. It builds the till with app.build_till over the store in DATA_DIR,
signs the demo cashier in, opens a shift, and appends one JSON object per line to OUT_FILE:
"ready" once the search box has focus, "line" for every line added to the cart (with the
search box's text at that moment), "text" on every change of the search box, "input" for
each key press the application receives from X, "told" for every scan message shown to the
cashier (with the text of the focused box), "dialog" whenever the dialog in front changes,
and "final" and "cart" on SIGTERM. Extra barcodes may be given as CODE=PRODUCT_ID arguments.
"""

from __future__ import annotations

import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit

from common.roles import Role
from pos_client.config import TillConfig
from pos_client.launch import build_till
from pos_client.services import shifts
from pos_client.services.login import Cashier
from pos_client.store.models import Barcode


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
        for extra in sys.argv[3:]:
            code, product_id = extra.split("=")
            session.add(Barcode(code=code, product_id=int(product_id)))
    window = till.window
    search = window.sale_screen.search
    tell = window.scans.tell

    def told(text: str, *, kind: str) -> None:
        focus = QApplication.focusWidget()
        focus_text = focus.text() if isinstance(focus, QLineEdit) else None
        record("told", text=text, kind=kind, focus_text=focus_text)
        tell(text, kind=kind)

    window.scans.tell = told
    front: list[str | None] = [None]

    def watch_dialog() -> None:
        dialog = window.scans.front_dialog()
        name = type(dialog).__name__ if dialog is not None else None
        if name != front[0]:
            front[0] = name
            record("dialog", name=name)

    dialogs = QTimer(interval=20)
    dialogs.timeout.connect(watch_dialog)
    dialogs.start()

    class InputLog(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            is_key = event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
            if is_key and event.spontaneous():
                record("input", key=event.key(), timestamp=event.timestamp())
            return False

    inputs = InputLog()
    # Installed after the scanner filter, so it runs first and sees keys before any verdict.
    app.installEventFilter(inputs)
    window.pipeline.added.connect(
        lambda line: record(
            "line", sku=line.item.sku, quantity=str(line.quantity), text=search.text()
        )
    )
    search.textChanged.connect(lambda text: record("text", text=text))
    window.show()
    window._signed_in(cashier)

    def announce() -> None:
        if till.runner.pending or not search.hasFocus():
            QTimer.singleShot(50, announce)
            return
        record("ready")

    QTimer.singleShot(0, announce)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    # Python handles signals only between bytecodes: give it some while Qt waits.
    ticker = QTimer(interval=100)
    ticker.timeout.connect(lambda: None)
    ticker.start()
    code = app.exec()
    record("final", text=search.text(), lines=[line.item.sku for line in window.cart.lines])
    record("cart", lines={line.item.sku: str(line.quantity) for line in window.cart.lines})
    till.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
