"""Audit log viewer with filters and the hash-chain verification result."""

from __future__ import annotations

import json

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QCheckBox, QDateEdit, QLabel, QLineEdit, QVBoxLayout, QWidget

from common.schemas.audit import AuditEntryRead, ChainReportRead
from common.schemas.base import Page
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, as_when
from pos_client.ui.manager.widgets import ActionBar, ServerTable, button, heading


def _change(entry: AuditEntryRead) -> str:
    after = entry.after
    if not after:
        return ""
    text = json.dumps(after, default=str, separators=(", ", ": "))
    return text if len(text) <= 120 else text[:117] + "…"


class AuditPage(QWidget):
    """Who did what, when; newest first."""

    title = "Audit log"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.action = QLineEdit()
        self.action.setPlaceholderText("Action, e.g. po.approve")
        self.actor = QLineEdit()
        self.actor.setPlaceholderText("User")
        self.entity = QLineEdit()
        self.entity.setPlaceholderText("Entity type")
        self.use_dates = QCheckBox("From")
        self.since = QDateEdit(QDate.currentDate().addDays(-7))
        self.since.setCalendarPopup(True)
        self.until = QDateEdit(QDate.currentDate())
        self.until.setCalendarPopup(True)
        self.table = ServerTable(
            ctx=ctx,
            columns=[
                Column("seq", "#", numeric=True),
                Column("at", "When", as_when),
                Column("actor", "User"),
                Column("action", "Action"),
                Column("entity_type", "Entity"),
                Column("entity_id", "Id"),
                Column("after", "Change", compute=_change),
            ],
            fetch=self._fetch,
            empty_text="No audit entries match these filters.",
        )
        self.filter_button = button("Apply filters", name="ApplyAuditFilters")
        self.filter_button.clicked.connect(lambda: self.table.reload())
        self.verify_button = button("Verify chain", role="primary", name="VerifyChain")
        self.verify_button.clicked.connect(self.verify)
        self.verify_result = QLabel("Chain not verified yet.")
        self.verify_result.setObjectName("PageStatus")
        bar = ActionBar()
        for widget in (
            self.action,
            self.actor,
            self.entity,
            self.use_dates,
            self.since,
            QLabel("to"),
            self.until,
        ):
            bar.addWidget(widget)
        bar.addWidget(self.filter_button)
        bar.addStretch(1)
        bar.addWidget(self.verify_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addLayout(bar)
        layout.addWidget(self.verify_result)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Reload the entries."""
        self.table.reload(keep_page=True)

    def _fetch(self, api: ApiClient, offset: int, limit: int) -> Page[AuditEntryRead]:
        dates = {}
        if self.use_dates.isChecked():
            dates = {
                "since": self.since.date().toString("yyyy-MM-dd") + "T00:00:00",
                "until": self.until.date().addDays(1).toString("yyyy-MM-dd") + "T00:00:00",
            }
        return api.audit(
            action=self.action.text().strip(),
            actor=self.actor.text().strip(),
            entity_type=self.entity.text().strip(),
            offset=offset,
            limit=limit,
            sort="-seq",
            **dates,
        )

    def verify(self) -> None:
        """Check the whole hash chain on the server."""
        self.verify_result.setText("Verifying…")
        NetOp(lambda api: api.verify_audit(), pool=self.ctx.pool, owner=self).success(
            self._verified
        ).failure(lambda e: self.verify_result.setText(describe(e))).run()

    def _verified(self, report: ChainReportRead) -> None:
        if report.ok:
            self.verify_result.setObjectName("VerifyOk")
            waiting = report.pending
            # Entries of the last moments are chained a moment after they are written.
            later = f" {waiting:,} just written will be chained in a moment." if waiting else ""
            self.verify_result.setText(
                f"✓ Chain intact: {report.entries:,} entries verified.{later}"
            )
        else:
            self.verify_result.setObjectName("VerifyBroken")
            # The reason says what was found and where ("entry 7 was edited ...").
            self.verify_result.setText(f"✗ Chain broken: {report.reason}")
        self.verify_result.style().polish(self.verify_result)
