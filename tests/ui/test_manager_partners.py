"""Customers, suppliers and the supplier's side of purchase orders, from the back office.

Real widgets against a real server on loopback: every check reads what the server stored.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from pos_client.ui.manager.purchasing_dialogs import ConfirmDialog, SendDialog, ShipDialog
from sync_server.db import transaction
from sync_server.inventory import costing, ledger
from sync_server.notifications.models import Notification, SmsOptIn
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

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def settings(settings, smtp):  # noqa: F811 - the loopback SMTP server, named by the server
    """The server has a mail server (it refuses to send a PO by e-mail without one)."""
    port, _ = smtp
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "buying@shop.test"}
    )


def _sms_number(world: World, customer_id: int) -> str | None:
    """Return the number a customer agreed to get texts at, if they did."""
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(select(SmsOptIn.phone).where(SmsOptIn.customer_id == customer_id))


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pdf_text(path: Path, tmp_path: Path) -> str:
    """Render a PDF to an image (it must be a real PDF) and return its text."""
    subprocess.run(
        ["pdftoppm", "-png", "-r", "30", "-f", "1", "-l", "1", str(path), str(tmp_path / "pg")],
        check=True,
    )
    assert list(tmp_path.glob("pg*.png"))
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_customer_created_edited_and_statement_saved(
    open_window, qtbot: QtBot, world: World, tmp_path: Path
) -> None:
    admin = world.api("admin")
    window = open_window("manager", start="customers")
    page = window.open_screen("customers")
    wait_loaded(qtbot, page.table)

    qtbot.mouseClick(page.new_button, LEFT)
    dialog = page.dialog
    dialog.name.setText("Mehta Stores")
    dialog.phone.setText("+91 98450 11223")
    dialog.email.setText("accounts@mehta.example")
    dialog.sms.setChecked(True)
    for wrong in ("25k", "-5", "100.505"):
        dialog.credit_limit.setText(wrong)
        qtbot.mouseClick(dialog.ok_button, LEFT)
        assert dialog.error.isVisible() and "Credit limit" in dialog.error.text(), wrong
        assert dialog.isVisible()
    # Refused in the form: no request left the dialog, so the server has no such customer.
    assert admin.get("customers", params={"q": "Mehta"}).json()["total"] == 0
    dialog.credit_limit.setText("25,000.50")
    accept_dialog(qtbot, dialog)
    created = dialog.result_value
    stored = admin.get(f"customers/{created.id}").json()
    assert stored["credit_limit"] == "25000.50" and stored["email"] == "accounts@mehta.example"
    assert _sms_number(world, created.id) == "+919845011223"

    # Edit: raise the limit and withdraw the SMS consent.
    reload_until(qtbot, page.table, lambda rows: any(c.id == created.id for c in rows))
    select_row(page.table, lambda c: c.id == created.id)
    qtbot.mouseClick(page.edit_button, LEFT)
    edit = page.dialog
    assert edit.name.text() == "Mehta Stores" and edit.credit_limit.text() == "25000.50"
    edit.credit_limit.setText("30000")
    edit.sms_choice.setCurrentIndex(edit.sms_choice.findData("off"))
    accept_dialog(qtbot, edit)
    eventually(
        qtbot, lambda: admin.get(f"customers/{created.id}").json()["credit_limit"] == "30000.00"
    )
    assert _sms_number(world, created.id) is None
    assert page.message.text() == "Saved Mehta Stores."

    # Statement of account as a PDF, for a date range.
    reload_until(qtbot, page.table, lambda rows: any(c.id == created.id for c in rows))
    select_row(page.table, lambda c: c.id == created.id)
    target = tmp_path / "mehta.pdf"
    qtbot.mouseClick(page.statement_button, LEFT)
    statement = page.dialog
    statement.start.setDate(_qdate(date.today()))
    statement.end.setDate(_qdate(date.today() - timedelta(days=1)))
    qtbot.mouseClick(statement.ok_button, LEFT)
    assert statement.error.isVisible() and not target.exists()
    statement.start.setDate(_qdate(date.today() - timedelta(days=30)))
    statement.end.setDate(_qdate(date.today()))
    page.ask_statement_path = lambda customer: tmp_path / "no-such-folder" / "mehta.pdf"
    qtbot.mouseClick(statement.ok_button, LEFT)
    qtbot.waitUntil(lambda: "Could not save" in statement.error.text(), timeout=TIMEOUT)
    page.ask_statement_path = lambda customer: target
    accept_dialog(qtbot, statement)
    assert page.last_statement == target and target.read_bytes().startswith(b"%PDF")
    assert "Mehta Stores" in _pdf_text(target, tmp_path)


def test_supplier_created_and_po_sent_confirmed_shipped(
    open_window, qtbot: QtBot, world: World, tmp_path: Path
) -> None:
    buyer_api = world.api("purchase_admin")
    branch_id = world.a.branch_ids[0]
    tea, rice = world.a.product_ids[:2]
    window = open_window("purchase_admin", start="purchasing")
    page = window.open_screen("purchasing")
    wait_loaded(qtbot, page.orders)

    page.tabs.setCurrentIndex(1)
    wait_loaded(qtbot, page.supplier_table)
    qtbot.mouseClick(page.new_supplier_button, LEFT)
    dialog = page.dialog
    dialog.contact_name.setText("R. Mehta")
    qtbot.mouseClick(dialog.ok_button, LEFT)
    assert dialog.error.isVisible() and "name" in dialog.error.text()
    dialog.name.setText("Tata Consumer")
    dialog.email.setText("orders@tata.example")
    dialog.phone.setText("+91 22 6665 8282")
    dialog.payment_terms_days.setValue(45)
    accept_dialog(qtbot, dialog)
    supplier = dialog.result_value
    stored = buyer_api.get(f"suppliers/{supplier.id}").json()
    assert (stored["email"], stored["payment_terms_days"], stored["contact_name"]) == (
        "orders@tata.example",
        45,
        "R. Mehta",
    )

    # A PO this buyer wrote, approved by a manager.
    po = buyer_api.post(
        "purchase-orders",
        json={
            "supplier_id": supplier.id,
            "branch_id": branch_id,
            "lines": [
                {"product_id": tea, "quantity": "10", "unit_cost": "6.50"},
                {"product_id": rice, "quantity": "5", "unit_cost": "12.00"},
            ],
        },
    ).json()
    assert buyer_api.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    approved = world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    assert approved.status_code == 200, approved.text
    path = f"purchase-orders/{po['id']}"

    def show(status: str) -> None:
        reload_until(
            qtbot,
            page.orders,
            lambda rows: any(r.id == po["id"] and r.status == status for r in rows),
        )
        select_row(page.orders, lambda r: r.id == po["id"])

    page.tabs.setCurrentIndex(0)
    show("approved")
    assert page.send_button.isEnabled()
    assert not page.confirm_button.isEnabled() and not page.ship_button.isEnabled()
    qtbot.waitUntil(lambda: any(s.id == supplier.id for s in page.suppliers), timeout=TIMEOUT)
    qtbot.mouseClick(page.send_button, LEFT)
    # The page asks the server whether it can send e-mail before it opens the question.
    qtbot.waitUntil(lambda: isinstance(page.dialog, SendDialog), timeout=TIMEOUT)
    send = page.dialog
    assert "orders@tata.example" in send.summary.text()
    accept_dialog(qtbot, send)
    assert "queued" in page.message.text() and "orders@tata.example" in page.message.text()
    eventually(qtbot, lambda: buyer_api.get(path).json()["status"] == "sent")
    with transaction(world.sessions(), readonly=True) as session:
        mails = session.scalars(
            select(Notification.recipient).where(
                Notification.event == "purchase_order.sent", Notification.channel == "email"
            )
        ).all()
    assert mails == ["orders@tata.example"]

    # The supplier confirms fewer bags of rice, for a date.
    show("sent")
    assert page.confirm_button.isEnabled() and not page.send_button.isEnabled()
    qtbot.mouseClick(page.confirm_button, LEFT)
    qtbot.waitUntil(lambda: isinstance(page.dialog, ConfirmDialog), timeout=TIMEOUT)
    confirm = page.dialog
    assert [confirm.table.item(r, 1).text() for r in range(2)] == ["10", "5"]
    for wrong in ("NaN", "6"):  # not a number, more than ordered: refused in the form
        confirm.set_confirmed(1, wrong)
        qtbot.mouseClick(confirm.ok_button, LEFT)
        assert confirm.error.isVisible() and "Line 2" in confirm.error.text(), wrong
    confirm.set_confirmed(1, "3")
    delivery = date.today() + timedelta(days=5)
    confirm.delivery.setDate(_qdate(delivery))
    accept_dialog(qtbot, confirm)
    eventually(qtbot, lambda: buyer_api.get(path).json()["status"] == "confirmed")
    stored = buyer_api.get(path).json()
    assert [line["confirmed_quantity"] for line in stored["lines"]] == ["10", "3"]
    assert stored["confirmed_date"] == delivery.isoformat()

    # Then ships it.
    show("confirmed")
    assert page.ship_button.isEnabled() and not page.send_button.isEnabled()
    qtbot.mouseClick(page.ship_button, LEFT)
    ship = page.dialog
    assert isinstance(ship, ShipDialog) and ship.arrival.date() == _qdate(delivery)
    ship.carrier.setText("Blue Dart")
    qtbot.mouseClick(ship.ok_button, LEFT)
    assert ship.error.isVisible() and "tracking" in ship.error.text()
    ship.tracking.setText("BD123456789IN")
    arrival = date.today() + timedelta(days=4)
    ship.arrival.setDate(_qdate(arrival))
    accept_dialog(qtbot, ship)
    eventually(qtbot, lambda: buyer_api.get(path).json()["status"] == "shipped")
    stored = buyer_api.get(path).json()
    assert (stored["carrier"], stored["tracking_number"], stored["expected_arrival"]) == (
        "Blue Dart",
        "BD123456789IN",
        arrival.isoformat(),
    )
    show("shipped")
    row = page.orders.model.rows.index(next(r for r in page.orders.model.rows if r.id == po["id"]))
    shown = {
        column.label: page.orders.model.index(row, i).data()
        for i, column in enumerate(page.orders.model.columns)
    }
    assert shown["Shipment"] == "Blue Dart BD123456789IN" and shown["Due"] == arrival.isoformat()
    assert not any(b.isEnabled() for b in (page.send_button, page.confirm_button, page.ship_button))

    # The vendor's statement of account as a PDF.
    page.tabs.setCurrentIndex(1)
    wait_loaded(qtbot, page.supplier_table)
    select_row(page.supplier_table, lambda s: s.id == supplier.id)
    target = tmp_path / "tata.pdf"
    page.ask_statement_path = lambda chosen: target
    qtbot.mouseClick(page.supplier_statement_button, LEFT)
    accept_dialog(qtbot, page.dialog)
    assert page.last_statement == target
    assert "Tata Consumer" in _pdf_text(target, tmp_path)


def test_reorder_suggestions_explain_themselves_and_a_viewer_cannot_edit(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    branch_id, product_id = world.a.branch_ids[0], world.a.product_ids[0]
    supplier = admin.post("suppliers", json={"name": "Acme Foods"}).json()
    assert admin.patch(f"products/{product_id}", json={"supplier_id": supplier["id"]}).is_success
    # Eight weeks of sales with a busy weekend, leaving 20 on the shelf.
    pattern = (6, 5, 5, 6, 9, 14, 16)
    sold = [pattern[day % 7] for day in range(56)]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with transaction(world.sessions()) as session:
        actor = world.principal("admin").actor
        costing.receive(
            session,
            actor=actor,
            branch_id=branch_id,
            product_id=product_id,
            quantity=Decimal(sum(sold) + 20),
            unit_cost=Decimal("3"),
            reference_type="test",
            reference_id="opening",
        )
        for age, quantity in enumerate(reversed(sold)):
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch_id,
                product_id=product_id,
                code="sale",
                quantity=-Decimal(quantity),
                reference_type="test",
                reference_id=f"day-{age}",
                occurred_at=today - timedelta(days=age),
            )
    # 12 more are on an approved order.
    po = admin.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": branch_id,
            "lines": [{"product_id": product_id, "quantity": "12", "unit_cost": "3"}],
        },
    ).json()
    assert world.api("purchase_admin").post(f"purchase-orders/{po['id']}/submit").is_success
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").is_success

    window = open_window("manager", start="purchasing")
    page = window.open_screen("purchasing")
    page.reorder_branch.setCurrentIndex(page.reorder_branch.findData(branch_id))
    page.reorder_method.setCurrentIndex(page.reorder_method.findData("forecast"))
    page.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: "to reorder" in page.reorder_message.text(), timeout=TIMEOUT)
    [row] = [r for r in page.reorder_model.rows if r["product_id"] == product_id]
    # 61 a week, give or take what the model makes of the weekday the history ends on.
    assert re.match(r"sells ~6[012]/week", row["reasoning"]), row["reasoning"]
    headers = [c.label for c in page.reorder_model.columns]
    shown = {
        label: page.reorder_model.index(page.reorder_model.rows.index(row), i).data()
        for i, label in enumerate(headers)
    }
    assert shown["On order"] == "12" and shown["On hand"] == "20"
    assert "lead time 7 days" in shown["Why"] and "safety stock" in shown["Why"]

    # The low-stock method gives no reasons, but the screen still shows what is on order.
    page.reorder_method.setCurrentIndex(page.reorder_method.findData("threshold"))
    page.reorder_message.setText("")
    page.suggest()
    qtbot.waitUntil(lambda: "to reorder" in page.reorder_message.text(), timeout=TIMEOUT)
    [row] = [r for r in page.reorder_model.rows if r["product_id"] == product_id]
    assert Decimal(row["on_order"]) == 12 and row["reasoning"] is None

    viewer = open_window("viewer", start="customers")
    hidden = {
        "customers": ("new_button", "edit_button", "payment_button"),
        "purchasing": (
            "send_button",
            "confirm_button",
            "ship_button",
            "new_supplier_button",
            "edit_supplier_button",
            "draft_button",
        ),
    }
    for key, names in hidden.items():
        screen = viewer.open_screen(key)
        for name in names:
            assert not getattr(screen, name).isVisibleTo(viewer), f"{key}.{name} shown"
    # Reading statements is not editing: the viewer keeps those.
    assert viewer.open_screen("customers").statement_button.isVisibleTo(viewer)


def test_credit_history_lists_the_customers_entries(
    open_window, qtbot: QtBot, world: World
) -> None:
    admin = world.api("admin")
    customer = admin.post("customers", json={"name": "Iyer Traders", "credit_limit": "1000"}).json()
    paid = admin.post(f"customers/{customer['id']}/payments", json={"amount": "40"})
    assert paid.status_code == 201, paid.text
    window = open_window("manager", start="customers")
    page = window.open_screen("customers")
    reload_until(qtbot, page.table, lambda rows: any(c.id == customer["id"] for c in rows))
    select_row(page.table, lambda c: c.id == customer["id"])

    qtbot.mouseClick(page.history_button, LEFT)

    history = page.dialog
    qtbot.waitUntil(lambda: history.status.text() != "Loading…", timeout=TIMEOUT)
    assert history.status.text() == "1 entries"
    (entry,) = history.model.rows
    assert entry.kind == "payment" and entry.amount == Decimal("-40")
