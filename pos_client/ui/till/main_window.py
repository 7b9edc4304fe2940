"""The till window: sign-in, selling, payments, returns, shifts; the flows between them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
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
from pos_client.services.changes import OpChanges
from pos_client.services.login import Cashier, IdleClock
from pos_client.services.queries import ShiftInfo
from pos_client.services.shop_profile import shop_profile
from pos_client.services.till import Cart
from pos_client.ui.till.back_office import BackOffice
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import showing
from pos_client.ui.till.login_screen import LoginScreen
from pos_client.ui.till.program_actions import PROGRAM_KEYS, ProgramController
from pos_client.ui.till.sale_actions import SaleController
from pos_client.ui.till.scan_actions import ScanController
from pos_client.ui.till.shell import empty_state
from pos_client.ui.till.shift_actions import ShiftController
from pos_client.ui.till.till_screen import ACTIONS, TillScreen
from pos_client.ui.widgets.idle import IdleWatcher
from pos_client.ui.widgets.sync_status import SyncStatusLabel

if TYPE_CHECKING:
    from pos_client.services.checkout import CompletedSale

HELP = "\n".join(f"{key:>9}   {label}" for key, label, _ in ACTIONS) + (
    "\n      F2   Search\n F10/Enter   Pay\n     Esc   Cancel / clear search"
    "\n  Ctrl+B   Back office (managers)\n  Ctrl+D   Scanner and printer (managers)"
    + "".join(f"\n{key:>12}   {label}" for key, label, _ in PROGRAM_KEYS)
    + "\n  F4 / F6   Gift card / UPI (in the payment dialog)"
)


class TillWindow(QMainWindow):
    """The cashier's window: it owns the till's state and controllers and wires keys to them.

    Each flow lives in a controller built here with what it needs (sale, scans, shifts,
    customer programs, back office). Commands publish what they changed on `ctx.changes`, and
    the window refreshes what shows it (pending count, pricing, search results) from there.
    """

    devices_saved = Signal(object)  # TillConfig: the composition root applies and saves it

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(f"StockPilot Till · {ctx.config.shop_name}")
        self.state = empty_state(ctx.config)
        self.dialog: QWidget | None = None
        self._quick_keys_loaded = False
        self.after_sale: Callable[[], None] | None = None

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._top_bar())
        self.stack = QStackedWidget()
        self.login = LoginScreen(ctx=ctx)
        self.sale_screen = TillScreen(currency=ctx.config.currency)
        self.stack.addWidget(self.login)
        self.stack.addWidget(self.sale_screen)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._status_bar()

        self.pipeline = ScanPipeline(
            runner=ctx.runner, cart_source=lambda: self.state.cart, parent=self
        )
        self.pipeline.enabled = False
        self.scans = ScanController(
            ctx=ctx,
            host=self,
            state=self.state,
            pipeline=self.pipeline,
            screen=self.sale_screen,
            login=self.login,
            scanner_label=self.scanner_label,
            devices_saved=self.devices_saved.emit,
        )
        self.shifts = ShiftController(
            ctx=ctx,
            host=self,
            state=self.state,
            pipeline=self.pipeline,
            screen=self.sale_screen,
            shift_label=self.shift_label,
            sync_status=self.sync_status,
        )
        self.programs = ProgramController(
            ctx=ctx,
            host=self,
            state=self.state,
            screen=self.sale_screen,
            refresh_cart=self.refresh_cart,
        )
        self.sales = SaleController(
            ctx=ctx,
            host=self,
            state=self.state,
            pipeline=self.pipeline,
            screen=self.sale_screen,
            sync_status=self.sync_status,
            open_shift=self.shifts.start_open_shift,
            add_tenders=self.programs.attach_program_tenders,
            cart_shown=self.programs.update_customer_display,
        )
        self.office = BackOffice(ctx=ctx, host=self, state=self.state, screen=self.sale_screen)

        self.login.signed_in.connect(self._signed_in)
        self.login.submitted.connect(warm_up)
        self.sale_screen.search_changed.connect(self.sales.search)
        self.sale_screen.product_chosen.connect(self.sales.add_item)
        self.sale_screen.action.connect(self.run_action)
        self.sale_screen.pay_requested.connect(self.sales.pay)
        self._shortcuts()

        self.idle = IdleWatcher(clock=IdleClock(timeout_s=ctx.config.idle_lock_s), parent=self)
        self.idle.idle.connect(self.lock)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.idle)
        # Screens refresh when a command or a sync says what it changed; nothing polls.
        ctx.changes.changed.connect(self.apply_changes)
        # The clock is the one thing that changes with time alone.
        self._clock_timer = QTimer(self, interval=15_000)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start()
        ctx.receipts.state_changed.connect(self._printer_state)
        ctx.receipts.job_failed.connect(
            lambda _job, reason: self.sale_screen.notice.notify(
                f"Receipt not printed: {reason}. Ctrl+P to reprint.", kind="warn"
            )
        )
        self.refresh_pending()
        self._tick()
        self.stack.setCurrentWidget(self.login)
        self.resize(1366, 768)

    # -- what the controllers share (TillHost) ---------------------------------------------

    @property
    def widget(self) -> QWidget:
        """Return this window: the parent of the controllers' dialogs."""
        return self

    @property
    def cart(self) -> Cart:
        """Return the sale in progress."""
        return self.state.cart

    @property
    def cashier(self) -> Cashier | None:
        """Return who is signed in (kept while the till is locked)."""
        return self.state.cashier

    @property
    def shift(self) -> ShiftInfo | None:
        """Return the open shift, if any."""
        return self.state.shift

    @property
    def last_sale(self) -> CompletedSale | None:
        """Return the last sale completed on this till since it started."""
        return self.state.last_sale

    def nudge_sync(self) -> None:
        """Ask the sync worker to send what was just written (after a sale, a hold…)."""
        if self.after_sale is not None:
            self.after_sale()

    def apply_changes(self, changes: OpChanges) -> None:
        """Refresh what shows the data a command or a sync cycle changed."""
        if changes.outbox:
            self.refresh_pending()
        if changes.catalog:
            self.sales.refresh_pricing()  # a sale in progress keeps its prices
        if (changes.catalog or changes.stock) and self.is_selling:
            text = self.sale_screen.search.text()
            if text.strip() and self.sale_screen.results.isVisible():
                self.sales.search(text)  # the results show stock and prices

    def refresh_cart(self, *, select: str | None = None) -> None:
        """Redraw the cart table and totals."""
        self.sales.refresh_cart(select=select)

    # -- chrome ----------------------------------------------------------------------------

    def _top_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("TopBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        bar.setFixedHeight(56)
        row = QHBoxLayout(bar)
        row.setContentsMargins(18, 0, 18, 0)
        row.setSpacing(0)
        row.addWidget(_named(QLabel("Stock"), "Brand"))
        row.addWidget(_named(QLabel("Pilot"), "BrandAccent"))
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
            _named(QLabel("F1 help · F2 search · F10 pay · F12 lock"), "KeyHint")
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
        self.shortcuts += self.programs.shortcuts()  # hold/recall, e-receipt, customer display

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
        self.sale_screen.notice.notify("Syncing with the server now…", kind="info", seconds=3)

    def refresh_pending(self) -> None:
        """Update the number of events waiting for the server."""
        self.ctx.query(queries.pending_events).success(self.sync_status.set_pending).failure(
            lambda _e: None
        ).run()

    # -- sign-in and lock ------------------------------------------------------------------

    @property
    def is_selling(self) -> bool:
        """Say whether the selling screen is up (not locked)."""
        return self.stack.currentWidget() is self.sale_screen and self.cashier is not None

    def _signed_in(self, cashier: Cashier) -> None:
        if self.state.cashier is not None and self.state.cashier.user_id != cashier.user_id:
            # The last person's "change due" is not the next person's business.
            self.sale_screen.notice.clear_notice()
        self.state.cashier = cashier
        self.idle.clock.touch()
        self.who.setText(f"{cashier.display_name} · {cashier.role.value.replace('_', ' ')}")
        self.back_office_button.setVisible(self.office.allowed())
        self.stack.setCurrentWidget(self.sale_screen)
        self.pipeline.enabled = True
        self.sale_screen.search.setFocus()
        self.scans.release_scans()
        self.refresh_cart()
        if not self._quick_keys_loaded:
            # Loaded once per run: keys that move between sign-ins send hands to the wrong item.
            self._quick_keys_loaded = True
            codes = self.ctx.config.quick_keys
            self.ctx.query(lambda s: queries.quick_key_items(s, codes)).success(
                self.sale_screen.set_quick_keys
            ).run()
        self.ctx.query(queries.till_rules).success(self._rules_loaded).run()
        self.sales.refresh_pricing()
        self.ctx.query(queries.current_shift).success(self.shifts.shift_loaded).run()
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
        self.state.rules = rules
        self.cart.max_discount_percent = self.state.discount_limit(self.ctx.config)

    def lock(self) -> None:
        """Lock the till: the sale in progress is kept for when someone signs in again."""
        cashier = self.state.cashier
        if cashier is None or self.stack.currentWidget() is self.login:
            return
        if self.dialog is not None and showing(self.dialog):
            self.dialog.close()
        self.pipeline.enabled = False
        # Whoever unlocks next must not find a manager's back office open behind the till.
        self.office.close()
        self.back_office_button.setVisible(False)
        self.login.show_locked(cashier)
        self.stack.setCurrentWidget(self.login)

    def run_action(self, name: str) -> None:
        """Run a till action by name (buttons and F-keys)."""
        if name == "help":
            self._help()
            return
        if name == "devices":  # also from the sign-in screen: a manager's PIN opens it
            self.scans.open_devices()
            return
        if not self.is_selling:
            return
        sales = self.sales
        sales.disarm(keep=name)
        handler: Callable[[], object] | None = {
            "search": self._focus_search,
            "pay": sales.pay,
            "escape": sales.escape,
            "quantity": sales.change_quantity,
            "discount": lambda: sales.discount(order=False),
            "order_discount": lambda: sales.discount(order=True),
            "price": sales.change_price,
            "void_line": sales.void_line,
            "void_sale": sales.void_sale,
            "customer": sales.choose_customer,
            "coupon": sales.enter_coupon,
            "returns": self.shifts.start_return,
            "shift": self.shifts.shift_menu,
            "reprint": sales.reprint,
            "lock": self.lock,
            "back_office": self.office.open,
        }.get(name)
        if handler is not None:
            handler()

    def _focus_search(self) -> None:
        self.sale_screen.search.setFocus()
        self.sale_screen.search.selectAll()

    def _help(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information, "Keyboard", HELP, QMessageBox.StandardButton.Ok, self
        )
        box.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono'; }")
        self.open_dialog(box)

    def open_dialog(self, dialog: QDialog) -> None:
        """Open a dialog in front of the till; the keyboard comes back when it closes."""
        self.dialog = dialog
        # While a dialog is up, a scan must not change the cart behind it (the payment dialog
        # may be recording that very cart): scan_blocker queues or refuses it aloud, and
        # dialogs that want scans divert them.
        # Back to the window once the dialog closes, so F-keys and scans keep working.
        dialog.finished.connect(self.dialog_closed)
        dialog.open()
        # Kiosk tills have no window manager to hand the keyboard to a new window.
        dialog.raise_()
        dialog.activateWindow()

    def dialog_closed(self) -> None:
        """Give the keyboard and the held scans back to the till."""
        if showing(self.dialog):
            return
        self.pipeline.enabled = self.is_selling
        self.raise_()
        self.activateWindow()
        if self.is_selling:
            self.sale_screen.search.setFocus()
            # After this pass of the loop: the dialog leaves the modal stack once it is hidden.
            QTimer.singleShot(0, self, self.scans.release_scans)

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
        self._clock_timer.stop()
        self.office.close()
        super().closeEvent(event)


def _named(label: QLabel, name: str) -> QLabel:
    label.setObjectName(name)
    return label


def warm_up() -> None:
    """Load what the first sale, return and shift close need (on the GUI thread).

    They load the sync protocol, which starting the till does not need. Importing while a
    PIN is checked hides the cost; importing on the DB thread would race PySide's import hook.
    """
    import pos_client.services.checkout
    import pos_client.services.returns
    import pos_client.services.shifts  # noqa: F401
