"""A purchase order's whole life in the manager window at 1366×768 on a live server: lines
found by search with units, tax and costs from the supplier's price, a zero cost refused,
approved from its detail view by a second user, sent by real SMTP (the detail view shows the
e-mail delivered and previews the PDF), received in two parts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.barcodes import make_ean13
from pos_client.ui.manager.purchasing_dialogs import SendDialog
from sync_server.notifications.dispatcher import dispatch_due
from tests.factories import World
from tests.server.test_po_attachment import smtp  # noqa: F401 - the loopback SMTP server
from tests.ui.manager_support import (
    TIMEOUT,
    accept_dialog,
    eventually,
    reload_until,
    select_row,
    wait_loaded,
)
from tests.ui.test_manager_documents import LONG_NAME, _find_and_add, _laptop, _on_hand, _shot

SUPPLIER_EMAIL = "orders@tata.test"


@pytest.fixture
def settings(settings, smtp):  # noqa: F811 - the loopback SMTP server, named by the server
    """The server sends e-mail through a real SMTP server on loopback."""
    port, _ = smtp
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "buying@shop.test",
            "notify_timeout": 5,
        }
    )


def _open_detail(qtbot: QtBot, page, po_id: int):
    """Double-click the PO's row, as a person would, and wait for its detail view."""
    reload_until(qtbot, page.orders, lambda rows: any(r.id == po_id for r in rows))
    row = next(i for i, r in enumerate(page.orders.model.rows) if r.id == po_id)
    index = page.orders.view.model().index(row, 0)
    page.orders.view.selectRow(row)
    page.dialog = None
    rect = page.orders.view.visualRect(index)
    # A real double-click is a press, release, then a double-click event on the same row.
    qtbot.mouseClick(page.orders.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.orders.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: (
            page.dialog is not None
            and page.dialog.isVisible()
            and hasattr(page.dialog, "approve_button")
        ),
        timeout=TIMEOUT,
    )
    return page.dialog


def test_po_by_search_with_units_tax_and_supplier_price_approved_sent_and_received(
    open_window,
    qtbot: QtBot,
    world: World,
    settings,
    smtp,  # noqa: F811
    tmp_path: Path,
) -> None:
    _, inbox = smtp
    admin = world.api("admin")
    branch_id, plain_id = world.a.branch_ids[0], world.a.product_ids[1]
    gst5 = admin.post(
        "tax-classes", json={"code": "GST5", "name": "GST 5%", "rates": [{"gst_rate": "5"}]}
    ).json()
    barcode = make_ean13("890123400017")
    rice = admin.post(
        "products",
        json={
            "sku": "RICE-5",
            "name": LONG_NAME,
            "price": "640.00",
            "cost": "520.00",
            "barcodes": [barcode],
            "tax_class_id": gst5["id"],
            "purchase_unit": "bag",
            "purchase_units_per": "4",
        },
    )
    assert rice.status_code == 201, rice.text
    rice = rice.json()
    supplier = admin.post(
        "suppliers", json={"name": "Tata Consumer", "email": SUPPLIER_EMAIL}
    ).json()
    # The supplier's price of the plain product: a new line starts from it.
    priced = admin.put(f"suppliers/{supplier['id']}/prices/{plain_id}", json={"unit_cost": "12.50"})
    assert priced.status_code == 200, priced.text

    buyer = open_window("purchase_admin", start="purchasing")
    _laptop(buyer)
    page = buyer.open_screen("purchasing")
    wait_loaded(qtbot, page.orders)
    qtbot.waitUntil(lambda: bool(page.suppliers), timeout=TIMEOUT)
    assert buyer.width() <= 1366
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.supplier.setCurrentIndex(dialog.supplier.findData(supplier["id"]))
    dialog.branch.setCurrentIndex(dialog.branch.findData(branch_id))
    editor = dialog.lines
    qtbot.waitUntil(lambda: bool(editor.tax_classes), timeout=TIMEOUT)
    # Found by barcode, by name and by SKU.
    _find_and_add(qtbot, editor, barcode, rice["id"])
    _find_and_add(qtbot, editor, "Product 1 of admin", plain_id)
    _find_and_add(qtbot, editor, "RICE-5", rice["id"])  # again: one more on the same line
    assert editor.table.rowCount() == 2
    table = editor.table
    assert table.item(0, 0).text() == f"{LONG_NAME} (RICE-5)"
    assert table.item(0, 1).text() == "2"
    # Rice comes in bags of 4 at its last cost (520 a piece: 2,080 a bag), taxed GST 5%.
    assert editor.unit_box(0).currentText() == "bag of 4 piece"
    assert table.item(0, 3).text() == "2080.00"
    assert editor.tax_box(0).currentText() == "GST 5%"
    # The plain product has no last cost, but the supplier's price: 12.50.
    qtbot.waitUntil(lambda: table.item(1, 3).text() == "12.50", timeout=TIMEOUT)
    assert "supplier's price" in table.item(1, 3).toolTip()
    # Counted in pieces instead, the rice costs a piece's price.
    editor.unit_box(0).setCurrentIndex(editor.unit_box(0).findText("piece"))
    assert table.item(0, 3).text() == "520.00"

    # A blank or zero cost is refused in the form, before anything reaches the server.
    editor.set_line(0, quantity="20", cost="520.00")
    editor.set_line(1, quantity="5", cost="")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible()
    assert "Give a cost for Product 1 of admin" in dialog.error.text()
    editor.set_line(1, quantity="5", cost="0")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert "tick Free" in dialog.error.text()
    assert dialog.isVisible()
    editor.set_line(1, quantity="5", cost="12.50")
    # 20 x 520 = 10,400 taxed 2.5% + 2.5% = 520; 5 x 12.50 = 62.50 untaxed.
    assert "taxable value ₹10,462.50 · tax ₹520.00" in editor.total.text()
    assert "total ₹10,982.50" in editor.total.text()
    _shot(dialog, "po-new")
    accept_dialog(qtbot, dialog)
    po = dialog.result_value
    assert [
        (
            x.product_id,
            x.quantity,
            x.purchase_unit,
            x.unit_cost,
            x.tax_class_id,
            x.tax_amount,
        )
        for x in po.lines
    ] == [
        (rice["id"], Decimal(20), "piece", Decimal(520), gst5["id"], Decimal(520)),
        (plain_id, Decimal(5), "piece", Decimal("12.5"), None, Decimal(0)),
    ]
    reload_until(qtbot, page.orders, lambda rows: any(r.id == po.id for r in rows))
    select_row(page.orders, lambda r: r.id == po.id)
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    status = f"purchase-orders/{po.id}"
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "pending_approval")

    # A second user opens it by double-click, sees what they approve, and approves it there.
    manager = open_window("manager", start="purchasing")
    _laptop(manager)
    approver = manager.open_screen("purchasing")
    detail = _open_detail(qtbot, approver, po.id)
    lines = detail.lines
    assert [lines.item(r, 0).text() for r in range(lines.rowCount())] == [
        LONG_NAME,
        "Product 1 of admin",
    ]
    assert [lines.item(r, 2).text() for r in range(2)] == ["piece", "piece"]
    assert [lines.item(r, 7).text() for r in range(2)] == ["₹520.00", "₹0.00"]
    assert [lines.item(r, 8).text() for r in range(2)] == ["₹10,920.00", "₹62.50"]
    assert "Taxable value ₹10,462.50" in detail.totals.text()
    assert "Total ₹10,982.50" in detail.totals.text()
    history = [detail.history.item(i).text() for i in range(detail.history.count())]
    assert any("Submitted for approval" in h for h in history)
    assert detail.emails.rowCount() == 0
    assert "No e-mail has been sent" in detail.email_note.text()
    preview = detail.preview.pixmap()
    assert not preview.isNull() and preview.width() > 500
    assert detail.approve_button.isVisible() and detail.reject_button.isVisible()
    _shot(detail, "po-detail")
    qtbot.mouseClick(detail.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not detail.isVisible(), timeout=TIMEOUT)
    assert "approved" in approver.message.text()
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "approved")

    # The buyer sends it: the question names the address, and the e-mail really leaves.
    reload_until(
        qtbot,
        page.orders,
        lambda rows: any(r.id == po.id and r.status == "approved" for r in rows),
    )
    select_row(page.orders, lambda r: r.id == po.id)
    assert page.send_button.isEnabled()
    page.dialog = None
    qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(page.dialog, SendDialog), timeout=TIMEOUT)
    send = page.dialog
    assert SUPPLIER_EMAIL in send.summary.text() and send.ok_button.isEnabled()
    _shot(send, "po-send")
    accept_dialog(qtbot, send)
    assert "queued" in page.message.text()
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "sent")
    detail = _open_detail(qtbot, page, po.id)
    assert detail.emails.item(0, 2).text() == SUPPLIER_EMAIL
    assert detail.emails.item(0, 3).text() == "Queued for delivery"
    assert detail.tabs.tabText(1) == "E-mails (1 queued)"
    assert dispatch_due(world.sessions(), settings=settings) == 1
    [(recipients, message)] = inbox.messages
    assert recipients == [SUPPLIER_EMAIL] and po.number in message["Subject"]
    qtbot.mouseClick(detail.refresh_emails_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: detail.emails.item(0, 3).text().startswith("Sent "), timeout=TIMEOUT)
    assert detail.tabs.tabText(1) == "E-mails (1 sent)"
    history = [detail.history.item(i).text() for i in range(detail.history.count())]
    assert any("Sent to supplier" in h for h in history)
    # The PDF the supplier got, saved where the user says.
    detail.ask_path = lambda: tmp_path / "po.pdf"
    qtbot.mouseClick(detail.save_pdf_button, Qt.MouseButton.LeftButton)
    assert (tmp_path / "po.pdf").read_bytes().startswith(b"%PDF")
    detail.tabs.setCurrentIndex(2)
    _shot(detail, "po-detail-pdf")
    detail.tabs.setCurrentIndex(1)
    _shot(detail, "po-detail-emails")
    detail.reject()

    # Received in two parts, straight from "sent"; the long name shows whole.
    before = _on_hand(admin, branch_id=branch_id, product_id=rice["id"])
    for part, quantities in enumerate((("8", "5"), ("12", "0"))):
        reload_until(
            qtbot,
            page.orders,
            lambda rows: any(
                r.id == po.id and r.status in ("sent", "partially_received") for r in rows
            ),
        )
        select_row(page.orders, lambda r: r.id == po.id)
        page.dialog = None
        qtbot.mouseClick(page.receive_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: page.dialog is not None and page.dialog.isVisible(), timeout=TIMEOUT
        )
        receive = page.dialog
        name = receive.table.item(0, 0).text()
        assert name == LONG_NAME
        width = receive.table.fontMetrics().horizontalAdvance(name)
        assert receive.table.columnWidth(0) > width, "the product's name is cut short"
        if part == 0:
            _shot(receive, "po-receive")
        receive.set_quantity(0, quantities[0])
        receive.set_quantity(1, quantities[1])
        accept_dialog(qtbot, receive)
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "received")
    assert _on_hand(admin, branch_id=branch_id, product_id=rice["id"]) == before + 20
    assert len(admin.get(f"{status}/receipts").json()) == 2
    # What was paid is now the supplier's price of the rice.
    prices = admin.get(f"suppliers/{supplier['id']}/prices").json()
    assert {p["product_id"]: p["unit_cost"] for p in prices}[rice["id"]] == "520.00"

    # The detail view lists both receipts and offers no approval.
    detail = _open_detail(qtbot, page, po.id)
    assert detail.receipts.count() == 2
    assert "8 × " + LONG_NAME in detail.receipts.item(0).text()
    assert not detail.approve_button.isVisible()
    detail.reject()

    # Had the server no mail server, the question would say so and offer no Send.
    unconfigured = SendDialog(
        ctx=page.ctx,
        po=po.model_copy(update={"status": "approved"}),
        supplier=next(s for s in page.suppliers if s.id == supplier["id"]),
        email_configured=False,
        parent=page,
    )
    assert "no mail server configured" in unconfigured.summary.text()
    assert not unconfigured.ok_button.isEnabled()
    unconfigured.close()
