"""Sales screen: till sales and returns from a real sync push, and an online order's detail."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget
from pytestqt.qtbot import QtBot

from common.codes import MovementCode
from common.ids import new_id
from common.sync.protocol import Event, Refund, ReturnLine, ReturnRecorded
from pos_client.ui.manager.sales_dialogs import OrderDialog, ReturnDialog, SaleDialog
from sync_server.db import transaction
from sync_server.inventory import ledger
from tests.factories import Api, World
from tests.sync.sync_helpers import sale_payload
from tests.ui.manager_support import TIMEOUT, accept_dialog, eventually, reload_until, select_row


def cells(table: QTableWidget) -> list[list[str]]:
    """Return a detail table's text, row by row."""
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def show_tab(page, title: str) -> None:
    labels = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    page.tabs.setCurrentIndex(labels.index(title))


def push_sale_and_return(world: World) -> None:
    """Enrol a till at MAIN and push a two-item sale and the return of one item."""
    main, soap = world.a.branch_ids[0], world.a.product_ids[0]
    code = world.api("admin").post("devices/enrolment-codes", json={"branch_id": main})
    answer = (
        Api(world.client, None)
        .post("devices/enrol", json={"code": code.json()["code"], "name": "Till 1"})
        .json()
    )
    sale = sale_payload(branch_id=main, product_id=soap, receipt="MAIN-T01-000007", quantity="2")
    sale = sale.model_copy(update={"cashier_id": world.a.users["cashier"]})
    back = ReturnRecorded(
        return_id=new_id(),
        original_sale_id=sale.sale_id,
        receipt_number="MAIN-T01-R00001",
        branch_id=main,
        lines=[ReturnLine(line_id=new_id(), product_id=soap, quantity=Decimal(1), amount=10)],
        refunds=[Refund(refund_id=new_id(), method="card", amount=Decimal(10))],
        total=Decimal(10),
        reason="Leaking bottle",
    )
    events = [
        Event.wrap(p, device_id=answer["device_id"]).model_dump(mode="json") for p in (sale, back)
    ]
    pushed = Api(world.client, answer["token"]).post("sync/push", json={"events": events})
    assert [r["status"] for r in pushed.json()["results"]] == ["applied", "applied"]


def test_till_sale_and_return_show_with_their_details(
    open_window, qtbot: QtBot, world: World
) -> None:
    push_sale_and_return(world)
    window = open_window("manager", start="sales")
    page = window.open_screen("sales")

    show_tab(page, "Till sales")
    reload_until(
        qtbot, page.sales, lambda rows: any(r["receipt_number"] == "MAIN-T01-000007" for r in rows)
    )
    row = select_row(page.sales, lambda r: r["receipt_number"] == "MAIN-T01-000007")
    assert row["cashier_name"] == "cashier"
    qtbot.mouseClick(page.sales_tab.details_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(page.sales_tab.dialog, SaleDialog), timeout=TIMEOUT)
    sale = page.sales_tab.dialog
    assert sale.windowTitle() == "Receipt MAIN-T01-000007"
    # SKU, product, qty, price, discount, tax, total, returned, still returnable
    [line] = cells(sale.lines)
    assert line[:3] == ["X", "Item", "2"] and line[7:] == ["1", "1"]
    assert cells(sale.payments)[0][0] == "Cash"
    assert cells(sale.returns)[0][0] == "MAIN-T01-R00001"
    sale.reject()

    # The receipt search narrows the journal; a receipt that does not exist empties it.
    page.sales_tab.search.setText("MAIN-T01-9")
    reload_until(qtbot, page.sales, lambda rows: rows == [])
    assert page.sales.stack.currentWidget() is page.sales.empty

    show_tab(page, "Returns")
    reload_until(
        qtbot, page.returns, lambda rows: [r["receipt_number"] for r in rows] == ["MAIN-T01-R00001"]
    )
    listed = page.returns.model.rows[0]
    assert listed["reason"] == "Leaking bottle"
    assert listed["original_receipt_number"] == "MAIN-T01-000007"
    page.returns.view.selectRow(0)
    qtbot.keyClick(page.returns.view, Qt.Key.Key_Return)  # Enter opens the selected row
    qtbot.waitUntil(lambda: isinstance(page.returns_tab.dialog, ReturnDialog), timeout=TIMEOUT)
    back = page.returns_tab.dialog
    [line] = cells(back.lines)  # SKU, product, qty, amount, back on shelf
    assert line[:3] == ["ADMIN-0", "Product 0 of admin", "1"] and line[4] == "Yes"
    assert "10.00" in line[3]
    assert cells(back.refunds)[0][0] == "Card"
    assert back.findChild(QLabel, "OriginalReceipt").text() == "MAIN-T01-000007"


def test_order_detail_ships_and_saves_the_picking_list(
    open_window, qtbot: QtBot, world: World, tmp_path: Path
) -> None:
    main, soap = world.a.branch_ids[0], world.a.product_ids[0]
    admin = world.api("admin")
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=main,
            product_id=soap,
            code=MovementCode.RECEIPT,
            quantity=Decimal("5"),
            reference_type="test",
            reference_id=new_id(),
        )
    placed = admin.post(
        "orders",
        json={
            "external_number": "WEB-501",
            "branch_code": "MAIN",
            "customer": {"name": "Asha Rao", "email": "asha@example.com", "phone": "98450"},
            "lines": [{"sku": "ADMIN-0", "quantity": "2"}],
            "shipping_address": "12 MG Road, Bengaluru",
        },
        headers={"Idempotency-Key": new_id()},
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    for step, body in (
        ("payment", {"amount": order["total"], "reference": "UPI-9"}),
        ("picking", {}),
    ):
        moved = admin.post(f"orders/{order['id']}/{step}", json=body)
        assert moved.status_code == 200, moved.text

    window = open_window("manager", start="sales")
    page = window.open_screen("sales")
    saved = tmp_path / "picking.pdf"
    page.ask_path = lambda suggested: saved
    show_tab(page, "Online orders")
    reload_until(qtbot, page.orders, lambda rows: any(r.id == order["id"] for r in rows))
    select_row(page.orders, lambda r: r.id == order["id"])
    # A picking order may only be packed: the other steps are not offered (the server would
    # refuse them with a 409), and neither is cancelling once it is paid and being picked.
    assert enabled_steps(page) == {"packed"}
    page.orders.view.clearSelection()
    assert enabled_steps(page) == set()
    select_row(page.orders, lambda r: r.id == order["id"])
    page.show_order()
    qtbot.waitUntil(lambda: isinstance(page.dialog, OrderDialog), timeout=TIMEOUT)
    detail = page.dialog
    assert cells(detail.lines)[0][:3] == ["ADMIN-0", "Product 0 of admin", "2"]
    assert "UPI-9" in detail.findChild(QLabel, "OrderPaid").text()
    assert [row[0] for row in cells(detail.findChild(QTableWidget, "OrderHistory"))] == [
        "Placed",
        "Paid and confirmed",
    ]
    assert not detail.ship_button.isEnabled()  # picking, not yet packed

    qtbot.mouseClick(detail.picking_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "saved to" in detail.message.text(), timeout=TIMEOUT)
    assert saved.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(saved), str(tmp_path / "p")],
        check=True,
        timeout=30,
    )
    assert list(tmp_path.glob("p*.png"))
    detail.reject()

    assert admin.post(f"orders/{order['id']}/packed").status_code == 200
    reload_until(
        qtbot,
        page.orders,
        lambda rows: any(r.id == order["id"] and r.status == "packed" for r in rows),
    )
    select_row(page.orders, lambda r: r.id == order["id"])
    assert enabled_steps(page) == set()  # packed: shipping is recorded in the detail
    qtbot.mouseClick(page.order_details_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: isinstance(page.dialog, OrderDialog) and page.dialog is not detail,
        timeout=TIMEOUT,
    )
    detail = page.dialog
    assert detail.ship_button.isEnabled()
    qtbot.mouseClick(detail.ship_button, Qt.MouseButton.LeftButton)
    shipment = detail.shipment
    shipment.carrier.setText("Blue Dart")
    shipment.tracking.setText("BD123456789IN")
    accept_dialog(qtbot, shipment)
    assert detail.status.text() == "Shipped"
    assert "BD123456789IN" in detail.tracking.text()
    eventually(qtbot, lambda: admin.get(f"orders/{order['id']}").json()["status"] == "shipped")
    assert admin.get(f"orders/{order['id']}").json()["carrier"] == "Blue Dart"
    reload_until(
        qtbot,
        page.orders,
        lambda rows: any(r.id == order["id"] and r.status == "shipped" for r in rows),
    )
    select_row(page.orders, lambda r: r.id == order["id"])
    assert enabled_steps(page) == {"delivered"}
    qtbot.mouseClick(page.order_buttons["delivered"], Qt.MouseButton.LeftButton)
    eventually(qtbot, lambda: admin.get(f"orders/{order['id']}").json()["status"] == "delivered")
    qtbot.waitUntil(lambda: "delivered" in page.order_message.text(), timeout=TIMEOUT)


def enabled_steps(page) -> set[str]:
    """Return the order steps (and cancel) the sales screen offers for the selection."""
    offered = {a for a, b in page.order_buttons.items() if b.isEnabled()}
    return offered | ({"cancel"} if page.cancel_order_button.isEnabled() else set())
