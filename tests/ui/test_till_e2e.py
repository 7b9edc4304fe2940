"""End to end over a real server on loopback: enrol through the first-run wizard, pull the
catalog and staff, sell through the till window, push, and find the sale on the server."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from common.barcodes import make_ean13
from pos_client.config import TillConfig, load_config
from pos_client.launch import build_till, connect_sync
from pos_client.qt.sync_worker import SyncWorker
from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from pos_client.store.models import OutboxEvent, Sale
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.wizard import FirstRunWizard
from sync_server.db import transaction
from sync_server.sales.models import Sale as ServerSale
from sync_server.sync.models import ReceivedEvent


def test_wizard_enrols_then_a_sale_reaches_the_server(
    qtbot: QtBot, qapp: QApplication, world, live_server, tmp_path: Path
) -> None:
    branch_id = world.a.branch_ids[0]
    code = world.api("admin").post("devices/enrolment-codes", json={"branch_id": branch_id})
    assert code.status_code == 201, code.text

    store = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store, server_url=live_server.url, timeout=5.0)
    config = TillConfig(data_dir=tmp_path, server_url=live_server.url)
    wizard = FirstRunWizard(
        config=config,
        enrol=lambda url, code, name: engine.enrol(server_url=url, code=code, name=name),
    )
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.server.code.setText("WRONG-CODE")
    wizard.next()
    assert wizard.currentPage() is wizard.server  # refused: stays on the page, says why
    assert wizard.server.error.text() not in ("", "Enrolling…")
    wizard.server.code.setText(code.json()["code"])
    wizard.server.name.setText("Front till")
    wizard.next()
    assert wizard.currentPage() is wizard.printer
    wizard.next()
    assert wizard.currentPage() is wizard.scanner
    result = wizard.result_config()
    assert result.enrolled and result.server_url == live_server.url
    assert load_config(tmp_path).enrolled is False  # saved only by run_first_run_wizard
    wizard.close()

    engine.sync_once()  # the first pull: catalog, staff with PIN hashes, settings
    till = build_till(app=qapp, config=result, store=store)
    worker = SyncWorker(engine)
    connect_sync(till.window, worker)
    try:
        window = till.window
        window.show()
        window.login.username.setText("cashier")
        window.login.pin.setText("1234")
        window.login.sign_in.click()
        qtbot.waitUntil(lambda: window.is_selling and window.dialog is not None, timeout=10000)
        window.dialog.amount.setText("100")
        window.dialog.ok.click()
        qtbot.waitUntil(lambda: window.shift is not None, timeout=5000)

        barcode = make_ean13(f"{4000000000 + world.a.id * 100 + 1:012d}")
        window.pipeline.handle(barcode)
        qtbot.waitUntil(lambda: len(window.cart.lines) == 1, timeout=5000)
        assert window.cart.lines[0].item.name == "Product 1 of admin"
        window.sales.pay()
        dialog = window.dialog
        assert isinstance(dialog, PaymentDialog)
        dialog.amount.setText("20")
        dialog.add_payment()
        dialog.complete.click()
        qtbot.waitUntil(lambda: window.last_sale is not None, timeout=5000)
        qtbot.waitUntil(lambda: till.runner.pending == 0, timeout=5000)

        status = engine.sync_once()
        assert status.online and status.pending == 0
        qtbot.waitUntil(lambda: window.sync_status.text().startswith("● Online"), timeout=5000)
        with store.session() as session:
            assert session.scalars(select(OutboxEvent)).all() == []
            local = session.get(Sale, window.last_sale.sale_id)
        assert local.synced_at is not None
        with transaction(world.sessions()) as session:
            sale = session.scalars(
                select(ServerSale).where(ServerSale.receipt_number == local.receipt_number)
            ).one()
            applied = session.scalars(
                select(ReceivedEvent.status).where(ReceivedEvent.event_id == local.event_id)
            ).one()
        assert (sale.total, sale.branch_id, applied) == (Decimal("10.00"), branch_id, "applied")
    finally:
        till.close()
