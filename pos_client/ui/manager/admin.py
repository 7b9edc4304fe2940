"""Admin screen: users, branches, devices, API keys and settings."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, as_label, as_when
from pos_client.ui.manager.widgets import ServerTable, button, choice, heading


class AdminPage(QWidget):
    """Who may sign in, where, with which devices and keys; the tenant's settings."""

    title = "Admin"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tables: list[ServerTable] = []
        self.tabs = QTabWidget()

        def add(label: str, permission: Permission, table: ServerTable) -> None:
            if ctx.can(permission):
                self.tables.append(table)
                self.tabs.addTab(table, label)

        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        add(
            "Users",
            Permission.USERS_READ,
            ServerTable(
                ctx=ctx,
                columns=[
                    Column("username", "Username"),
                    Column("full_name", "Name"),
                    Column("role", "Role", lambda v: as_label(getattr(v, "value", v))),
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
            ),
        )
        add(
            "Branches",
            Permission.BRANCHES_READ,
            ServerTable(
                ctx=ctx,
                columns=[
                    Column("code", "Code"),
                    Column("name", "Branch"),
                    Column("kind", "Kind", lambda v: as_label(getattr(v, "value", v))),
                    Column("city", "City"),
                    Column("phone", "Phone"),
                    Column("active", "Status", lambda v: "Active" if v else "Closed"),
                ],
                fetch=lambda api, offset, limit: api.branches(offset=offset, limit=limit),
                empty_text="No branches.",
            ),
        )
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
        if ctx.can(Permission.DEVICES_ADMIN):
            self.enrol_branch = choice([(b.name, b.id) for b in ctx.branches], name="EnrolBranch")
            enrol = button("Issue enrolment code", role="primary", name="IssueCode")
            revoke = button("Revoke till", role="danger", name="RevokeDevice")
            enrol.clicked.connect(self.issue_code)
            revoke.clicked.connect(self.revoke_device)
            bar = QHBoxLayout()
            for widget in (self.enrol_branch, enrol, revoke):
                bar.addWidget(widget)
            bar.addStretch(1)
            devices_tab = QWidget()
            devices_layout = QVBoxLayout(devices_tab)
            devices_layout.addLayout(bar)
            devices_layout.addWidget(self.devices, 1)
            self.tables.append(self.devices)
            self.tabs.addTab(devices_tab, "Devices")
        add(
            "API keys",
            Permission.API_KEYS_ADMIN,
            ServerTable(
                ctx=ctx,
                columns=[
                    Column("name", "Name"),
                    Column("prefix", "Prefix"),
                    Column("scopes", "Scopes", lambda v: ", ".join(v or [])),
                    Column("created_at", "Created", as_when),
                    Column("revoked_at", "Revoked", as_when),
                ],
                fetch=lambda api, offset, limit: api.api_keys(offset=offset, limit=limit),
                empty_text="No API keys. The online store needs one to place orders.",
            ),
        )
        self.settings = QTableWidget(0, 2)
        self.settings.setHorizontalHeaderLabels(["Setting", "Value (double-click to change)"])
        self.settings.horizontalHeader().setStretchLastSection(True)
        self.settings.verticalHeader().setVisible(False)
        self.settings_tab = QWidget()
        if ctx.can(Permission.SETTINGS_ADMIN):
            save = button("Save setting", role="primary", name="SaveSetting")
            save.clicked.connect(self.save_setting)
            settings_layout = QVBoxLayout(self.settings_tab)
            settings_layout.addWidget(self.settings, 1)
            settings_layout.addWidget(save, 0, Qt.AlignmentFlag.AlignRight)
            self.tabs.addTab(self.settings_tab, "Settings")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        """Load the visible tab."""
        self._tab_changed(self.tabs.currentIndex())

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if isinstance(widget, ServerTable):
            widget.reload(keep_page=True)
        elif widget is not None and widget.isAncestorOf(self.devices):
            self.devices.reload(keep_page=True)
        elif widget is self.settings_tab:
            NetOp(lambda api: api.settings(), pool=self.ctx.pool, owner=self).success(
                self._settings
            ).run()

    def _settings(self, values: dict[str, Any]) -> None:
        items = values.get("items", values) if isinstance(values, dict) else {}
        self.settings.setRowCount(len(items))
        for row, (key, value) in enumerate(sorted(items.items())):
            name = QTableWidgetItem(key)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.settings.setItem(row, 0, name)
            self.settings.setItem(row, 1, QTableWidgetItem(json.dumps(value)))
        self.settings.resizeColumnToContents(0)

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

    def revoke_device(self) -> None:
        """Revoke the selected till: its sync stops at once."""
        device = self.devices.current()
        if device is None:
            self.message.setText("Select a till first.")
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
