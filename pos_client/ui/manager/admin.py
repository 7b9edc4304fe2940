"""Admin screen: users, branches, devices, API keys and settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.apikeys import ApiKeyCreated, ApiKeyRead
from common.schemas.auth import UserRead
from common.schemas.org import BranchRead
from common.sync.protocol import DeviceRead
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.admin_dialogs import (
    ApiKeyDialog,
    BranchDialog,
    ConfirmDialog,
    RenameDialog,
    SecretDialog,
    UserDialog,
    enum_value,
)
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.settings_form import SettingsForm
from pos_client.ui.manager.table import Column, as_label, as_when
from pos_client.ui.manager.widgets import (
    ActionBar,
    ServerTable,
    button,
    choice,
    heading,
)


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
                Column("role", "Role", lambda v: as_label(enum_value(v))),
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
                Column("kind", "Kind", lambda v: as_label(enum_value(v))),
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

        self.settings = SettingsForm(ctx=ctx)
        self.settings_tab = self.settings
        if ctx.can(Permission.SETTINGS_ADMIN):
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
            self.settings.load()

    def _reported(self, table: ServerTable, say: Callable[[Any], str]) -> Callable[[Any], None]:
        """Return a success handler: say what was done, then reload the table it changed."""

        def done(result: Any) -> None:
            self.message.setText(say(result))
            table.reload(keep_page=True)

        return done

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

    def _user_saved(self, user: UserRead) -> None:
        state = "" if user.active else " (disabled)"
        self.message.setText(f"Saved user {user.username}{state}.")
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

    def _branch_saved(self, branch: BranchRead) -> None:
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

    def _key_created(self, key: ApiKeyCreated) -> None:
        self.message.setText(f"Created API key {key.name} ({key.prefix}…).")
        self.api_keys.reload(keep_page=True)
        self.dialog = SecretDialog(name=key.name, secret=key.key, parent=self)
        self.dialog.open()

    def revoke_api_key(self) -> None:
        """Ask, then revoke the selected key: the store's next request is refused."""
        key: ApiKeyRead | None = self._selected(self.api_keys, "an API key")
        if key is None:
            return
        if key.revoked_at:
            self.message.setText(f"{key.name} is already revoked.")
            return
        key_id = key.id
        dialog = ConfirmDialog(
            ctx=self.ctx,
            title=f"Revoke {key.name}?",
            text=(
                f"The key {key.prefix}… stops working at once: the store using it can no "
                "longer read products or place orders until it gets a new key. This cannot be "
                "undone."
            ),
            ok_text="Revoke key",
            call=lambda api: api.revoke_api_key(key_id),
            parent=self,
        )
        self._open(dialog, self._reported(self.api_keys, lambda k: f"Revoked API key {k.name}."))

    # --- devices ----------------------------------------------------------------------
    def issue_code(self) -> None:
        """Issue a one-time code that enrols a new till at the chosen branch."""
        branch_id = self.enrol_branch.currentData()
        NetOp(
            lambda api: api.enrolment_code(branch_id=branch_id),
            pool=self.ctx.pool,
            owner=self,
        ).success(
            lambda c: self.message.setText(
                f"Enrolment code for {self.ctx.branch_name(c.branch_id)}: {c.code} "
                f"(valid until {as_when(c.expires_at)}). Type it into the new till."
            )
        ).failure(lambda e: self.message.setText(describe(e))).run()

    def rename_device(self) -> None:
        """Open the rename form for the selected till."""
        device: DeviceRead | None = self._selected(self.devices, "a till")
        if device is None:
            return
        self._open(
            RenameDialog(ctx=self.ctx, device=device, parent=self),
            self._reported(self.devices, lambda d: f"Renamed the till to {d.name}."),
        )

    def revoke_device(self) -> None:
        """Revoke the selected till: its sync stops at once."""
        device: DeviceRead | None = self._selected(self.devices, "a till")
        if device is None:
            return
        device_id = device.id
        NetOp(
            lambda api: api.revoke_device(device_id),
            pool=self.ctx.pool,
            owner=self,
        ).success(self._reported(self.devices, lambda d: f"Revoked {d.name}.")).failure(
            lambda e: self.message.setText(describe(e))
        ).run()
