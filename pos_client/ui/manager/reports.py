"""Reports: every server report with its period and branch, a table, a chart, and exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pos_client.api.client import ApiClient, ReportFormat
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.dashboard import ACCENT, BarChart
from pos_client.ui.manager.table import Column, RowsModel, as_money, as_quantity
from pos_client.ui.manager.widgets import MAX_COLUMN_WIDTH, button, choice, heading

DEFAULT_DAYS = 30
# Ids the server sends for other programs; a person reads the names beside them.
HIDDEN_KEYS = {"shift", "device"}
FILE_FILTERS: dict[str, str] = {
    "csv": "CSV (*.csv)",
    "xlsx": "Excel workbook (*.xlsx)",
    "pdf": "PDF (*.pdf)",
}


@dataclass(frozen=True)
class ReportKind:
    """A report the server offers: its path name, its menu label and what its chart plots."""

    name: str
    label: str
    chart: str | None = None  # the money column shown as bars; None: the table says it all


REPORTS: tuple[ReportKind, ...] = (
    ReportKind("sales-summary", "Sales summary", "revenue"),
    ReportKind("revenue-trend", "Revenue trend", "revenue"),
    ReportKind("best-sellers", "Best sellers", "revenue"),
    ReportKind("branch-comparison", "Branch comparison", "revenue"),
    ReportKind("shift-reports", "Shift (Z) reports"),
    ReportKind("stock-valuation", "Stock valuation", "cost_value"),
    ReportKind("stock-shortages", "Stock shortages"),
    ReportKind("movers", "Fast, slow and dead movers"),
    ReportKind("customer-credit-ageing", "Customer credit ageing", "total_due"),
    ReportKind("purchase-summary", "Purchase summary", "ordered"),
    ReportKind("supplier-performance", "Supplier performance"),
)


def _show(kind: str) -> Callable[[Any], str]:
    if kind == "money":
        return as_money
    if kind == "qty":
        return as_quantity
    return lambda v: "" if v is None else str(v)


def table_columns(report: dict[str, Any]) -> list[Column]:
    """Return the columns a person reads: internal ids left out, numbers right-aligned."""
    return [
        Column(
            c["key"],
            c["label"],
            show=_show(c["kind"]),
            numeric=c["kind"] in ("money", "qty", "int", "ratio"),
        )
        for c in report["columns"]
        if c["key"] not in HIDDEN_KEYS and not c["key"].endswith("_id")
    ]


def export_file_name(name: str, fmt: str, *, start: date, end: date) -> str:
    """Suggest a file name for an exported report."""
    return f"{name}-{start.isoformat()}-to-{end.isoformat()}.{fmt}"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class ReportsPage(QWidget):
    """Pick a report, a period and a branch; read it as a table and chart; export it."""

    title = "Reports"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.report: dict[str, Any] | None = None
        self.loading = False
        self.exporting = False
        self.last_export: Path | None = None
        self.last_error = ""

        self.kind = choice([(r.label, r.name) for r in REPORTS], name="ReportKind")
        self.kind.currentIndexChanged.connect(lambda _: self.refresh())
        today = date.today()
        self.start = QDateEdit(_qdate(today - timedelta(days=DEFAULT_DAYS - 1)))
        self.end = QDateEdit(_qdate(today))
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.branch = choice(
            [("All branches", None), *((b.name, b.id) for b in ctx.branches)], name="ReportBranch"
        )
        self.branch.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_button = button("Run", role="primary", name="RunReport")
        self.run_button.clicked.connect(self.refresh)
        filters = QHBoxLayout()
        filters.addWidget(heading(self.title))
        filters.addSpacing(12)
        filters.addWidget(self.kind)
        filters.addWidget(QLabel("From"))
        filters.addWidget(self.start)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.end)
        filters.addWidget(self.branch)
        filters.addWidget(self.run_button)
        filters.addStretch(1)

        self.export_buttons: dict[str, Any] = {}
        exports = QHBoxLayout()
        for fmt in ("csv", "xlsx", "pdf"):
            widget = button(f"Export {fmt.upper()}", name=f"Export{fmt.upper()}")
            widget.clicked.connect(lambda _=False, f=fmt: self.export(f))
            self.export_buttons[fmt] = widget
            exports.addWidget(widget)
        self.progress = QProgressBar()
        self.progress.setObjectName("ExportProgress")
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.message = QLabel("")
        self.message.setObjectName("PageStatus")
        self.message.setWordWrap(True)
        exports.addWidget(self.progress)
        exports.addWidget(self.message, 1)

        self.model = RowsModel([], self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.notes = QLabel("")
        self.notes.setObjectName("PageStatus")
        self.notes.setWordWrap(True)
        self.chart = BarChart("", horizontal=False, colour=ACCENT)
        self.chart.view.setMinimumHeight(200)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.chart.view)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addLayout(exports)
        layout.addWidget(self.notes)
        layout.addWidget(split, 1)

    # --- filters --------------------------------------------------------------------
    def current(self) -> ReportKind:
        """Return the report picked in the menu."""
        return REPORTS[max(self.kind.currentIndex(), 0)]

    def select(self, name: str) -> None:
        """Pick a report by its server name (and run it)."""
        index = self.kind.findData(name)
        if index < 0:
            raise KeyError(name)
        if index == self.kind.currentIndex():
            self.refresh()
        else:
            self.kind.setCurrentIndex(index)

    def filters(self) -> dict[str, Any]:
        """Return the period and branch as the server reads them."""
        return {
            "date_from": _pydate(self.start.date()),
            "date_to": _pydate(self.end.date()),
            "branch_id": self.branch.currentData(),
        }

    def _check_period(self) -> bool:
        start, end = _pydate(self.start.date()), _pydate(self.end.date())
        if start > end:
            self._error("The period starts after it ends: pick a start on or before the end.")
            return False
        return True

    # --- loading --------------------------------------------------------------------
    def refresh(self) -> None:
        """Run the picked report on the server."""
        if not self._check_period():
            return
        kind, filters = self.current(), self.filters()
        self.loading = True
        self.last_error = ""
        self.run_button.setEnabled(False)
        self._say(f"Running {kind.label.lower()}…")
        NetOp(lambda api: api.report(kind.name, **filters), pool=self.ctx.pool, owner=self).success(
            lambda report: self._loaded(kind, report)
        ).failure(self._load_failed).run()

    def _loaded(self, kind: ReportKind, report: dict[str, Any]) -> None:
        self.loading = False
        self.run_button.setEnabled(True)
        if kind != self.current():
            return  # the user picked another report meanwhile; its answer is on the way
        self.report = report
        self.model.columns = table_columns(report)
        self.model.set_rows(report["rows"])
        self.view.resizeColumnsToContents()
        for column in range(self.model.columnCount()):
            if self.view.columnWidth(column) > MAX_COLUMN_WIDTH:
                self.view.setColumnWidth(column, MAX_COLUMN_WIDTH)
        self.notes.setText(" ".join(report.get("notes") or []))
        self.notes.setVisible(bool(report.get("notes")))
        count = len(report["rows"])
        self._say(f"{report['title']}: {count} row{'s' if count != 1 else ''}.")
        charted = kind.chart is not None and any(c["key"] == kind.chart for c in report["columns"])
        self.chart.view.setVisible(charted and count > 0)
        if charted and count:
            self.chart.chart.setTitle(f"{report['title']} — {self._label_of(report, kind.chart)}")
            # Periods: the latest twelve, named by month and day so the axis can show them.
            dated = [c["key"] for c in report["columns"] if c["kind"] == "date"]
            rows = report["rows"][-12:] if dated else report["rows"][:12]
            rows = [{**row, **{k: str(row.get(k) or "")[5:] for k in dated}} for row in rows]
            self.chart.show({**report, "rows": rows}, value=kind.chart, limit=12)

    @staticmethod
    def _label_of(report: dict[str, Any], key: str | None) -> str:
        return next((c["label"] for c in report["columns"] if c["key"] == key), "")

    def _load_failed(self, error: BaseException) -> None:
        self.loading = False
        self.run_button.setEnabled(True)
        self._error(f"Could not run the report: {describe(error)}")

    # --- exports --------------------------------------------------------------------
    def ask_export_path(self, suggested: str, fmt: str) -> Path | None:
        """Ask where to save an export; None when the user cancels (tests replace this)."""
        name, _ = QFileDialog.getSaveFileName(
            self, "Save report", str(Path.home() / suggested), FILE_FILTERS[fmt]
        )
        return Path(name) if name else None

    def export(self, fmt: ReportFormat) -> None:
        """Ask where to save, fetch the server's file, then write it there."""
        if self.exporting or not self._check_period():
            return
        kind, filters = self.current(), self.filters()
        suggested = export_file_name(
            kind.name, fmt, start=filters["date_from"], end=filters["date_to"]
        )
        path = self.ask_export_path(suggested, fmt)
        if path is None:
            return
        self._exporting(True)
        self._say(f"Exporting {kind.label.lower()} as {fmt.upper()}…")

        def fetch(api: ApiClient) -> Path:
            content = api.report_file(kind.name, fmt=fmt, **filters)
            path.write_bytes(content)
            return path

        NetOp(fetch, pool=self.ctx.pool, owner=self).success(self._exported).failure(
            self._export_failed
        ).run()

    def _exporting(self, busy: bool) -> None:
        self.exporting = busy
        self.progress.setVisible(busy)
        for widget in self.export_buttons.values():
            widget.setEnabled(not busy)

    def _exported(self, path: Path) -> None:
        self._exporting(False)
        self.last_export = path
        self._say(f"Saved {path.name} to {path.parent}.")

    def _export_failed(self, error: BaseException) -> None:
        self._exporting(False)
        if isinstance(error, OSError):
            self._error(f"Could not save the file: {error.strerror or error}.")
        else:
            self._error(f"Could not export: {describe(error)}")

    # --- messages -------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.message.setProperty("tone", "")
        self.message.setStyleSheet("")
        self.message.setText(text)

    def _error(self, text: str) -> None:
        self.last_error = text
        # Errors in red beside the buttons the user just pressed.
        self.message.setStyleSheet("color: #a61b1b;")
        self.message.setText(text)
