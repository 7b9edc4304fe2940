"""Alerts and notifications: low/out/negative stock, approvals waiting, sync dead letters."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from common.roles import Permission
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, as_label, as_when
from pos_client.ui.manager.widgets import ActionBar, ServerTable, button, choice, heading


def _details(details: Any) -> str:
    if not isinstance(details, dict):
        return ""
    keys = ("sku", "name", "on_hand", "threshold", "number", "reason")
    return ", ".join(f"{k.replace('_', ' ')}: {details[k]}" for k in keys if k in details)


class AlertsPage(QWidget):
    """Open alerts first; acknowledge what has been seen."""

    title = "Alerts"
    alerts: ServerTable  # made below the filter that reloads it

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.status_filter = choice(
            [
                ("Open", "open"),
                ("Acknowledged", "acknowledged"),
                ("Cleared", "cleared"),
                ("All", None),
            ],
            name="AlertStatus",
        )
        self.status_filter.currentIndexChanged.connect(lambda _: self.alerts.reload())
        self.alerts = ServerTable(
            ctx=ctx,
            columns=[
                Column("kind", "Alert", as_label, status=True),
                Column("status", "Status", as_label, status=True),
                Column("branch_id", "Branch", ctx.branch_name),
                Column("opened_at", "Opened", as_when),
                Column("cleared_at", "Cleared", as_when),
                Column("details", "Details", _details),
            ],
            fetch=lambda api, offset, limit: api.alerts(
                status=self.status_filter.currentData(), offset=offset, limit=limit
            ),
            empty_text="All clear — no alerts here.",
        )
        bar = ActionBar()
        bar.addWidget(self.status_filter)
        bar.addStretch(1)
        self.ack_button = bar.add(
            button("Acknowledge", role="primary", name="AcknowledgeAlert"),
            allowed=ctx.can(Permission.ALERTS_WRITE),
        )
        self.ack_button.clicked.connect(self.acknowledge)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        alerts_tab = QWidget()
        alerts_layout = QVBoxLayout(alerts_tab)
        alerts_layout.addLayout(bar)
        alerts_layout.addWidget(self.message)
        alerts_layout.addWidget(self.alerts, 1)

        self.notifications = ServerTable(
            ctx=ctx,
            columns=[
                Column("created_at", "When", as_when),
                Column("event", "Event", as_label),
                Column("subject", "Subject"),
                Column("read_at", "Read", lambda v: "" if v is None else "✓"),
            ],
            fetch=lambda api, offset, limit: api.notifications(offset=offset, limit=limit),
            empty_text="No notifications for you.",
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(alerts_tab, "Alerts")
        if ctx.can(Permission.NOTIFICATIONS_READ):
            self.tabs.addTab(self.notifications, "Notifications")
        self.tabs.currentChanged.connect(lambda i: self.notifications.reload() if i == 1 else None)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addWidget(self.tabs, 1)

    def refresh(self) -> None:
        """Reload the alerts."""
        self.alerts.reload(keep_page=True)

    def acknowledge(self) -> None:
        """Acknowledge the selected alerts."""
        ids = [alert.id for alert in self.alerts.selected_rows()]
        if not ids:
            self.message.setText("Select an alert first.")
            return

        def ack(api: ApiClient) -> int:
            for alert_id in ids:
                api.acknowledge_alert(alert_id)
            return len(ids)

        def acknowledged(n: int) -> None:
            self.message.setText(f"Acknowledged {n} alert(s).")
            self.alerts.reload(keep_page=True)

        NetOp(ack, pool=self.ctx.pool, owner=self).success(acknowledged).failure(
            lambda e: self.message.setText(describe(e))
        ).run()
