"""Admin screen: users, branches, devices, API keys and settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from common.roles import Permission
from pos_client.qt.network import NetOp
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, as_label, as_when
from pos_client.ui.manager.widgets import ServerTable, heading


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
        add(
            "Devices",
            Permission.DEVICES_ADMIN,
            ServerTable(
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
            ),
        )
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
        self.settings.setHorizontalHeaderLabels(["Setting", "Value"])
        self.settings.horizontalHeader().setStretchLastSection(True)
        self.settings.verticalHeader().setVisible(False)
        if ctx.can(Permission.SETTINGS_ADMIN):
            self.tabs.addTab(self.settings, "Settings")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        """Load the visible tab."""
        self._tab_changed(self.tabs.currentIndex())

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if isinstance(widget, ServerTable):
            widget.reload(keep_page=True)
        elif widget is self.settings:
            NetOp(lambda api: api.settings(), pool=self.ctx.pool, owner=self).success(
                self._settings
            ).run()

    def _settings(self, values: dict[str, Any]) -> None:
        items = values.get("items", values) if isinstance(values, dict) else {}
        self.settings.setRowCount(len(items))
        for row, (key, value) in enumerate(sorted(items.items())):
            self.settings.setItem(row, 0, QTableWidgetItem(key.replace("_", " ")))
            self.settings.setItem(row, 1, QTableWidgetItem(str(value)))
