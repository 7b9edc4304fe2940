"""Dashboard: summary cards and charts (revenue trend, best sellers, channels, branches)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QLineSeries,
    QPieSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from common.roles import Permission
from pos_client.api.client import ApiClient, ApiError
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import as_money
from pos_client.ui.manager.widgets import button, heading

ACCENT = "#0f9d8f"
PALETTE = ["#0f9d8f", "#12263a", "#f2a541", "#5b8def", "#d64545", "#7b8794"]
OPEN_ORDER_STATUSES = ("reserved", "paid", "picking", "packed")


def _number(value: Any) -> float:
    """Chart coordinates are floats; money stays Decimal everywhere else."""
    try:
        return float(Decimal(str(value)))
    except Exception:  # noqa: BLE001 - a blank cell plots as zero
        return 0.0


def _label_key(report: dict[str, Any]) -> str:
    for column in report["columns"]:
        if column["kind"] in ("text", "date"):
            return column["key"]
    return report["columns"][0]["key"]


def _value_key(report: dict[str, Any], preferred: str = "revenue") -> str:
    keys = [c["key"] for c in report["columns"]]
    if preferred in keys:
        return preferred
    return next((c["key"] for c in report["columns"] if c["kind"] == "money"), keys[-1])


def load_dashboard(api: ApiClient, *, can: set[str], today: date) -> dict[str, Any]:
    """Fetch every figure the dashboard shows (on a network thread)."""
    out: dict[str, Any] = {"cards": {}, "charts": {}}
    cards = out["cards"]
    if Permission.REPORTS_READ.value in can:
        summary = api.report("sales-summary", date_from=today, date_to=today, group_by="day")
        cards["Today's sales"] = as_money(
            sum((Decimal(str(r.get("revenue") or 0)) for r in summary["rows"]), Decimal(0))
        )
        start = today - timedelta(days=29)
        out["charts"]["trend"] = api.report(
            "revenue-trend", date_from=start, date_to=today, grain="day"
        )
        out["charts"]["best"] = api.report(
            "best-sellers", date_from=start, date_to=today, by="revenue", limit=8
        )
        out["charts"]["channel"] = api.report(
            "sales-summary", date_from=start, date_to=today, group_by="channel"
        )
        out["charts"]["branch"] = api.report("branch-comparison", date_from=start, date_to=today)
    if Permission.ORDERS_READ.value in can:
        cards["Open orders"] = str(
            sum(api.orders(status=s, limit=1).total for s in OPEN_ORDER_STATUSES)
        )
    if Permission.STOCK_READ.value in can:
        low = api.stock_levels(status="low", limit=1).total
        out_of = api.stock_levels(status="out", limit=1).total
        cards["Low or out of stock"] = str(low + out_of)
    pending = 0
    for allowed, fetch in (
        (Permission.PURCHASING_READ.value in can, api.purchase_orders),
        (Permission.SALES_REQUESTS_READ.value in can, api.sales_requests),
    ):
        if allowed:
            pending += fetch(status="pending_approval", limit=1).total
    cards["Pending approvals"] = str(pending)
    return out


class Card(QFrame):
    """One summary figure."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.setObjectName("SummaryCard")
        self.value = QLabel("—")
        self.value.setObjectName("CardValue")
        caption = QLabel(label.upper())
        caption.setObjectName("CardLabel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.addWidget(caption)
        layout.addWidget(self.value)


def _chart(title: str) -> tuple[QChart, QChartView]:
    chart = QChart()
    chart.setTitle(title)
    font = QFont("DejaVu Sans", 11)
    font.setBold(True)
    chart.setTitleFont(font)
    chart.setBackgroundRoundness(12)
    chart.setMargins(QMargins(6, 6, 6, 6))
    chart.legend().setVisible(False)
    view = QChartView(chart)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(240)
    return chart, view


class DashboardPage(QWidget):
    """Today at a glance and the last 30 days in charts."""

    title = "Dashboard"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.data: dict[str, Any] | None = None
        self.cards = {
            name: Card(name)
            for name in ("Today's sales", "Open orders", "Low or out of stock", "Pending approvals")
        }
        cards = QHBoxLayout()
        for card in self.cards.values():
            cards.addWidget(card)
        self.status = QLabel("")
        self.status.setObjectName("PageStatus")
        refresh = button("Refresh", name="RefreshDashboard")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading(self.title))
        top.addStretch(1)
        top.addWidget(self.status)
        top.addWidget(refresh)
        self.trend_chart, trend_view = _chart("Revenue, last 30 days")
        self.best_chart, best_view = _chart("Best sellers by revenue")
        self.channel_chart, channel_view = _chart("Sales by channel")
        self.branch_chart, branch_view = _chart("Revenue by branch")
        grid = QGridLayout()
        grid.addWidget(trend_view, 0, 0)
        grid.addWidget(best_view, 0, 1)
        grid.addWidget(channel_view, 1, 0)
        grid.addWidget(branch_view, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(cards)
        layout.addLayout(grid, 1)

    def refresh(self) -> None:
        """Fetch the figures off the UI thread."""
        self.status.setText("Loading…")
        can, today = set(self.ctx.me.permissions), date.today()
        NetOp(
            lambda api: load_dashboard(api, can=can, today=today), pool=self.ctx.pool, owner=self
        ).success(self._loaded).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(
            describe(error) if isinstance(error, ApiError) else f"Could not load: {error}"
        )

    def _loaded(self, data: dict[str, Any]) -> None:
        self.data = data
        self.status.setText("")
        for name, card in self.cards.items():
            card.value.setText(data["cards"].get(name, "—"))
        charts = data["charts"]
        if "trend" in charts:
            self._trend(charts["trend"])
            self._bars(self.best_chart, charts["best"], horizontal=True)
            self._pie(self.channel_chart, charts["channel"])
            self._bars(self.branch_chart, charts["branch"], horizontal=False)

    @staticmethod
    def _reset(chart: QChart) -> None:
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)

    def _trend(self, report: dict[str, Any]) -> None:
        chart = self.trend_chart
        self._reset(chart)
        series = QLineSeries()
        series.setColor(QColor(ACCENT))
        pen = series.pen()
        pen.setWidth(3)
        series.setPen(pen)
        labels = []
        top = 0.0
        for i, row in enumerate(report["rows"]):
            value = _number(row.get("revenue"))
            top = max(top, value)
            series.append(float(i), value)
            labels.append(str(row.get("period", ""))[5:10])
        chart.addSeries(series)
        x = QValueAxis()
        x.setRange(0, max(1, len(labels) - 1))
        x.setLabelFormat("%d")
        x.setTitleText("day")
        y = QValueAxis()
        y.setRange(0, top * 1.1 or 1)
        y.setLabelFormat("%.0f")
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x)
        series.attachAxis(y)
        if not report["rows"]:
            chart.setTitle("Revenue, last 30 days — no sales yet")

    def _bars(self, chart: QChart, report: dict[str, Any], *, horizontal: bool) -> None:
        self._reset(chart)
        label, value = _label_key(report), _value_key(report)
        rows = report["rows"][:8]
        bars = QBarSet("Revenue")
        bars.setColor(QColor(ACCENT if horizontal else PALETTE[1]))
        names = []
        top = 0.0
        for row in rows:
            number = _number(row.get(value))
            top = max(top, number)
            bars.append(number)
            names.append(str(row.get(label, ""))[:22])
        series = QHorizontalBarSeries() if horizontal else QBarSeries()
        series.append(bars)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append(names or ["—"])
        values = QValueAxis()
        values.setRange(0, top * 1.1 or 1)
        values.setLabelFormat("%.0f")
        chart.addAxis(
            categories, Qt.AlignmentFlag.AlignLeft if horizontal else Qt.AlignmentFlag.AlignBottom
        )
        chart.addAxis(
            values, Qt.AlignmentFlag.AlignBottom if horizontal else Qt.AlignmentFlag.AlignLeft
        )
        series.attachAxis(categories)
        series.attachAxis(values)

    def _pie(self, chart: QChart, report: dict[str, Any]) -> None:
        self._reset(chart)
        label, value = _label_key(report), _value_key(report)
        series = QPieSeries()
        series.setHoleSize(0.45)
        for i, row in enumerate(report["rows"]):
            number = _number(row.get(value))
            if number > 0:
                piece = series.append(str(row.get(label, "")).replace("_", " ").title(), number)
                piece.setColor(QColor(PALETTE[i % len(PALETTE)]))
                piece.setLabelVisible(True)
        if series.count() == 0:
            series.append("No sales yet", 1).setColor(QColor("#d9e2ec"))
        chart.addSeries(series)
        chart.legend().setVisible(True)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
