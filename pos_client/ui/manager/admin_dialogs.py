"""Forms of the Admin screen: users, branches, API keys (with the once-shown secret), tills."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError
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
    QVBoxLayout,
    QWidget,
)

from common.codes import BranchKind
from common.roles import API_KEY_SCOPES, Role
from common.schemas.apikeys import ApiKeyCreate
from common.schemas.auth import UserCreate, UserRead, UserUpdate
from common.schemas.base import Schema
from common.schemas.org import BranchCreate, BranchRead, BranchUpdate
from common.sync.protocol import DeviceRead
from common.tax import gstin_problem
from pos_client.api.client import ApiClient
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.customer_dialogs import schema_errors
from pos_client.ui.manager.table import as_label
from pos_client.ui.manager.widgets import FormDialog, button, choice

ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Admin — everything, including users and settings",
    Role.MANAGER: "Store manager",
    Role.PURCHASE_ADMIN: "Purchasing — suppliers and purchase orders",
    Role.SALES_ADMIN: "Sales — customers, credit and orders",
    Role.CASHIER: "Cashier — sells at the till",
    Role.VIEWER: "Viewer — can look, cannot change",
}

# Words for the scopes of common.roles.API_KEY_SCOPES (a test checks each has its words).
SCOPE_LABELS: dict[str, str] = {
    "catalog:read": "Read the catalog (products and prices)",
    "orders:read": "Read orders",
    "orders:write": "Place and update orders",
}

S = TypeVar("S", bound=Schema)


def enum_value(value: Any) -> Any:
    """Return an enum's wire value (rows may hold the enum or its string)."""
    return getattr(value, "value", value)


class BranchChecklist(QListWidget):
    """Tick the branches something is limited to; none ticked means every branch."""

    def __init__(self, *, branches: list[BranchRead], checked: list[int], name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        listed = {b.id for b in branches}
        # Branches the list does not show (beyond the context's page) stay as they were.
        self.unlisted = [b for b in checked if b not in listed]
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
        return self.unlisted + [
            self.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, branch_ids: list[int]) -> None:
        """Tick exactly these branches."""
        self.unlisted = []
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
            self.role.findData(enum_value(user.role) if user else Role.CASHIER.value)
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
            new_user = _checked(UserCreate, body)
            return lambda api: api.create_user(new_user)
        user = self.user
        current = {
            "full_name": user.full_name,
            "email": user.email,
            "role": enum_value(user.role),
            "branch_ids": sorted(user.branch_ids),
        }
        # Send only what changed, so fields left alone are not overwritten with this stale copy.
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
        update = _checked(UserUpdate, changes)
        return lambda api: api.update_user(user.id, update)


def _checked(schema: type[S], values: dict[str, Any]) -> S:
    """Build a request body, turning what the schema refuses into the form's error line."""
    try:
        return schema(**values)
    except ValidationError as exc:
        raise ValueError(schema_errors(exc)) from exc


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
            self.kind.setCurrentIndex(self.kind.findData(enum_value(branch.kind)))
        self.address = QLineEdit(branch.address if branch else "")
        self.city = QLineEdit(branch.city if branch else "")
        self.city.setObjectName("BranchCity")
        self.phone = QLineEdit(branch.phone if branch else "")
        self.email = QLineEdit(branch.email if branch else "")
        self.gstin = QLineEdit(branch.gstin if branch else "")
        self.gstin.setObjectName("BranchGstin")
        self.gstin.setPlaceholderText("15 characters, e.g. 27AAPFU0939F1ZV; printed on receipts")
        self.state_code = QLineEdit(branch.state_code if branch else "")
        self.state_code.setObjectName("BranchStateCode")
        self.state_code.setPlaceholderText("GST state code, e.g. 27; taken from the GSTIN if empty")

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
            ("E-mail", self.email),
            ("GSTIN", self.gstin),
            ("State code", self.state_code),
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
        gstin = self.gstin.text().strip().upper()
        if gstin and (problem := gstin_problem(gstin)):
            raise ValueError(problem)
        body: dict[str, Any] = {
            "name": self.name.text().strip(),
            "kind": self.kind.currentData(),
            "address": self.address.text().strip(),
            "city": self.city.text().strip(),
            "phone": self.phone.text().strip(),
            "email": self.email.text().strip(),
            "gstin": gstin,
            "state_code": self.state_code.text().strip(),
            "capacity": int(capacity_text) if capacity_text else None,
            "latitude": _optional_decimal(self.latitude.text(), what="Latitude"),
            "longitude": _optional_decimal(self.longitude.text(), what="Longitude"),
        }
        if self.branch is None:
            body["code"] = self.code.text().strip().upper()
            new_branch = _checked(BranchCreate, body)
            return lambda api: api.create_branch(new_branch)
        body["active"] = self.active.isChecked()
        branch_id, update = self.branch.id, _checked(BranchUpdate, body)
        return lambda api: api.update_branch(branch_id, update)


class ApiKeyDialog(FormDialog):
    """Create an API key for an online store: its name, scopes and branches."""

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx=ctx, title="New API key", ok_text="Create key", parent=parent)
        self.name = QLineEdit()
        self.name.setObjectName("ApiKeyName")
        self.name.setPlaceholderText("who uses it, e.g. Web shop")
        self.form.addRow("Name", self.name)
        self.scopes: dict[str, QCheckBox] = {}
        for scope in sorted(API_KEY_SCOPES):
            box = QCheckBox(SCOPE_LABELS.get(scope, scope))
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
        name, branch_ids = self.name.text().strip(), self.branches.checked()
        key = _checked(ApiKeyCreate, {"name": name, "scopes": scopes, "branch_ids": branch_ids})
        return lambda api: api.create_api_key(key)


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
        # Once closed the secret is gone from the screen for good, as the warning says.
        self.finished.connect(lambda _: self.secret.clear())
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
        self, *, ctx: ManagerContext, device: DeviceRead, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx=ctx, title=f"Rename {device.name}", ok_text="Rename", parent=parent)
        self.device_id = device.id
        self.name = QLineEdit(device.name)
        self.name.setObjectName("DeviceName")
        self.form.addRow("Name", self.name)

    def build_call(self) -> Callable[[ApiClient], Any]:
        name, device_id = self.name.text().strip(), self.device_id
        if not name:
            raise ValueError("Type the till's new name.")
        return lambda api: api.rename_device(device_id, name=name)
