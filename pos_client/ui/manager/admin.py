"""Admin screen: users, branches, devices, API keys and settings, with their forms."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.codes import BranchKind
from common.roles import Permission, Role
from common.schemas.auth import UserRead
from common.schemas.org import BranchRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, as_label, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    FormDialog,
    ServerTable,
    button,
    choice,
    heading,
)

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Admin — everything, including users and settings",
    Role.MANAGER: "Store manager",
    Role.PURCHASE_ADMIN: "Purchasing — suppliers and purchase orders",
    Role.SALES_ADMIN: "Sales — customers, credit and orders",
    Role.CASHIER: "Cashier — sells at the till",
    Role.VIEWER: "Viewer — can look, cannot change",
}

# The scopes the server accepts (sync_server/apikeys/scopes.py; a test keeps the two in step).
SCOPE_LABELS: dict[str, str] = {
    "catalog:read": "Read the catalog (products and prices)",
    "orders:read": "Read orders",
    "orders:write": "Place and update orders",
}

SETTING_HELP: dict[str, str] = {
    "currency": 'Currency code of prices and receipts, e.g. "INR".',
    "receipt_footer": "Line printed at the bottom of every receipt.",
    "po_admin_approval_threshold": "Purchase orders above this total need an admin to approve.",
    "stock_in_on_approval": "true: approving a purchase order books its goods in at once.",
    "allow_over_receipt": "true: receiving more than was ordered is allowed.",
    "order_reservation_minutes": "How long an unpaid online order holds its stock.",
    "till_max_discount_percent": "Largest discount a cashier may give without a manager.",
    "till_offline_credit_allowed": "true: tills may sell on credit while offline.",
    "low_stock_sms_to": "Phone numbers (comma separated) told of low stock by SMS.",
}


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


class BranchChecklist(QListWidget):
    """Tick the branches something is limited to; none ticked means every branch."""

    def __init__(self, *, branches: list[BranchRead], checked: list[int], name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        for branch in branches:
            item = QListWidgetItem(f"{branch.name} ({branch.code})")
            item.setData(Qt.ItemDataRole.UserRole, branch.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if branch.id in checked else Qt.CheckState.Unchecked
            )
            self.addItem(item)
        self.setMaximumHeight(min(150, 26 * max(2, len(branches)) + 6))

    def checked(self) -> list[int]:
        """Return the ticked branch ids."""
        return [
            self.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, branch_ids: list[int]) -> None:
        """Tick exactly these branches."""
        for i in range(self.count()):
            item = self.item(i)
            ticked = item.data(Qt.ItemDataRole.UserRole) in branch_ids
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)


def _password(widget_name: str, placeholder: str) -> QLineEdit:
    field = QLineEdit()
    field.setObjectName(widget_name)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(placeholder)
    return field


class UserDialog(FormDialog):
    """Create a user, or change one (details, role, branches, status, password, PIN)."""

    def __init__(
        self, *, ctx: ManagerContext, user: UserRead | None = None, parent: QWidget | None = None
    ) -> None:
        title = "New user" if user is None else f"Edit {user.username}"
        super().__init__(ctx=ctx, title=title, ok_text="Save", parent=parent)
        self.user = user
        self.username = QLineEdit(user.username if user else "")
        self.username.setObjectName("Username")
        self.username.setEnabled(user is None)  # a username names its owner in the audit log
        self.username.setPlaceholderText("letters, digits and . _ @ -")
        self.full_name = QLineEdit(user.full_name if user else "")
        self.full_name.setObjectName("FullName")
        self.email = QLineEdit((user.email or "") if user else "")
        self.email.setPlaceholderText("optional")
        self.role = choice(
            [(label, role.value) for role, label in ROLE_LABELS.items()], name="Role"
        )
        self.role.setCurrentIndex(
            self.role.findData(_enum_value(user.role) if user else Role.CASHIER.value)
        )
        self.branches = BranchChecklist(
            branches=ctx.branches, checked=list(user.branch_ids) if user else [], name="Branches"
        )
        self.active = QCheckBox("Active — may sign in")
        self.active.setObjectName("Active")
        self.active.setChecked(user.active if user else True)
        keep = "" if user is None else "leave empty to keep the current one"
        self.password = _password("Password", keep or "at least 8 characters")
        self.confirm = _password("ConfirmPassword", "type it again")
        self.pin = _password("Pin", keep or "optional: 4–8 digits for the till")
        for label, widget in (
            ("Username", self.username),
            ("Full name", self.full_name),
            ("Email", self.email),
            ("Role", self.role),
        ):
            self.form.addRow(label, widget)
        self.form.addRow("Branches", self.branches)
        hint = QLabel("Tick none to allow every branch.")
        hint.setObjectName("KeyHint")
        self.form.addRow("", hint)
        if user is not None:
            self.form.addRow("Status", self.active)
        self.form.addRow("New password" if user else "Password", self.password)
        self.form.addRow("Confirm password", self.confirm)
        self.form.addRow("New till PIN" if user else "Till PIN", self.pin)

    def build_call(self) -> Callable[[ApiClient], Any]:
        password, pin = self.password.text(), self.pin.text().strip()
        if password != self.confirm.text():
            raise ValueError("The two passwords differ; type the same password twice.")
        if pin and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise ValueError("A till PIN is 4 to 8 digits.")
        values: dict[str, Any] = {
            "full_name": self.full_name.text().strip(),
            "email": self.email.text().strip() or None,
            "role": self.role.currentData(),
            "branch_ids": self.branches.checked(),
        }
        if self.user is None:
            if not password:
                raise ValueError("Choose a password for the new user.")
            body = {"username": self.username.text().strip(), **values, "password": password}
            if pin:
                body["pin"] = pin
            return lambda api: api.post("/users", body)
        user = self.user
        current = {
            "full_name": user.full_name,
            "email": user.email,
            "role": _enum_value(user.role),
            "branch_ids": sorted(user.branch_ids),
        }
        # Send only what changed: the server refuses even a no-op role change to oneself.
        changes = {k: v for k, v in values.items() if v != current[k]}
        if sorted(values["branch_ids"]) == current["branch_ids"]:
            changes.pop("branch_ids", None)
        if self.active.isChecked() != user.active:
            changes["active"] = self.active.isChecked()
        if password:
            changes["password"] = password
        if pin:
            changes["pin"] = pin
        if not changes:
            raise ValueError("Nothing changed.")
        return lambda api: api.patch(f"/users/{user.id}", changes)


def _optional_decimal(text: str, *, what: str) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}.") from exc


class BranchDialog(FormDialog):
    """Create a store or warehouse, or change one (closing it is unticking Open)."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        branch: BranchRead | None = None,
        parent: QWidget | None = None,
    ) -> None:
        title = "New branch" if branch is None else f"Edit {branch.name}"
        super().__init__(ctx=ctx, title=title, ok_text="Save", parent=parent)
        self.branch = branch
        self.code = QLineEdit(branch.code if branch else "")
        self.code.setObjectName("BranchCode")
        self.code.setPlaceholderText("short code on receipts, e.g. MAIN or WH-2")
        self.code.setEnabled(branch is None)  # receipts and documents already carry the code
        self.name = QLineEdit(branch.name if branch else "")
        self.name.setObjectName("BranchName")
        self.kind = choice([(as_label(k.value), k.value) for k in BranchKind], name="BranchKind")
        if branch is not None:
            self.kind.setCurrentIndex(self.kind.findData(_enum_value(branch.kind)))
        self.address = QLineEdit(branch.address if branch else "")
        self.city = QLineEdit(branch.city if branch else "")
        self.city.setObjectName("BranchCity")
        self.phone = QLineEdit(branch.phone if branch else "")

        def text(value: Any) -> str:
            return "" if value is None else str(value)

        self.capacity = QLineEdit(text(branch.capacity) if branch else "")
        self.capacity.setPlaceholderText("optional, e.g. storage places")
        self.latitude = QLineEdit(text(branch.latitude) if branch else "")
        self.longitude = QLineEdit(text(branch.longitude) if branch else "")
        self.latitude.setPlaceholderText("optional")
        self.longitude.setPlaceholderText("optional")
        self.active = QCheckBox("Open — sells, stocks and shows in lists")
        self.active.setObjectName("BranchActive")
        self.active.setChecked(branch.active if branch else True)
        for label, widget in (
            ("Code", self.code),
            ("Name", self.name),
            ("Kind", self.kind),
            ("Address", self.address),
            ("City", self.city),
            ("Phone", self.phone),
            ("Capacity", self.capacity),
            ("Latitude", self.latitude),
            ("Longitude", self.longitude),
        ):
            self.form.addRow(label, widget)
        if branch is not None:
            self.form.addRow("Status", self.active)

    def build_call(self) -> Callable[[ApiClient], Any]:
        capacity_text = self.capacity.text().strip()
        if capacity_text and not capacity_text.isdigit():
            raise ValueError("Capacity is a whole number.")
        body: dict[str, Any] = {
            "name": self.name.text().strip(),
            "kind": self.kind.currentData(),
            "address": self.address.text().strip(),
            "city": self.city.text().strip(),
            "phone": self.phone.text().strip(),
            "capacity": int(capacity_text) if capacity_text else None,
            "latitude": _optional_decimal(self.latitude.text(), what="Latitude"),
            "longitude": _optional_decimal(self.longitude.text(), what="Longitude"),
        }
        if self.branch is None:
            body["code"] = self.code.text().strip().upper()
            return lambda api: api.post("/branches", body)
        body["active"] = self.active.isChecked()
        branch_id = self.branch.id
        return lambda api: api.patch(f"/branches/{branch_id}", body)


class ApiKeyDialog(FormDialog):
    """Create an API key for an online store: its name, scopes and branches."""

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx=ctx, title="New API key", ok_text="Create key", parent=parent)
        self.name = QLineEdit()
        self.name.setObjectName("ApiKeyName")
        self.name.setPlaceholderText("who uses it, e.g. Web shop")
        self.form.addRow("Name", self.name)
        self.scopes: dict[str, QCheckBox] = {}
        for scope, label in SCOPE_LABELS.items():
            box = QCheckBox(label)
            box.setObjectName(f"Scope:{scope}")
            self.scopes[scope] = box
            self.form.addRow("May" if len(self.scopes) == 1 else "", box)
        self.branches = BranchChecklist(branches=ctx.branches, checked=[], name="ApiKeyBranches")
        self.form.addRow("Branches", self.branches)
        hint = QLabel("Tick none to allow every branch.")
        hint.setObjectName("KeyHint")
        self.form.addRow("", hint)

    def build_call(self) -> Callable[[ApiClient], Any]:
        scopes = [scope for scope, box in self.scopes.items() if box.isChecked()]
        if not scopes:
            raise ValueError("Tick at least one thing the key may do.")
        body = {
            "name": self.name.text().strip(),
            "scopes": scopes,
            "branch_ids": self.branches.checked(),
        }
        return lambda api: api.post("/api-keys", body)


class SecretDialog(QDialog):
    """Show a new API key's secret once, with a Copy button."""

    def __init__(self, *, name: str, secret: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New API key")
        self.setMinimumWidth(560)
        title = QLabel(f"API key for {name}")
        title.setObjectName("DialogTitle")
        self.warning = QLabel(
            "Copy this key now and paste it into the online store's settings. "
            "It is not shown again: if it is lost, revoke it and create a new one."
        )
        self.warning.setObjectName("ErrorText")
        self.warning.setWordWrap(True)
        self.secret = QLineEdit(secret)
        self.secret.setObjectName("ApiKeySecret")
        self.secret.setReadOnly(True)
        self.copy_button = button("Copy", role="primary", name="CopySecret")
        self.copy_button.clicked.connect(self.copy)
        self.copied = QLabel("")
        self.copied.setObjectName("KeyHint")
        row = QHBoxLayout()
        row.addWidget(self.secret, 1)
        row.addWidget(self.copy_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (title, self.warning):
            layout.addWidget(widget)
        layout.addLayout(row)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)

    def copy(self) -> None:
        """Put the key on the clipboard."""
        QGuiApplication.clipboard().setText(self.secret.text())
        self.copied.setText("Copied to the clipboard.")


class ConfirmDialog(FormDialog):
    """Ask before an action that cannot be undone, then send it."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        title: str,
        text: str,
        ok_text: str,
        call: Callable[[ApiClient], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx=ctx, title=title, ok_text=ok_text, parent=parent)
        self.ok_button.setProperty("role", "danger")
        self._call = call
        message = QLabel(text)
        message.setWordWrap(True)
        self.form.addRow(message)

    def build_call(self) -> Callable[[ApiClient], Any]:
        return self._call


class RenameDialog(FormDialog):
    """Give a till a new name."""

    def __init__(
        self, *, ctx: ManagerContext, device: dict[str, Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title=f"Rename {device['name']}", ok_text="Rename", parent=parent)
        self.device_id = device["id"]
        self.name = QLineEdit(device["name"])
        self.name.setObjectName("DeviceName")
        self.form.addRow("Name", self.name)

    def build_call(self) -> Callable[[ApiClient], Any]:
        name, device_id = self.name.text().strip(), self.device_id
        if not name:
            raise ValueError("Type the till's new name.")
        return lambda api: api.patch(f"/devices/{device_id}", {"name": name})


class AdminPage(QWidget):
    """Who may sign in, where, with which devices and keys; the tenant's settings."""

    title = "Admin"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dialog: QDialog | None = None
        self.tables: list[ServerTable] = []
        self._tab_tables: dict[QWidget, ServerTable] = {}
        self.tabs = QTabWidget()

        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.users = ServerTable(
            ctx=ctx,
            columns=[
                Column("username", "Username"),
                Column("full_name", "Name"),
                Column("role", "Role", lambda v: as_label(_enum_value(v))),
                Column(
                    "branch_ids",
                    "Branches",
                    lambda v: ", ".join(ctx.branch_name(b) for b in v or []) or "All",
                ),
                Column("active", "Status", lambda v: "Active" if v else "Disabled"),
                Column("last_login_at", "Last sign-in", as_when),
            ],
            fetch=lambda api, offset, limit: api.users(offset=offset, limit=limit),
            empty_text="No users.",
        )
        may_users = ctx.can(Permission.USERS_WRITE)
        users_bar = ActionBar()
        self.new_user_button = users_bar.add(
            button("New user…", role="primary", name="NewUser"), allowed=may_users
        )
        self.edit_user_button = users_bar.add(button("Edit…", name="EditUser"), allowed=may_users)
        self.new_user_button.clicked.connect(self.new_user)
        self.edit_user_button.clicked.connect(self.edit_user)
        if may_users:
            self.users.view.doubleClicked.connect(lambda _: self.edit_user())
        self._add_tab("Users", Permission.USERS_READ, self.users, users_bar)

        self.branches = ServerTable(
            ctx=ctx,
            columns=[
                Column("code", "Code"),
                Column("name", "Branch"),
                Column("kind", "Kind", lambda v: as_label(_enum_value(v))),
                Column("city", "City"),
                Column("phone", "Phone"),
                Column("active", "Status", lambda v: "Active" if v else "Closed"),
            ],
            fetch=lambda api, offset, limit: api.branches(offset=offset, limit=limit),
            empty_text="No branches.",
        )
        may_branches = ctx.can(Permission.BRANCHES_WRITE)
        branches_bar = ActionBar()
        self.new_branch_button = branches_bar.add(
            button("New branch…", role="primary", name="NewBranch"), allowed=may_branches
        )
        self.edit_branch_button = branches_bar.add(
            button("Edit…", name="EditBranch"), allowed=may_branches
        )
        self.new_branch_button.clicked.connect(self.new_branch)
        self.edit_branch_button.clicked.connect(self.edit_branch)
        if may_branches:
            self.branches.view.doubleClicked.connect(lambda _: self.edit_branch())
        self._add_tab("Branches", Permission.BRANCHES_READ, self.branches, branches_bar)

        self.devices = ServerTable(
            ctx=ctx,
            columns=[
                Column("name", "Till"),
                Column("branch_id", "Branch", ctx.branch_name),
                Column("receipt_prefix", "Receipt prefix"),
                Column("revoked", "Status", lambda v: "Revoked" if v else "Active"),
                Column("last_seen_at", "Last seen", as_when),
            ],
            fetch=lambda api, offset, limit: api.devices(offset=offset, limit=limit),
            empty_text="No tills enrolled yet. Issue an enrolment code to add one.",
        )
        devices_bar = ActionBar()
        self.enrol_branch = choice([(b.name, b.id) for b in ctx.branches], name="EnrolBranch")
        enrol = button("Issue enrolment code", role="primary", name="IssueCode")
        rename = button("Rename…", name="RenameDevice")
        revoke = button("Revoke till", role="danger", name="RevokeDevice")
        enrol.clicked.connect(self.issue_code)
        rename.clicked.connect(self.rename_device)
        revoke.clicked.connect(self.revoke_device)
        for widget in (self.enrol_branch, enrol, rename, revoke):
            devices_bar.add(widget)
        self._add_tab("Devices", Permission.DEVICES_ADMIN, self.devices, devices_bar)

        self.api_keys = ServerTable(
            ctx=ctx,
            columns=[
                Column("name", "Name"),
                Column("prefix", "Prefix"),
                Column("scopes", "Scopes", lambda v: ", ".join(v or [])),
                Column(
                    "branch_ids",
                    "Branches",
                    lambda v: ", ".join(ctx.branch_name(b) for b in v or []) or "All",
                ),
                Column("created_at", "Created", as_when),
                Column("revoked_at", "Revoked", as_when),
            ],
            fetch=lambda api, offset, limit: api.api_keys(offset=offset, limit=limit),
            empty_text="No API keys. The online store needs one to place orders.",
        )
        keys_bar = ActionBar()
        new_key = keys_bar.add(button("New API key…", role="primary", name="NewApiKey"))
        revoke_key = keys_bar.add(button("Revoke…", role="danger", name="RevokeApiKey"))
        new_key.clicked.connect(self.new_api_key)
        revoke_key.clicked.connect(self.revoke_api_key)
        self._add_tab("API keys", Permission.API_KEYS_ADMIN, self.api_keys, keys_bar)

        self.settings = QTableWidget(0, 3)
        self.settings.setHorizontalHeaderLabels(
            ["Setting", "Value (double-click to change)", "What it does"]
        )
        self.settings.horizontalHeader().setStretchLastSection(True)
        self.settings.verticalHeader().setVisible(False)
        self.settings.setWordWrap(True)
        self.settings_tab = QWidget()
        if ctx.can(Permission.SETTINGS_ADMIN):
            save = button("Save setting", role="primary", name="SaveSetting")
            save.clicked.connect(self.save_setting)
            settings_layout = QVBoxLayout(self.settings_tab)
            hint = QLabel(
                "Values are JSON: true/false, numbers, or text in quotes. Plain text is saved "
                "as text."
            )
            hint.setObjectName("KeyHint")
            settings_layout.addWidget(hint)
            settings_layout.addWidget(self.settings, 1)
            settings_layout.addWidget(save, 0, Qt.AlignmentFlag.AlignRight)
            self.tabs.addTab(self.settings_tab, "Settings")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

    def _add_tab(
        self, label: str, permission: Permission, table: ServerTable, bar: ActionBar
    ) -> None:
        if not self.ctx.can(permission):
            return
        tab = QWidget()
        tab_layout = QVBoxLayout(tab)
        if bar.count():
            bar.addStretch(1)
            tab_layout.addLayout(bar)
        tab_layout.addWidget(table, 1)
        self.tables.append(table)
        self._tab_tables[tab] = table
        self.tabs.addTab(tab, label)

    def refresh(self) -> None:
        """Load the visible tab."""
        self._tab_changed(self.tabs.currentIndex())

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget in self._tab_tables:
            self._tab_tables[widget].reload(keep_page=True)
        elif widget is self.settings_tab:
            NetOp(lambda api: api.settings(), pool=self.ctx.pool, owner=self).success(
                self._settings
            ).run()

    def _open(self, dialog: QDialog, done: Callable[[Any], None]) -> None:
        dialog.accepted.connect(lambda: done(getattr(dialog, "result_value", None)))
        self.dialog = dialog
        dialog.open()

    def _selected(self, table: ServerTable, what: str) -> Any | None:
        row = table.current()
        if row is None:
            self.message.setText(f"Select {what} first.")
        return row

    # --- users ------------------------------------------------------------------------
    def new_user(self) -> None:
        """Open the form for a new user."""
        self._open(UserDialog(ctx=self.ctx, parent=self), self._user_saved)

    def edit_user(self) -> None:
        """Open the selected user's form."""
        if (user := self._selected(self.users, "a user")) is None:
            return
        self._open(UserDialog(ctx=self.ctx, user=user, parent=self), self._user_saved)

    def _user_saved(self, user: dict[str, Any]) -> None:
        state = "" if user["active"] else " (disabled)"
        self.message.setText(f"Saved user {user['username']}{state}.")
        self.users.reload(keep_page=True)

    # --- branches ---------------------------------------------------------------------
    def new_branch(self) -> None:
        """Open the form for a new branch."""
        self._open(BranchDialog(ctx=self.ctx, parent=self), self._branch_saved)

    def edit_branch(self) -> None:
        """Open the selected branch's form."""
        if (branch := self._selected(self.branches, "a branch")) is None:
            return
        self._open(BranchDialog(ctx=self.ctx, branch=branch, parent=self), self._branch_saved)

    def _branch_saved(self, data: dict[str, Any]) -> None:
        branch = BranchRead.model_validate(data)
        # Every screen names and offers branches from the context: keep it current.
        known = [b for b in self.ctx.branches if b.id != branch.id]
        self.ctx.branches[:] = sorted([*known, branch], key=lambda b: b.name)
        if self.enrol_branch.findData(branch.id) < 0:
            self.enrol_branch.addItem(branch.name, branch.id)
        status = "" if branch.active else " (closed)"
        self.message.setText(f"Saved branch {branch.name}{status}.")
        self.branches.reload(keep_page=True)

    # --- API keys ---------------------------------------------------------------------
    def new_api_key(self) -> None:
        """Open the form for a new API key; its secret is shown once afterwards."""
        self._open(ApiKeyDialog(ctx=self.ctx, parent=self), self._key_created)

    def _key_created(self, key: dict[str, Any]) -> None:
        self.message.setText(f"Created API key {key['name']} ({key['prefix']}…).")
        self.api_keys.reload(keep_page=True)
        self.dialog = SecretDialog(name=key["name"], secret=key["key"], parent=self)
        self.dialog.open()

    def revoke_api_key(self) -> None:
        """Ask, then revoke the selected key: the store's next request is refused."""
        if (key := self._selected(self.api_keys, "an API key")) is None:
            return
        if key.get("revoked_at"):
            self.message.setText(f"{key['name']} is already revoked.")
            return
        key_id = key["id"]
        dialog = ConfirmDialog(
            ctx=self.ctx,
            title=f"Revoke {key['name']}?",
            text=(
                f"The key {key['prefix']}… stops working at once: the store using it can no "
                "longer read products or place orders until it gets a new key. This cannot be "
                "undone."
            ),
            ok_text="Revoke key",
            call=lambda api: api.post(f"/api-keys/{key_id}/revoke", {}),
            parent=self,
        )
        self._open(
            dialog,
            lambda k: (
                self.message.setText(f"Revoked API key {k['name']}."),
                self.api_keys.reload(keep_page=True),
            ),
        )

    # --- settings ---------------------------------------------------------------------
    def _settings(self, values: dict[str, Any]) -> None:
        items = values.get("items", values) if isinstance(values, dict) else {}
        self.settings.setRowCount(len(items))
        for row, (key, value) in enumerate(sorted(items.items())):
            name = QTableWidgetItem(key)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.settings.setItem(row, 0, name)
            self.settings.setItem(row, 1, QTableWidgetItem(json.dumps(value)))
            help_item = QTableWidgetItem(SETTING_HELP.get(key, ""))
            help_item.setFlags(help_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.settings.setItem(row, 2, help_item)
        self.settings.resizeColumnToContents(0)
        self.settings.resizeColumnToContents(1)

    def save_setting(self) -> None:
        """Send the selected setting's new value (JSON, or plain text)."""
        row = self.settings.currentRow()
        if row < 0:
            self.message.setText("Select a setting first.")
            return
        key, text = self.settings.item(row, 0).text(), self.settings.item(row, 1).text()
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        NetOp(
            lambda api: api.put(f"/settings/{key}", {"value": value}),
            pool=self.ctx.pool,
            owner=self,
        ).success(lambda _: self.message.setText(f"Saved {key}.")).failure(
            lambda e: self.message.setText(describe(e))
        ).run()

    # --- devices ----------------------------------------------------------------------
    def issue_code(self) -> None:
        """Issue a one-time code that enrols a new till at the chosen branch."""
        branch_id = self.enrol_branch.currentData()
        NetOp(
            lambda api: api.post("/devices/enrolment-codes", {"branch_id": branch_id}),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda c: self.message.setText(
                f"Enrolment code for {self.ctx.branch_name(c['branch_id'])}: {c['code']} "
                f"(valid until {as_when(c['expires_at'])}). Type it into the new till."
            )
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def rename_device(self) -> None:
        """Open the rename form for the selected till."""
        if (device := self._selected(self.devices, "a till")) is None:
            return
        self._open(
            RenameDialog(ctx=self.ctx, device=device, parent=self),
            lambda d: (
                self.message.setText(f"Renamed the till to {d['name']}."),
                self.devices.reload(keep_page=True),
            ),
        )

    def revoke_device(self) -> None:
        """Revoke the selected till: its sync stops at once."""
        if (device := self._selected(self.devices, "a till")) is None:
            return
        NetOp(
            lambda api: api.post(f"/devices/{device['id']}/revoke", {}),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda d: (
                self.message.setText(f"Revoked {d['name']}."),
                self.devices.reload(keep_page=True),
            )
        ).failure(lambda e: self.message.setText(describe(e))).run()
