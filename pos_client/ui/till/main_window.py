"""The till window: sign-in, selling, payments, returns, shifts; the flows between them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from pos_client.config import ShopInfo
from pos_client.scanners.pipeline import ScanPipeline
from pos_client.services import queries
from pos_client.services.login import Cashier, IdleClock
from pos_client.services.pricing import TillPricing, till_pricing
from pos_client.services.queries import ShiftInfo
from pos_client.services.shop_profile import shop_profile
from pos_client.services.till import Cart
from pos_client.ui.till.back_office import BackOfficeActions
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import showing
from pos_client.ui.till.login_screen import LoginScreen
from pos_client.ui.till.program_actions import PROGRAM_KEYS, ProgramActions
from pos_client.ui.till.sale_actions import SaleActions
from pos_client.ui.till.scan_actions import ScanActions
from pos_client.ui.till.shift_actions import ShiftActions
from pos_client.ui.till.till_screen import ACTIONS, TillScreen
from pos_client.ui.widgets.idle import IdleWatcher
from pos_client.ui.widgets.sync_status import SyncStatusLabel

if TYPE_CHECKING:
    from pos_client.services.checkout import CompletedSale
    from pos_client.services.shifts import ZReport

HELP = "\n".join(f"{key:>9}   {label}" for key, label, _ in ACTIONS) + (
    "\n      F2   Search\n F10/Enter   Pay\n     Esc   Cancel / clear search"
    "\n  Ctrl+B   Back office (managers)\n  Ctrl+D   Scanner and printer (managers)"
    + "".join(f"\n{key:>12}   {label}" for key, label, _ in PROGRAM_KEYS)
    + "\n  F4 / F6   Gift card / UPI (in the payment dialog)"
)


class TillWindow(
    SaleActions, ShiftActions, BackOfficeActions, ScanActions, ProgramActions, QMainWindow
):
    """The cashier's window; every store access goes through the context's ops."""

    devices_saved = Signal(object)  # TillConfig: the composition root applies and saves it

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(f"StockPilot Till · {ctx.config.shop_name}")
        self.rules = queries.TillRules()
        self.pricing: TillPricing | None = None
        self.cart = self.new_cart()
        self.cashier: Cashier | None = None
        self.shift: ShiftInfo | None = None
        self.last_sale: CompletedSale | None = None
        self.last_report: ZReport | None = None
        self.dialog: QWidget | None = None
        self.devices_dialog: QWidget | None = None
        self._void_armed = False
        self._void_line_armed: str | None = None
        self._quick_keys_loaded = False
        self.after_sale: Callable[[], None] | None = None

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._top_bar())
        self.stack = QStackedWidget()
        self.login = LoginScreen(ctx=ctx)
        self.screen = TillScreen(currency=ctx.config.currency)
        self.stack.addWidget(self.login)
        self.stack.addWidget(self.screen)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._status_bar()

        self.pipeline = ScanPipeline(runner=ctx.runner, cart_source=lambda: self.cart, parent=self)
        self.pipeline.enabled = False
        self.pipeline.added.connect(self._line_added)
        self._wire_scans()

        self.login.signed_in.connect(self._signed_in)
        self.login.submitted.connect(warm_up)
        self.screen.search_changed.connect(self._search)
        self.screen.product_chosen.connect(self.add_item)
        self.screen.action.connect(self.run_action)
        self.screen.pay_requested.connect(self.pay)
        self._shortcuts()

        self.idle = IdleWatcher(clock=IdleClock(timeout_s=ctx.config.idle_lock_s), parent=self)
        self.idle.idle.connect(self.lock)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.idle)
        self._poll = QTimer(self, interval=3000)
        self._poll.timeout.connect(self.refresh_pending)
        self._poll.start()
        self._clock_timer = QTimer(self, interval=15_000)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start()
        ctx.receipts.state_changed.connect(self._printer_state)
        ctx.receipts.job_failed.connect(
            lambda _job, reason: self.screen.notice.notify(
                f"Receipt not printed: {reason}. Ctrl+P to reprint.", kind="warn"
            )
        )
        self.refresh_pending()
        self._tick()
        self.stack.setCurrentWidget(self.login)
        self.resize(1366, 768)

    # -- chrome ----------------------------------------------------------------------------

    def _top_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("TopBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        bar.setFixedHeight(56)
        row = QHBoxLayout(bar)
        row.setContentsMargins(18, 0, 18, 0)
        row.setSpacing(0)
        row.addWidget(QLabel("Stock", objectName="Brand"))
        row.addWidget(QLabel("Pilot", objectName="BrandAccent"))
        row.addSpacing(16)
        shop = self.ctx.config.shop_name
        branch = self.ctx.config.branch_name
        self.shop_label = QLabel(f"{shop}" + (f" · {branch}" if branch else ""))
        self.shop_label.setObjectName("ShopName")
        row.addWidget(self.shop_label)
        row.addStretch(1)
        self.who = QLabel()
        self.shift_label = QLabel()
        self.clock = QLabel()
        self.back_office_button = QPushButton("Back office  Ctrl+B")
        self.back_office_button.setObjectName("BackOfficeButton")
        self.back_office_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_office_button.setVisible(False)
        self.back_office_button.clicked.connect(lambda: self.run_action("back_office"))
        row.addWidget(self.back_office_button)
        row.addSpacing(8)
        devices = QPushButton("Scanner and printer  Ctrl+D")
        devices.setObjectName("DevicesButton")
        devices.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        devices.clicked.connect(lambda: self.run_action("devices"))
        row.addWidget(devices)
        row.addSpacing(18)
        for label in (self.who, self.shift_label, self.clock):
            row.addWidget(label)
            row.addSpacing(18)
        return bar

    def _status_bar(self) -> None:
        bar = QStatusBar()
        self.sync_status = SyncStatusLabel()
        self.printer_label = QLabel()
        self.scanner_label = QLabel("Scanner ready")
        self.scanner_label.setObjectName("ScannerStatus")
        bar.addWidget(self.sync_status)
        self.sync_now_button = QPushButton("Sync now")
        self.sync_now_button.setObjectName("SyncNowButton")
        self.sync_now_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.sync_now_button.setVisible(False)  # shown once a sync worker is connected
        self.sync_now_button.clicked.connect(self.sync_now)
        self.sync_now_handler: Callable[[], None] | None = None
        bar.addWidget(self.sync_now_button)
        bar.addWidget(self.printer_label)
        bar.addWidget(self.scanner_label)
        bar.addPermanentWidget(
            QLabel("F1 help · F2 search · F10 pay · F12 lock", objectName="KeyHint")
        )
        self.setStatusBar(bar)
        self._printer_state(self.ctx.receipts.state)

    def _shortcuts(self) -> None:
        bindings = {key: name for key, _, name in ACTIONS}
        bindings.update(
            {
                "F2": "search",
                "F10": "pay",
                "Esc": "escape",
                "Ctrl+B": "back_office",
                "Ctrl+D": "devices",
            }
        )
        self.shortcuts: list[QShortcut] = []
        for key, name in bindings.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda n=name: self.run_action(n))
            self.shortcuts.append(shortcut)
        self._program_shortcuts()  # hold/recall, e-receipt, customer display

    def _tick(self) -> None:
        self.clock.setText(datetime.now().strftime("%a %d %b  %H:%M"))

    def _printer_state(self, state: str) -> None:
        text = {
            "none": f"No printer · receipts saved as PDF in {self.ctx.receipts.pdf_dir}",
            "ready": "Printer ready",
            "printing": "Printing…",
        }.get(state, f"Printer: {state}")
        self.printer_label.setText(text)

    def sync_now(self) -> None:
        """Ask the sync worker to push and pull now, whatever its backoff says."""
        if self.sync_now_handler is None:
            return
        self.sync_now_handler()
        self.screen.notice.notify("Syncing with the server now…", kind="info", seconds=3)

    def refresh_pending(self) -> None:
        """Update the number of events waiting for the server."""
        self.ctx.query(queries.pending_events).success(self.sync_status.set_pending).failure(
            lambda _e: None
        ).run()

    # -- sign-in and lock ------------------------------------------------------------------

    @property
    def is_selling(self) -> bool:
        """Say whether the selling screen is up (not locked)."""
        return self.stack.currentWidget() is self.screen and self.cashier is not None

    def _signed_in(self, cashier: Cashier) -> None:
        if self.cashier is not None and self.cashier.user_id != cashier.user_id:
            # The last person's "change due" is not the next person's business.
            self.screen.notice.clear_notice()
        self.cashier = cashier
        self.idle.clock.touch()
        self.who.setText(f"{cashier.display_name} · {cashier.role.value.replace('_', ' ')}")
        self.back_office_button.setVisible(self.back_office_allowed())
        self.stack.setCurrentWidget(self.screen)
        self.pipeline.enabled = True
        self.screen.search.setFocus()
        self.release_scans()
        self.refresh_cart()
        if not self._quick_keys_loaded:
            # Loaded once per run: keys that move between sign-ins send hands to the wrong item.
            self._quick_keys_loaded = True
            codes = self.ctx.config.quick_keys
            self.ctx.query(lambda s: queries.quick_key_items(s, codes)).success(
                self.screen.set_quick_keys
            ).run()
        self.ctx.query(queries.till_rules).success(self._rules_loaded).run()
        self.refresh_pricing()
        self.ctx.query(queries.current_shift).success(self._shift_loaded).run()
        fallback = self.ctx.shop
        self.ctx.query(lambda s: shop_profile(s, fallback=fallback)).success(
            self._shop_loaded
        ).run()

    def _shop_loaded(self, shop: ShopInfo) -> None:
        """Name the shop and branch from the synced profile, not till.json's defaults."""
        branch = f" · {shop.branch_name}" if shop.branch_name else ""
        self.shop_label.setText(f"{shop.shop_name}{branch}")
        self.setWindowTitle(f"StockPilot Till · {shop.shop_name}{branch}")

    def _rules_loaded(self, rules: queries.TillRules) -> None:
        self.rules = rules
        self.cart.max_discount_percent = self.discount_limit

    def refresh_pricing(self) -> None:
        """Reload the pricing rules from the replica (they arrive with every pull)."""
        self.ctx.query(till_pricing).success(self._pricing_loaded).run()

    def _pricing_loaded(self, pricing: TillPricing) -> None:
        # A sale in progress keeps the rules it started with: prices do not jump mid-sale.
        self.pricing = pricing
        if self.cart.is_empty:
            self.cart.pricing = pricing

    @property
    def discount_limit(self) -> Decimal:
        """Return the discount a cashier may give alone: the server's rule, else the config."""
        limit = self.rules.max_discount_percent
        return limit if limit is not None else self.ctx.config.max_discount_percent

    def new_cart(self) -> Cart:
        """Return an empty cart under the current rules."""
        cart = Cart(max_discount_percent=self.discount_limit, currency=self.ctx.config.currency)
        cart.pricing = self.pricing
        return cart

    def lock(self) -> None:
        """Lock the till: the sale in progress is kept for when someone signs in again."""
        if self.cashier is None or self.stack.currentWidget() is self.login:
            return
        if showing(self.dialog):
            self.dialog.close()
        self.pipeline.enabled = False
        # Whoever unlocks next must not find a manager's back office open behind the till.
        self.close_back_office()
        self.back_office_button.setVisible(False)
        self.login.show_locked(self.cashier)
        self.stack.setCurrentWidget(self.login)

    def run_action(self, name: str) -> None:
        """Run a till action by name (buttons and F-keys)."""
        if name == "help":
            self._help()
            return
        if name == "devices":  # also from the sign-in screen: a manager's PIN opens it
            self.open_devices()
            return
        if not self.is_selling:
            return
        if name != "void_sale":
            self._void_armed = False
        if name != "void_line":
            self._void_line_armed = None
        handler = {
            "search": lambda: (self.screen.search.setFocus(), self.screen.search.selectAll()),
            "pay": self.pay,
            "escape": self._escape,
            "quantity": self.change_quantity,
            "discount": lambda: self.discount(order=False),
            "order_discount": lambda: self.discount(order=True),
            "price": self.change_price,
            "void_line": self.void_line,
            "void_sale": self.void_sale,
            "customer": self.choose_customer,
            "coupon": self.enter_coupon,
            "returns": self.start_return,
            "shift": self._shift_menu,
            "reprint": self.reprint,
            "lock": self.lock,
            "back_office": self.open_back_office,
        }.get(name)
        if handler is not None:
            handler()

    def _help(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information, "Keyboard", HELP, QMessageBox.StandardButton.Ok, self
        )
        box.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono'; }")
        self._open(box)

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        # While a dialog is up, a scan must not change the cart behind it (the payment dialog
        # may be recording that very cart): scan_blocker queues or refuses it aloud, and
        # dialogs that want scans divert them.
        # Back to the window once the dialog closes, so F-keys and scans keep working.
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        # Kiosk tills have no window manager to hand the keyboard to a new window.
        dialog.raise_()
        dialog.activateWindow()

    def _dialog_closed(self) -> None:
        if showing(self.dialog):
            return
        self.pipeline.enabled = self.is_selling
        self.raise_()
        self.activateWindow()
        if self.is_selling:
            self.screen.search.setFocus()
            # After this pass of the loop: the dialog leaves the modal stack once it is hidden.
            QTimer.singleShot(0, self.release_scans)

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
        self._poll.stop()
        self.close_back_office()
        super().closeEvent(event)


def warm_up() -> None:
    """Load what the first sale, return and shift close need (on the GUI thread).

    They load the sync protocol, which starting the till does not need. Importing while a
    PIN is checked hides the cost; importing on the DB thread would race PySide's import hook.
    """
    import pos_client.services.checkout
    import pos_client.services.returns
    import pos_client.services.shifts  # noqa: F401
