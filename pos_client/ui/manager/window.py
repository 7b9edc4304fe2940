"""The back-office window: a menu of screens the user's role allows, an unreachable banner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from common.schemas.auth import MeRead
from common.schemas.org import BranchRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, NetworkPool, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.style import manager_stylesheet

BADGE_SECONDS = 30


@dataclass(frozen=True)
class Screen:
    """A menu entry: its name, the permission that shows it, and how to build it."""

    key: str
    label: str
    permission: Permission
    build: Callable[[ManagerContext], QWidget]


def _screens() -> list[Screen]:
    from pos_client.ui.manager.admin import AdminPage
    from pos_client.ui.manager.alerts import AlertsPage
    from pos_client.ui.manager.audit import AuditPage
    from pos_client.ui.manager.customers import CustomersPage
    from pos_client.ui.manager.dashboard import DashboardPage
    from pos_client.ui.manager.pricing import PromotionsPage
    from pos_client.ui.manager.products import ProductsPage
    from pos_client.ui.manager.purchasing import PurchasingPage
    from pos_client.ui.manager.reports import ReportsPage
    from pos_client.ui.manager.sales import SalesPage
    from pos_client.ui.manager.stock import StockPage

    return [
        Screen("dashboard", "Dashboard", Permission.REPORTS_READ, lambda c: DashboardPage(ctx=c)),
        Screen("products", "Products", Permission.CATALOG_READ, lambda c: ProductsPage(ctx=c)),
        Screen("stock", "Stock", Permission.STOCK_READ, lambda c: StockPage(ctx=c)),
        Screen(
            "purchasing", "Purchasing", Permission.PURCHASING_READ, lambda c: PurchasingPage(ctx=c)
        ),
        Screen("sales", "Sales", Permission.SALES_REQUESTS_READ, lambda c: SalesPage(ctx=c)),
        Screen("customers", "Customers", Permission.CUSTOMERS_READ, lambda c: CustomersPage(ctx=c)),
        Screen(
            "promotions", "Promotions", Permission.CATALOG_READ, lambda c: PromotionsPage(ctx=c)
        ),
        Screen("reports", "Reports", Permission.REPORTS_READ, lambda c: ReportsPage(ctx=c)),
        Screen("alerts", "Alerts", Permission.ALERTS_READ, lambda c: AlertsPage(ctx=c)),
        Screen("audit", "Audit log", Permission.AUDIT_READ, lambda c: AuditPage(ctx=c)),
        Screen("admin", "Admin", Permission.USERS_READ, lambda c: AdminPage(ctx=c)),
    ]


class ManagerWindow(QMainWindow):
    """Back office: screens are built when first opened and load their data from the server."""

    def __init__(
        self, *, ctx: ManagerContext, start: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("ManagerWindow")
        self.setWindowTitle(f"StockPilot back office — {ctx.me.tenant_name}")
        self.resize(1280, 800)
        self.screens = [s for s in _screens() if ctx.can(s.permission)]
        self.pages: dict[str, QWidget] = {}
        self.alert_count = 0

        self.nav = QListWidget()
        self.nav.setObjectName("NavList")
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for screen in self.screens:
            item = QListWidgetItem(screen.label)
            item.setData(Qt.ItemDataRole.UserRole, screen.key)
            self.nav.addItem(item)
        self.nav.currentRowChanged.connect(self._show_row)
        brand = QLabel("StockPilot")
        brand.setObjectName("NavBrand")
        user = QLabel(
            f"{ctx.me.full_name or ctx.me.username} · {ctx.me.role.value.replace('_', ' ')}"
        )
        user.setObjectName("NavUser")
        side = QWidget()
        side.setObjectName("NavList")
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        side_layout.addWidget(brand)
        side_layout.addWidget(user)
        side_layout.addWidget(self.nav, 1)

        self.banner = QLabel(
            "Server unreachable — showing what was last loaded. Retrying… "
            "The till keeps selling offline."
        )
        self.banner.setObjectName("Banner")
        self.banner.setVisible(False)
        self.stack = QStackedWidget()
        self.busy = QProgressBar()
        self.busy.setObjectName("LoadProgress")
        self.busy.setRange(0, 0)
        self.busy.setFixedHeight(3)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        main = QWidget()
        main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.setSpacing(0)
        main_layout.addWidget(self.banner)
        main_layout.addWidget(self.busy)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(20, 14, 20, 14)
        content_layout.addWidget(self.stack)
        main_layout.addWidget(content, 1)

        root = QWidget()
        layout = QHBoxLayout(root)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(side)
        layout.addWidget(main, 1)
        self.setCentralWidget(root)

        ctx.pool.reachability_changed.connect(self._reachability)
        ctx.pool.busy_changed.connect(self.busy.setVisible)
        self._badge_timer = QTimer(self)
        self._badge_timer.setInterval(BADGE_SECONDS * 1000)
        self._badge_timer.timeout.connect(self.refresh_badges)
        self._badge_timer.start()
        keys = [screen.key for screen in self.screens]
        if self.screens:
            self.nav.setCurrentRow(keys.index(start) if start in keys else 0)
        self.refresh_badges()

    def open_screen(self, key: str) -> QWidget:
        """Show a screen by key and return its page."""
        for row, screen in enumerate(self.screens):
            if screen.key == key:
                self.nav.setCurrentRow(row)
                return self.pages[key]
        raise KeyError(f"{key} is not available to {self.ctx.me.username}")

    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        screen = self.screens[row]
        page = self.pages.get(screen.key)
        if page is None:
            page = screen.build(self.ctx)
            self.pages[screen.key] = page
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        refresh = getattr(page, "refresh", None)
        if refresh is not None:
            refresh()

    def _reachability(self, reachable: bool) -> None:
        self.banner.setVisible(not reachable)

    def refresh_badges(self) -> None:
        """Count open alerts and unread notifications for the menu badges."""
        if not self.ctx.can(Permission.ALERTS_READ):
            return

        def count(api: ApiClient) -> int:
            return api.alerts(status="open", limit=1).total

        NetOp(count, pool=self.ctx.pool, owner=self).success(self._set_alert_badge).failure(
            lambda _e: None
        ).run()

    def _set_alert_badge(self, count: int) -> None:
        self.alert_count = count
        for row, screen in enumerate(self.screens):
            if screen.key == "alerts":
                self.nav.item(row).setText(f"Alerts  ({count})" if count else "Alerts")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self._badge_timer.stop()
        super().closeEvent(event)


class LoginDialog(QDialog):
    """Sign in to the server for the back office (off the UI thread)."""

    def __init__(self, *, server_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("StockPilot back office — sign in")
        self.client = ApiClient(server_url)
        self.pool = NetworkPool(client=self.client, parent=self)
        self.ctx: ManagerContext | None = None
        self.server = QLineEdit(server_url)
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setObjectName("ErrorText")
        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Username", self.username)
        form.addRow("Password", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.sign_in)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def sign_in(self) -> None:
        """Log in and load the branches the screens filter by."""
        username, password = self.username.text().strip(), self.password.text()
        server_url = self.server.text().strip().rstrip("/")
        if server_url != self.client.base_url:
            self.client.close()
            self.client = ApiClient(server_url)
            self.pool.client = self.client
        self.error.setText("Signing in…")
        NetOp(
            lambda api: connect(api, username=username, password=password),
            pool=self.pool,
            owner=self,
        ).success(self._signed_in).failure(lambda e: self.error.setText(describe(e))).run()

    def _signed_in(self, ctx_parts: tuple[MeRead, list[BranchRead]]) -> None:
        me, branches = ctx_parts
        self.ctx = ManagerContext(pool=self.pool, me=me, branches=branches)
        self.accept()


def run_back_office(app: QApplication, *, server_url: str) -> int:
    """Sign in and run the back office until its window closes (stockpilot-till --manager)."""
    app.setStyleSheet(manager_stylesheet())
    login = LoginDialog(server_url=server_url)
    if login.exec() != QDialog.DialogCode.Accepted or login.ctx is None:
        return 1
    window = ManagerWindow(ctx=login.ctx)
    window.show()
    try:
        return app.exec()
    finally:
        login.ctx.pool.close()
        login.client.close()


def connect(api: ApiClient, *, username: str, password: str) -> tuple[MeRead, list[BranchRead]]:
    """Sign in and fetch what every screen needs (runs on a network thread)."""
    me = api.login(username=username, password=password)
    branches = (
        api.branches(limit=500).items if Permission.BRANCHES_READ.value in me.permissions else []
    )
    return me, branches


def open_back_office(
    *,
    client: ApiClient,
    username: str,
    password: str,
    start: str | None = None,
    parent: QWidget | None = None,
) -> ManagerWindow:
    """Sign in synchronously and build the window (scripts and tests; never on a UI thread)."""
    me, branches = connect(client, username=username, password=password)
    pool = NetworkPool(client=client)
    ctx = ManagerContext(pool=pool, me=me, branches=branches)
    window = ManagerWindow(ctx=ctx, start=start, parent=parent)
    pool.setParent(window)
    return window
