"""Manager screens against a real server on loopback: real widgets, real HTTP, real database."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from common.schemas.inventory import CountLineRead
from pos_client.ui.manager.import_dialog import PROBLEMS
from pos_client.ui.manager.window import LoginDialog
from tests.factories import PASSWORD, World
from tests.ui.manager_support import (
    TIMEOUT,
    accept_dialog,
    eventually,
    reload_until,
    select_row,
    wait_loaded,
)


def test_viewer_sees_no_editing_actions(open_window, qtbot: QtBot, live_server) -> None:
    # Sign in through the login dialog, as `stockpilot-till --manager` does.
    login = LoginDialog(server_url=live_server.url)
    qtbot.addWidget(login)
    login.password.setText("wrong")
    login.username.setText("viewer")
    login.sign_in()
    qtbot.waitUntil(lambda: "password" in login.error.text().lower(), timeout=TIMEOUT)
    login.password.setText(PASSWORD)
    login.sign_in()
    qtbot.waitUntil(lambda: login.ctx is not None, timeout=TIMEOUT)
    assert login.ctx.me.role.value == "viewer" and len(login.ctx.branches) == 2
    login.pool.close()
    login.client.close()

    viewer = open_window("viewer", start="products")
    keys = [s.key for s in viewer.screens]
    assert "admin" not in keys and "audit" not in keys
    assert {"dashboard", "products", "stock", "purchasing", "sales", "customers", "alerts"} <= set(
        keys
    )
    editing = {
        "products": ("new_button", "edit_button", "archive_button", "import_button"),
        "stock": ("adjust_button", "transfer_button"),
        "purchasing": (
            "new_button",
            "submit_button",
            "approve_button",
            "reject_button",
            "receive_button",
        ),
        "sales": ("approve_button", "reject_button"),
        "customers": ("payment_button",),
        "alerts": ("ack_button",),
    }
    for key, buttons in editing.items():
        page = viewer.open_screen(key)
        for name in buttons:
            assert not getattr(page, name).isVisibleTo(viewer), f"{key}.{name} shown to a viewer"
    # The same screens give a manager the actions.
    manager = open_window("manager", start="products")
    assert manager.open_screen("purchasing").approve_button.isVisibleTo(manager)
    assert manager.open_screen("products").new_button.isVisibleTo(manager)

    # An admin issues a till enrolment code and changes a setting from the Admin screen.
    admin = open_window("admin", start="admin")
    page = admin.pages["admin"]
    labels = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert labels == ["Users", "Branches", "Devices", "API keys", "Settings"]
    page.tabs.setCurrentIndex(labels.index("Devices"))
    qtbot.mouseClick(admin.findChild(QPushButton, "IssueCode"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Enrolment code" in page.message.text(), timeout=TIMEOUT)
    page.tabs.setCurrentIndex(labels.index("Settings"))
    qtbot.waitUntil(lambda: page.settings.loaded, timeout=TIMEOUT)
    page.settings.fields["receipt_footer"].editor.setText("Come again!")
    qtbot.mouseClick(admin.findChild(QPushButton, "SaveSetting"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.settings.message.text().startswith("Saved"), timeout=TIMEOUT)


def test_create_product_and_print_label_pdf(
    open_window, qtbot: QtBot, tmp_path: Path, live_server
) -> None:
    window = open_window("manager", start="products")
    page = window.open_screen("products")
    wait_loaded(qtbot, page.table)
    assert page.table.total == 3

    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.sku.setText("TEA-500")
    dialog.name.setText("Assam Tea 500 g")
    dialog.price.setText("245.50")
    dialog.barcodes.setText("5901234123458")  # wrong check digit: refused before sending
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible() and "Check digit" in dialog.error.text()
    dialog.barcodes.setText("")
    dialog.generate.setChecked(True)
    accept_dialog(qtbot, dialog)
    created = dialog.result_value
    assert created.barcodes and created.barcodes[0].startswith("04")  # internal EAN-13
    assert created.price == Decimal("245.50")

    page.search.setText("TEA-500")
    reload_until(qtbot, page.table, lambda rows: [p.sku for p in rows] == ["TEA-500"])
    select_row(page.table, lambda p: p.sku == "TEA-500")
    target = tmp_path / "labels.pdf"
    page.ask_label_path = lambda: target
    qtbot.mouseClick(page.labels_button, Qt.MouseButton.LeftButton)
    labels = page.dialog
    assert labels.to_sheet.isChecked()  # nothing remembered yet: a PDF sheet by default
    labels.copies.setValue(2)
    qtbot.mouseClick(labels.ok_button, Qt.MouseButton.LeftButton)
    assert page.last_labels == target and target.stat().st_size > 1000
    assert page.status.text().startswith("2 label(s) on 1 page(s)")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(target), str(tmp_path / "page")], check=True
    )
    assert list(tmp_path.glob("page*.png"))

    # Bulk import: rows with problems are shown before anything is sent; a clean sheet imports
    # every row (tests/ui/test_manager_import.py covers mixed sheets row by row).
    sheet = tmp_path / "products.csv"
    sheet.write_text(
        "sku,name,price,barcodes\n"
        "RICE-5,Basmati Rice 5 kg,720.00,8901000000019\n"
        "OIL-1,Sunflower Oil 1 l,not-a-price,\n"
        "SALT-1,Salt 1 kg,28.00,5901234123458\n"
    )
    page.ask_import_path = lambda: sheet
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    preview = page.dialog
    assert "1 ready, 2 with problems that will be refused" in preview.summary.text()
    problems = [preview.table.item(r, PROBLEMS).text() for r in range(preview.table.rowCount())]
    assert problems[0] == "OK" and "price" in problems[1] and "Check digit" in problems[2]
    preview.reject()
    sheet.write_text(
        "sku,name,price,barcodes\n"
        "RICE-5,Basmati Rice 5 kg,720.00,8901000000019\n"
        "OIL-1,Sunflower Oil 1 l,155.00,\n"
    )
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    preview = page.dialog
    assert preview.import_button.isEnabled()
    qtbot.mouseClick(preview.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(preview.imported) == 2, timeout=TIMEOUT)
    page.search.setText("")
    reload_until(qtbot, page.table, lambda rows: len(rows) == 6)

    # The server goes away: a banner says so, the rows already shown stay, nothing blocks.
    live_server.stop()
    page.table.reload()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=TIMEOUT)
    assert "unreachable" in window.banner.text() and page.table.model.rowCount() == 6
    live_server.start()
    page.table.reload()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=TIMEOUT)
    assert page.table.total == 6


def _level(api, *, branch_id: int, product_id: int) -> dict:
    rows = api.get("stock/levels", params={"branch_id": branch_id, "product_id": product_id}).json()
    return rows["items"][0] if rows["items"] else {"on_hand": "0"}


def test_purchase_order_approved_by_another_user_and_received_partially(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    supplier = admin.post("suppliers", json={"name": "Tata Consumer"}).json()

    buyer = open_window("purchase_admin", start="purchasing")
    page = buyer.open_screen("purchasing")
    wait_loaded(qtbot, page.orders)
    qtbot.waitUntil(lambda: bool(page.suppliers), timeout=TIMEOUT)
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    dialog.supplier.setCurrentIndex(dialog.supplier.findData(supplier["id"]))
    dialog.branch.setCurrentIndex(dialog.branch.findData(branch_id))
    editor = dialog.lines
    editor.look_up("ADMIN-0")
    qtbot.waitUntil(
        lambda: (
            editor.results.count() > 0
            and editor.results.item(0).data(Qt.ItemDataRole.UserRole) is not None
        ),
        timeout=TIMEOUT,
    )
    editor.results.itemActivated.emit(editor.results.item(0))
    editor.set_line(0, quantity="10", cost="6.50")
    accept_dialog(qtbot, dialog)
    po = dialog.result_value
    assert po.status == "draft" and po.lines[0].product_id == product_id
    reload_until(qtbot, page.orders, lambda rows: any(r.id == po.id for r in rows))
    select_row(page.orders, lambda r: r.id == po.id)
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "approval" in page.message.text(), timeout=TIMEOUT)
    status = f"purchase-orders/{po.id}"
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "pending_approval")
    # The buyer may approve POs, but not their own.
    wait_loaded(qtbot, page.orders)
    select_row(page.orders, lambda r: r.id == po.id)
    qtbot.mouseClick(page.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "someone else" in page.message.text().lower(), timeout=TIMEOUT)

    manager = open_window("manager", start="purchasing")
    page = manager.open_screen("purchasing")
    wait_loaded(qtbot, page.orders)
    select_row(page.orders, lambda r: r.id == po.id)
    qtbot.mouseClick(page.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "approved" in page.message.text(), timeout=TIMEOUT)
    eventually(qtbot, lambda: admin.get(status).json()["status"] == "approved")
    wait_loaded(qtbot, page.orders)
    select_row(page.orders, lambda r: r.id == po.id)
    before = Decimal(_level(admin, branch_id=branch_id, product_id=product_id)["on_hand"])
    qtbot.mouseClick(page.receive_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=TIMEOUT)
    receive = page.dialog
    receive.set_quantity(0, "11")  # more than ordered: refused in the form
    qtbot.mouseClick(receive.ok_button, Qt.MouseButton.LeftButton)
    assert receive.error.isVisible()
    receive.set_quantity(0, "4")
    accept_dialog(qtbot, receive)

    eventually(
        qtbot,
        lambda: (
            Decimal(_level(admin, branch_id=branch_id, product_id=product_id)["on_hand"])
            == before + 4
        ),
    )
    assert admin.get(f"purchase-orders/{po.id}").json()["status"] == "partially_received"

    # What was received is owed to the vendor; a payment brings it down.
    page.tabs.setCurrentIndex(1)
    wait_loaded(qtbot, page.supplier_table)
    select_row(page.supplier_table, lambda s: s.id == supplier["id"])
    qtbot.mouseClick(page.account_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "due ₹26.00" in page.vendor_message.text(), timeout=TIMEOUT)
    qtbot.mouseClick(page.pay_button, Qt.MouseButton.LeftButton)
    pay = page.dialog
    pay.amount.setText("10")
    accept_dialog(qtbot, pay)

    def paid() -> bool:
        if "due ₹16.00" in page.vendor_message.text():
            return True
        page.show_account()  # ask again: the first answer may predate the payment's commit
        return False

    qtbot.waitUntil(paid, timeout=TIMEOUT)
    page.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: "reorder" in page.reorder_message.text(), timeout=TIMEOUT)


def test_approve_sales_request_and_record_customer_payment(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    customer = admin.post(
        "customers", json={"name": "Gupta Traders", "credit_limit": "5000.00"}
    ).json()
    stocked = admin.post(
        "stock/adjustments",
        json={
            "branch_id": branch_id,
            "product_id": product_id,
            "quantity": "20",
            "reason": "found",
        },
    )
    assert stocked.status_code == 201, stocked.text
    request = world.api("sales_admin").post(
        "sales-requests",
        json={
            "customer_id": customer["id"],
            "branch_id": branch_id,
            "payment_terms": "account",
            "lines": [{"product_id": product_id, "quantity": "3"}],
        },
    )
    assert request.status_code == 201, request.text
    request = request.json()

    window = open_window("manager", start="sales")
    page = window.open_screen("sales")
    wait_loaded(qtbot, page.requests)
    select_row(page.requests, lambda r: r.id == request["id"])
    qtbot.mouseClick(page.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.message.text().startswith("Approved"), timeout=TIMEOUT)
    eventually(
        qtbot,
        lambda: admin.get(f"sales-requests/{request['id']}").json()["status"] == "approved",
    )
    assert Decimal(_level(admin, branch_id=branch_id, product_id=product_id)["on_hand"]) == 17
    owed = Decimal(admin.get(f"customers/{customer['id']}/account").json()["balance_due"])
    assert owed == Decimal(request["total"]) > 0

    page = window.open_screen("customers")
    wait_loaded(qtbot, page.table)
    select_row(page.table, lambda c: c.id == customer["id"])
    qtbot.mouseClick(page.payment_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    # More than is due is not taken silently: it asks to keep the extra as credit.
    dialog.amount.setText(str(owed + Decimal("200")))
    assert dialog.as_credit.isVisible() and "₹200.00" in dialog.as_credit.text()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.error.isVisible() and "₹200.00 more than" in dialog.error.text()
    assert dialog.result() != QDialog.DialogCode.Accepted
    dialog.amount.setText("10.00")
    assert not dialog.as_credit.isVisible()
    accept_dialog(qtbot, dialog)
    eventually(
        qtbot,
        lambda: (
            Decimal(admin.get(f"customers/{customer['id']}/account").json()["balance_due"])
            == owed - Decimal("10.00")
        ),
    )
    qtbot.waitUntil(lambda: "Recorded" in page.message.text(), timeout=TIMEOUT)


def test_adjust_stock_raises_and_clears_a_low_stock_alert(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[1]
    assert (
        admin.patch(f"products/{product_id}", json={"low_stock_threshold": "5"}).status_code == 200
    )
    admin.post(
        "stock/adjustments",
        json={
            "branch_id": branch_id,
            "product_id": product_id,
            "quantity": "10",
            "reason": "found",
        },
    )
    window = open_window("manager", start="stock")
    page = window.open_screen("stock")
    page.branch.setCurrentIndex(page.branch.findData(branch_id))
    wait_loaded(qtbot, page.levels)

    def adjust(quantity: str, reason: str) -> None:
        wait_loaded(qtbot, page.levels)
        select_row(page.levels, lambda r: r.product_id == product_id)
        qtbot.mouseClick(page.adjust_button, Qt.MouseButton.LeftButton)
        dialog = page.dialog
        dialog.quantity.setText(quantity)
        dialog.reason.setCurrentIndex(dialog.reason.findData(reason))
        accept_dialog(qtbot, dialog)

    adjust("-8", "damage")
    reload_until(
        qtbot,
        page.levels,
        lambda rows: any(r.product_id == product_id and r.on_hand == 2 for r in rows),
    )
    row = select_row(page.levels, lambda r: r.product_id == product_id)
    assert row.status == "low" and row.on_hand == 2
    status_column = [c.key for c in page.levels.model.columns].index("status")
    index = page.levels.model.index(page.levels.model.rows.index(row), status_column)
    assert page.levels.model.data(index, Qt.ItemDataRole.BackgroundRole).color().name() == "#fff4e0"

    alerts = window.open_screen("alerts")
    reload_until(qtbot, alerts.alerts, lambda rows: any(a.product_id == product_id for a in rows))
    opened = [a for a in alerts.alerts.model.rows if a.product_id == product_id]
    assert [a.kind for a in opened] == ["low_stock"]
    window.refresh_badges()
    qtbot.waitUntil(lambda: window.alert_count >= 1, timeout=TIMEOUT)

    window.open_screen("stock")
    adjust("12", "correction")
    alerts = window.open_screen("alerts")
    reload_until(
        qtbot, alerts.alerts, lambda rows: not any(a.product_id == product_id for a in rows)
    )
    alerts.status_filter.setCurrentIndex(alerts.status_filter.findData("cleared"))
    wait_loaded(qtbot, alerts.alerts)
    cleared = [a for a in alerts.alerts.model.rows if a.product_id == product_id]
    assert cleared and cleared[0].cleared_at is not None

    # A stock count: three scans of the product, post, and on hand becomes what was counted.
    barcode = admin.get(f"products/{product_id}").json()["barcodes"][0]
    page = window.open_screen("stock")
    qtbot.mouseClick(page.count_button, Qt.MouseButton.LeftButton)
    count = page.dialog
    qtbot.waitUntil(lambda: count.count is not None, timeout=TIMEOUT)

    def counted_line() -> CountLineRead | None:
        return next((r for r in count.model.rows if r.product_id == product_id), None)

    for scans in (1, 2, 3):
        count.scan.setText(barcode)
        qtbot.keyClick(count.scan, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda n=scans: counted_line() is not None and counted_line().counted == n,
            timeout=TIMEOUT,
        )
    line = counted_line()
    assert line.expected == 14 and line.difference == -11
    qtbot.mouseClick(count.post_button, Qt.MouseButton.LeftButton)
    # Posting asks first, showing the differences it will make.
    qtbot.waitUntil(lambda: count.review is not None and count.review.isVisible(), timeout=TIMEOUT)
    qtbot.mouseClick(count.review.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: count.status.text().startswith("Posted"), timeout=TIMEOUT)
    eventually(
        qtbot,
        lambda: Decimal(_level(admin, branch_id=branch_id, product_id=product_id)["on_hand"]) == 3,
    )
