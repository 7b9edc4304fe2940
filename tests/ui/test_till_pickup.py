"""Click-and-collect at the till window over a real server on loopback: Ctrl+O, the order
number, Enter shows it, Enter takes the cash and hands it over; the server commits the stock."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pos_client.config import TillConfig
from pos_client.launch import build_till, connect_sync
from pos_client.qt.sync_worker import SyncWorker
from pos_client.services.sync_engine import SyncEngine
from pos_client.store import documents
from pos_client.store.db import LocalStore
from pos_client.ui.till.program_dialogs import PickupDialog
from tests.server.test_orders import level, order_body, post, stock, store
from tests.ui.test_till_keyboard import key, type_text
from tests.ui.test_till_programs import _shot


def test_an_order_is_collected_at_the_till_by_keyboard(
    qtbot: QtBot, qapp: QApplication, world, live_server, tmp_path: Path
) -> None:
    stock(world, quantity="5")
    shop = store(world)
    order_id = post(shop, order_body("W-9", ("ADMIN-0", "3"))).json()["id"]
    assert shop.post(f"orders/{order_id}/pickup").status_code == 200
    assert world.api("manager").post(f"orders/{order_id}/ready-for-pickup").status_code == 200

    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    local = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(local, server_url=live_server.url, timeout=5.0)
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Front till")
    engine.sync_once()
    config = TillConfig(data_dir=tmp_path, server_url=live_server.url, shop_name="Test Shop")
    till = build_till(app=qapp, config=config, store=local)
    connect_sync(till.window, SyncWorker(engine))
    try:
        window = till.window
        window.show()
        window.login.username.setText("cashier")
        window.login.pin.setText("1234")
        window.login.sign_in.click()
        qtbot.waitUntil(lambda: window.is_selling and window.dialog is not None, timeout=10000)
        window.dialog.amount.setText("0")
        window.dialog.ok.click()
        qtbot.waitUntil(lambda: window.shift is not None, timeout=5000)

        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
        qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: isinstance(window.dialog, PickupDialog), timeout=3000)
        dialog = window.dialog
        qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.number, timeout=3000)
        type_text(qtbot, "W-404")
        key(qtbot, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "no order W-404" in dialog.error.text(), timeout=5000)
        dialog.number.clear()
        type_text(qtbot, "W-9")
        key(qtbot, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.found is not None, timeout=5000)
        assert "Asha Rao" in dialog.details.text() and "₹30.00" in dialog.details.text()
        assert "Take ₹30.00 in cash" in dialog.details.text()
        assert dialog.ok.text() == "Hand over (Enter)"
        _shot(dialog, "till-collect-order")
        key(qtbot, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
        assert "W-9 handed over to Asha Rao" in window.sale_screen.notice.text()
        assert world.api("manager").get(f"orders/{order_id}").json()["status"] == "delivered"
        assert level(world) == (Decimal("2"), Decimal("0"))
        with local.transaction() as session:
            totals = documents.shift_totals(session, shift_id=window.shift.shift_id)
        assert totals["cash_in"] == Decimal("30.00")
    finally:
        till.close()
