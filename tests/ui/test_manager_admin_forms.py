"""Admin screen forms against a real server: users, branches, API keys and tills."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from common.roles import API_KEY_SCOPES, Role
from common.schemas.org import BranchRead
from pos_client.api.client import ApiClient, ApiError
from pos_client.ui.manager.admin_dialogs import (
    SCOPE_LABELS,
    ApiKeyDialog,
    BranchChecklist,
    BranchDialog,
    ConfirmDialog,
    RenameDialog,
    SecretDialog,
    UserDialog,
)
from tests.factories import World
from tests.ui.manager_support import (
    TIMEOUT,
    accept_dialog,
    eventually,
    reload_until,
    select_row,
    wait_loaded,
)

NEW_PASSWORD = "kirana-till-2026"
ADMIN_BUTTONS = ("NewUser", "EditUser", "NewBranch", "EditBranch", "NewApiKey", "RevokeApiKey")


def _click(qtbot: QtBot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _refused(qtbot: QtBot, dialog, words: str) -> None:
    """Press OK and wait for the dialog to show the server's refusal."""
    _click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=TIMEOUT)
    assert words in dialog.error.text(), dialog.error.text()
    assert dialog.result() != QDialog.DialogCode.Accepted


def _login(url: str, username: str, password: str):
    client = ApiClient(url)
    try:
        return client.login(username=username, password=password)
    finally:
        client.close()


def test_every_scope_has_words_in_the_form() -> None:
    assert set(SCOPE_LABELS) == set(API_KEY_SCOPES)


def test_branch_checklist_keeps_branches_it_does_not_list(qtbot: QtBot) -> None:
    shown = BranchRead(
        id=1, name="Main", code="MAIN", kind="store", address="", city="", latitude=None,
        longitude=None, capacity=None, phone="", active=True, created_at=datetime.now(UTC),
    )  # fmt: skip
    checklist = BranchChecklist(branches=[shown], checked=[1, 99], name="Branches")
    qtbot.addWidget(checklist)
    assert checklist.count() == 1 and sorted(checklist.checked()) == [1, 99]
    checklist.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert checklist.checked() == [99]  # editing other ticks never drops branch 99
    checklist.set_checked([])
    assert checklist.checked() == []


def test_admin_creates_then_disables_a_user(
    open_window, qtbot: QtBot, world: World, live_server
) -> None:
    window = open_window("admin", start="admin")
    page = window.pages["admin"]
    wait_loaded(qtbot, page.users)
    before = page.users.total
    branch_id = world.a.branch_ids[1]

    _click(qtbot, window.findChild(QPushButton, "NewUser"))
    dialog = page.dialog
    assert isinstance(dialog, UserDialog)
    dialog.username.setText("priya")
    dialog.full_name.setText("Priya Nair")
    dialog.role.setCurrentIndex(dialog.role.findData(Role.SALES_ADMIN.value))
    dialog.branches.set_checked([branch_id])
    dialog.pin.setText("12a4")
    dialog.password.setText("short")
    dialog.confirm.setText("short")
    _click(qtbot, dialog.ok_button)  # checked here: nothing is sent
    assert dialog.error.isVisible() and "PIN" in dialog.error.text()
    dialog.pin.setText("4321")
    _refused(qtbot, dialog, "at least 8 characters")  # the server's own words
    dialog.username.setText("cashier")
    dialog.password.setText(NEW_PASSWORD)
    dialog.confirm.setText(NEW_PASSWORD + "x")
    _click(qtbot, dialog.ok_button)
    assert "differ" in dialog.error.text()
    dialog.confirm.setText(NEW_PASSWORD)
    _refused(qtbot, dialog, "'cashier' is not available")
    assert world.api("admin").get("users").json()["total"] == before  # nothing was created

    dialog.username.setText("priya")
    accept_dialog(qtbot, dialog)
    assert dialog.result_value.username == "priya"
    reload_until(qtbot, page.users, lambda rows: any(r.username == "priya" for r in rows))
    me = _login(live_server.url, "priya", NEW_PASSWORD)
    assert me.role == Role.SALES_ADMIN and me.branch_ids == [branch_id]
    assert me.full_name == "Priya Nair"

    # Editing disables her and moves her to every branch; she can no longer sign in.
    user = select_row(page.users, lambda r: r.username == "priya")
    _click(qtbot, window.findChild(QPushButton, "EditUser"))
    edit = page.dialog
    assert isinstance(edit, UserDialog) and edit.user.id == user.id
    assert not edit.username.isEnabled() and edit.branches.checked() == [branch_id]
    edit.active.setChecked(False)
    edit.branches.set_checked([])
    accept_dialog(qtbot, edit)
    assert "disabled" in page.message.text()
    stored = world.api("admin").get(f"users/{user.id}").json()
    assert stored["active"] is False and stored["branch_ids"] == []
    with pytest.raises(ApiError) as refused:
        _login(live_server.url, "priya", NEW_PASSWORD)
    assert refused.value.status == 401

    # The server's refusal of an admin disabling themselves shows in the dialog too.
    select_row(page.users, lambda r: r.username == "admin")
    _click(qtbot, window.findChild(QPushButton, "EditUser"))
    own = page.dialog
    own.active.setChecked(False)
    _refused(qtbot, own, "cannot deactivate yourself")


def test_admin_adds_a_branch_and_an_api_key_then_revokes_the_key(
    open_window, qtbot: QtBot, world: World, live_server
) -> None:
    window = open_window("admin", start="admin")
    page = window.pages["admin"]
    labels = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert labels == ["Users", "Branches", "Devices", "API keys", "Settings"]
    assert all(window.findChild(QPushButton, name) is not None for name in ADMIN_BUTTONS)

    page.tabs.setCurrentIndex(labels.index("Branches"))
    wait_loaded(qtbot, page.branches)
    _click(qtbot, window.findChild(QPushButton, "NewBranch"))
    dialog = page.dialog
    assert isinstance(dialog, BranchDialog)
    dialog.code.setText("wh-east")  # codes are upper case; the form says so for the user
    dialog.name.setText("East Warehouse")
    dialog.kind.setCurrentIndex(dialog.kind.findData("warehouse"))
    dialog.city.setText("Pune")
    dialog.latitude.setText("north")
    _click(qtbot, dialog.ok_button)
    assert "Latitude must be a number" in dialog.error.text()
    dialog.latitude.setText("18.5204")
    accept_dialog(qtbot, dialog)
    reload_until(qtbot, page.branches, lambda rows: any(r.code == "WH-EAST" for r in rows))
    created = next(r for r in page.branches.model.rows if r.code == "WH-EAST")
    assert created.kind.value == "warehouse" and created.latitude == Decimal("18.5204")
    assert created.id in [b.id for b in page.ctx.branches]  # new forms offer it at once

    # Close it through Edit: the list shows it closed.
    select_row(page.branches, lambda r: r.code == "WH-EAST")
    _click(qtbot, window.findChild(QPushButton, "EditBranch"))
    edit = page.dialog
    assert not edit.code.isEnabled()
    # Its GST registration: a mistyped GSTIN is refused in words before it is sent.
    edit.gstin.setText("27AAPFU0939F1ZX")
    _click(qtbot, edit.ok_button)
    assert "check digit" in edit.error.text()
    edit.gstin.setText("27aapfu0939f1zv")
    edit.active.setChecked(False)
    accept_dialog(qtbot, edit)
    reload_until(
        qtbot,
        page.branches,
        lambda rows: any(
            r.code == "WH-EAST" and not r.active and r.gstin == "27AAPFU0939F1ZV" for r in rows
        ),
    )
    closed = next(r for r in page.branches.model.rows if r.code == "WH-EAST")
    assert (closed.state_code, closed.state) == ("27", "Maharashtra")

    # A till enrolled at the main branch is renamed from the Devices tab.
    admin_api = world.api("admin")
    code = admin_api.post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    ).json()["code"]
    assert admin_api.post("devices/enrol", json={"code": code, "name": "Till 1"}).status_code == 201
    page.tabs.setCurrentIndex(labels.index("Devices"))
    reload_until(qtbot, page.devices, lambda rows: any(r.name == "Till 1" for r in rows))
    select_row(page.devices, lambda r: r.name == "Till 1")
    _click(qtbot, window.findChild(QPushButton, "RenameDevice"))
    rename = page.dialog
    assert isinstance(rename, RenameDialog)
    rename.name.setText("  ")
    _click(qtbot, rename.ok_button)
    assert "new name" in rename.error.text()
    rename.name.setText("Front counter")
    accept_dialog(qtbot, rename)
    reload_until(qtbot, page.devices, lambda rows: [r.name for r in rows] == ["Front counter"])

    # An API key: the secret is shown once, works with X-API-Key, and stops after revoking.
    page.tabs.setCurrentIndex(labels.index("API keys"))
    wait_loaded(qtbot, page.api_keys)
    _click(qtbot, window.findChild(QPushButton, "NewApiKey"))
    form = page.dialog
    assert isinstance(form, ApiKeyDialog)
    form.name.setText("Web shop")
    _click(qtbot, form.ok_button)
    assert "at least one" in form.error.text()
    form.scopes["catalog:read"].setChecked(True)
    accept_dialog(qtbot, form)
    shown = page.dialog
    assert isinstance(shown, SecretDialog)
    secret = shown.secret.text()
    assert secret.startswith("spk_") and "not shown again" in shown.warning.text()
    _click(qtbot, shown.copy_button)
    assert QGuiApplication.clipboard().text() == secret
    shown.accept()
    assert shown.secret.text() == ""  # not kept on screen once closed
    reload_until(qtbot, page.api_keys, lambda rows: any(r.name == "Web shop" for r in rows))
    assert all(secret not in str(r) for r in page.api_keys.model.rows)  # listed without it

    store = ApiClient(live_server.url)
    try:
        products = store.request("GET", "/products", headers={"X-API-Key": secret}).json()
        assert products["total"] == 3
        with pytest.raises(ApiError) as forbidden:  # the key may read, not write
            store.request("POST", "/customers", json={"name": "X"}, headers={"X-API-Key": secret})
        assert forbidden.value.status == 403

        select_row(page.api_keys, lambda r: r.name == "Web shop")
        _click(qtbot, window.findChild(QPushButton, "RevokeApiKey"))
        confirm = page.dialog
        assert isinstance(confirm, ConfirmDialog)
        confirm.reject()  # cancelled: the key still works
        assert store.request("GET", "/products", headers={"X-API-Key": secret}).status_code == 200
        _click(qtbot, window.findChild(QPushButton, "RevokeApiKey"))
        accept_dialog(qtbot, page.dialog)
        assert page.message.text() == "Revoked API key Web shop."

        def refused() -> bool:
            try:
                store.request("GET", "/products", headers={"X-API-Key": secret})
            except ApiError as exc:
                return exc.status == 401
            return False

        eventually(qtbot, refused)
    finally:
        store.close()


def test_manager_sees_the_lists_but_none_of_the_admin_forms(
    open_window, qtbot: QtBot, world: World
) -> None:
    window = open_window("manager", start="admin")
    page = window.pages["admin"]
    labels = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert labels == ["Users", "Branches"]
    wait_loaded(qtbot, page.users)
    assert page.users.total >= 6
    for name in ADMIN_BUTTONS:
        found = window.findChild(QPushButton, name)
        assert found is None or not found.isVisibleTo(window), f"{name} shown to a manager"
    # The server refuses the manager anyway: the buttons are hidden, not the only guard.
    refused = world.api("manager").post(
        "users", json={"username": "sneaky", "password": NEW_PASSWORD, "role": "admin"}
    )
    assert refused.status_code == 403
