"""Dashboard: summary cards and charts (revenue trend, best sellers, channels, branches)."""

from __future__ import annotations

from collections.abc import Callable
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
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from common.roles import Permission
from common.schemas.orders import OPEN_STATUSES
from pos_client.api.client import ApiClient, ApiError
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import as_money
from pos_client.ui.manager.widgets import button, heading

ACCENT = "#0f9d8f"
PALETTE = ["#0f9d8f", "#12263a", "#f2a541", "#5b8def", "#d64545", "#7b8794"]
TODAY = "Today's sales (net)"
OPEN_ORDER_STATUSES = OPEN_STATUSES


def _number(value: Any) -> float:
    """Chart coordinates are floats; money stays Decimal everywhere else."""
    try:
        return float(Decimal(str(value)))
    except Exception:  # noqa: BLE001 - a blank cell plots as zero
        return 0.0


def _label_key(report: dict[str, Any]) -> str:
    keys = [str(c["key"]) for c in report["columns"]]
    for preferred in ("name", "branch", "channel"):
        if preferred in keys:
            return preferred
    for column in report["columns"]:
        if column["kind"] in ("text", "date"):
            return str(column["key"])
    return keys[0]


def _value_key(report: dict[str, Any], preferred: str = "revenue") -> str:
    keys = [str(c["key"]) for c in report["columns"]]
    if preferred in keys:
        return preferred
    return next((str(c["key"]) for c in report["columns"] if c["kind"] == "money"), keys[-1])


def load_dashboard(api: ApiClient, *, can: set[str], today: date) -> dict[str, Any]:
    """Fetch every figure the dashboard shows (on a network thread)."""
    out: dict[str, Any] = {"cards": {}, "charts": {}, "details": {}}
    cards = out["cards"]
    if Permission.REPORTS_READ.value in can:
        summary = api.report("sales-summary", date_from=today, date_to=today, group_by="day")

        def total(key: str) -> Decimal:
            return sum((Decimal(str(r.get(key) or 0)) for r in summary["rows"]), Decimal(0))

        # Net of returns, the figure the revenue chart and the reports show; gross beside it.
        cards[TODAY] = as_money(total("net_revenue"))
        out["details"] = {
            TODAY: f"Gross {as_money(total('revenue'))} − returns "
            f"{as_money(total('returned_amount'))}"
        }
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
        self.detail = QLabel("")
        self.detail.setObjectName("CardLabel")
        self.detail.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.addWidget(caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)


def _new_chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    font = QFont("DejaVu Sans", 11)
    font.setBold(True)
    chart.setTitleFont(font)
    chart.setBackgroundRoundness(12)
    chart.setMargins(QMargins(6, 6, 6, 6))
    chart.legend().setVisible(False)
    return chart


def _view(chart: QChart) -> QChartView:
    view = QChartView(chart)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(240)
    return view


def _top(value: float) -> float:
    return value * 1.1 if value > 0 else 100.0


class BarChart:
    """A bar chart whose bars and categories are replaced in place on each load."""

    def __init__(self, title: str, *, horizontal: bool, colour: str) -> None:
        self.chart = _new_chart(title)
        self.bars = QBarSet("Revenue")
        self.bars.setColor(QColor(colour))
        self.series = QHorizontalBarSeries() if horizontal else QBarSeries()
        self.series.append(self.bars)
        self.chart.addSeries(self.series)
        self.categories = QBarCategoryAxis()
        self.values = QValueAxis()
        self.values.setLabelFormat("%.0f")
        self.values.setRange(0, 100)
        left, bottom = Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignBottom
        self.chart.addAxis(self.categories, left if horizontal else bottom)
        self.chart.addAxis(self.values, bottom if horizontal else left)
        self.series.attachAxis(self.categories)
        self.series.attachAxis(self.values)
        self.view = _view(self.chart)

    def show(self, report: dict[str, Any], *, value: str | None = None, limit: int = 8) -> None:
        """Show the first rows of a report (value: the column plotted, else its revenue)."""
        label, value = _label_key(report), value or _value_key(report)
        rows = report["rows"][:limit]
        if self.bars.count():
            self.bars.remove(0, self.bars.count())
        self.categories.clear()
        numbers = [_number(row.get(value)) for row in rows]
        self.bars.append(numbers)
        self.categories.append([str(row.get(label, ""))[:22] for row in rows] or ["no sales yet"])
        self.values.setRange(0, _top(max(numbers, default=0)))
        self.values.applyNiceNumbers()


class TrendChart:
    """Revenue per day as a line."""

    def __init__(self, title: str) -> None:
        self.chart = _new_chart(title)
        self.series = QLineSeries()
        self.series.setColor(QColor(ACCENT))
        pen = self.series.pen()
        pen.setWidth(3)
        self.series.setPen(pen)
        self.chart.addSeries(self.series)
        self.x = QValueAxis()
        self.x.setLabelFormat("%d")
        self.x.setTitleText("days ago")
        self.y = QValueAxis()
        self.y.setLabelFormat("%.0f")
        self.chart.addAxis(self.x, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.y, Qt.AlignmentFlag.AlignLeft)
        self.series.attachAxis(self.x)
        self.series.attachAxis(self.y)
        self.view = _view(self.chart)

    def show(self, report: dict[str, Any], *, days: int = 30) -> None:
        """Plot one point per day, oldest on the left, days without sales at zero."""
        by_day = {
            str(row.get("period", ""))[:10]: _number(row.get("revenue")) for row in report["rows"]
        }
        today = date.today()
        points = []
        for ago in range(days - 1, -1, -1):
            points.append(QPointF(-ago, by_day.get((today - timedelta(days=ago)).isoformat(), 0.0)))
        self.series.replace(points)
        self.x.setRange(-(days - 1), 0)
        self.x.setTickCount(6)
        self.y.setRange(0, _top(max((p.y() for p in points), default=0)))
        self.y.applyNiceNumbers()


class PieChart:
    """Shares of revenue, as a ring."""

    def __init__(self, title: str) -> None:
        self.chart = _new_chart(title)
        self.series = QPieSeries()
        self.series.setHoleSize(0.45)
        self.chart.addSeries(self.series)
        self.chart.legend().setVisible(True)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignRight)
        self.view = _view(self.chart)

    def show(self, report: dict[str, Any]) -> None:
        """Show one slice per row."""
        label, value = _label_key(report), _value_key(report)
        self.series.clear()
        for i, row in enumerate(report["rows"]):
            number = _number(row.get(value))
            if number > 0:
                name = str(row.get(label, "")).replace("_", " ").title()
                piece = self.series.append(name, number)
                piece.setColor(QColor(PALETTE[i % len(PALETTE)]))
                piece.setLabelVisible(True)
        if self.series.count() == 0:
            self.series.append("No sales yet", 1).setColor(QColor("#d9e2ec"))


class DashboardPage(QWidget):
    """Today at a glance and the last 30 days in charts."""

    title = "Dashboard"

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.data: dict[str, Any] | None = None
        # The shop's day; tests set another.
        self.today: Callable[[], date] = date.today
        names = (TODAY, "Open orders", "Low or out of stock", "Pending approvals")
        self.cards = {name: Card(name) for name in names}
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
        self.trend = TrendChart("Revenue, last 30 days")
        self.best = BarChart("Best sellers by revenue", horizontal=True, colour=ACCENT)
        self.channel = PieChart("Sales by channel")
        self.branch = BarChart("Revenue by branch", horizontal=False, colour=PALETTE[1])
        grid = QGridLayout()
        grid.addWidget(self.trend.view, 0, 0)
        grid.addWidget(self.best.view, 0, 1)
        grid.addWidget(self.channel.view, 1, 0)
        grid.addWidget(self.branch.view, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(cards)
        layout.addLayout(grid, 1)

    def refresh(self) -> None:
        """Fetch the figures off the UI thread."""
        self.status.setText("Loading…")
        can, today = set(self.ctx.me.permissions), self.today()
        NetOp(
            lambda api: load_dashboard(api, can=can, today=today), pool=self.ctx.pool, owner=self
        ).latest("dashboard").success(self._loaded).failure(self._failed).run()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(
            describe(error) if isinstance(error, ApiError) else f"Could not load: {error}"
        )

    def _loaded(self, data: dict[str, Any]) -> None:
        self.data = data
        self.status.setText("")
        for name, card in self.cards.items():
            card.value.setText(data["cards"].get(name, "—"))
            detail = data.get("details", {}).get(name, "")
            card.detail.setText(detail)
            card.detail.setVisible(bool(detail))
        charts = data["charts"]
        if "trend" in charts:
            self.trend.show(charts["trend"])
            self.best.show(charts["best"])
            self.channel.show(charts["channel"])
            self.branch.show(charts["branch"])
