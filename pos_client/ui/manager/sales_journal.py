"""A journal tab of the Sales screen: till sales or returns, searched, filtered, opened."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from common.schemas.base import Page
from pos_client.api.client import ApiClient, Journal, Row
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column
from pos_client.ui.manager.widgets import ActionBar, SearchBox, ServerTable, button, choice

# How far back a journal looks, in days before today (None: any date).
PERIODS = [("Any date", None), ("Today", 0), ("Last 7 days", 6), ("Last 30 days", 29)]


def period_start(days: int | None) -> str | None:
    """Return the start of a period as local midnight with its offset, for the server."""
    if days is None:
        return None
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - timedelta(days=days)).isoformat()


class JournalTab(QWidget):
    """A paged list of till documents with receipt search, branch and period filters.

    Enter, a double-click or "Details…" fetches the selected document and opens
    `make_dialog(detail)` over it.
    """

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        kind: Journal,
        name: str,
        what: str,
        columns: Sequence[Column],
        search_text: str,
        empty_text: str,
        make_dialog: Callable[[Row], QDialog],
        with_reason: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.kind: Journal = kind
        self.what = what
        self.make_dialog = make_dialog
        self.dialog: QDialog | None = None
        self.filters: dict[str, Any] = {}
        self.search = SearchBox(search_text)
        self.search.setObjectName(f"{name}Search")
        self.reason = SearchBox("Reason…") if with_reason else None
        branches = [("All branches", None)] + [(b.name, b.id) for b in ctx.branches]
        self.branch = choice(branches, name=f"{name}Branch")
        self.period = choice(PERIODS, name=f"{name}Period")
        self.table = ServerTable(ctx=ctx, columns=columns, fetch=self._fetch, empty_text=empty_text)
        bar = ActionBar()
        bar.addWidget(self.search, 1)
        for box in (self.search, self.reason):
            if box is not None:
                box.search.connect(lambda _: self.apply_filters())
        if self.reason is not None:
            self.reason.setObjectName(f"{name}Reason")
            bar.addWidget(self.reason)
        bar.addWidget(self.branch)
        bar.addWidget(self.period)
        self.branch.currentIndexChanged.connect(lambda _: self.apply_filters())
        self.period.currentIndexChanged.connect(lambda _: self.apply_filters())
        self.details_button = bar.add(button("Details…", role="primary", name=f"{name}Details"))
        self.details_button.clicked.connect(self.show_details)
        # Qt reports Enter and a double-click on a row alike, as "activated".
        self.table.view.activated.connect(lambda _: self.show_details())
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

    def apply_filters(self) -> None:
        """Read the filters (on the UI thread) and list from the first page."""
        self.filters = {
            "q": self.search.text().strip(),
            "branch_id": self.branch.currentData(),
            "date_from": period_start(self.period.currentData()),
            "reason": self.reason.text().strip() if self.reason is not None else None,
        }
        self.table.reload()

    def _fetch(self, api: ApiClient, offset: int, limit: int) -> Page[Row]:
        # Runs on a network thread: it reads the filters taken, never the widgets.
        return api.journal(self.kind, **self.filters, offset=offset, limit=limit)

    def show_details(self) -> None:
        """Fetch the selected document and open it."""
        row = self.table.current()
        if row is None:
            self.message.setText(f"Select {self.what} first.")
            return
        self.message.setText("")
        kind, document_id = self.kind, row["id"]
        NetOp(
            lambda api: api.journal_entry(kind, document_id), pool=self.ctx.pool, owner=self
        ).success(self._open).failure(lambda e: self.message.setText(describe(e))).run()

    def _open(self, detail: Row) -> None:
        self.dialog = self.make_dialog(detail)
        self.dialog.open()
