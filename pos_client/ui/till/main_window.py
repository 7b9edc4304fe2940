"""The till window: sign-in, selling, payments, returns, shifts; the flows between them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from common.errors import DomainError, ValidationFailed
from pos_client.scanners.pipeline import ScanPipeline
from pos_client.services import queries, returns, shifts
from pos_client.services.checkout import CompletedSale, complete_sale
from pos_client.services.login import Cashier, IdleClock
from pos_client.services.shifts import ShiftInfo, ZReport
from pos_client.services.till import Cart, CartLine, CatalogItem, Override, OverrideRequired
from pos_client.store import outbox
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.customer_dialog import CustomerDialog
from pos_client.ui.till.dialogs import ValueDialog, ask_override
from pos_client.ui.till.login_screen import LoginScreen
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.returns_dialog import ReturnsDialog
from pos_client.ui.till.shift_dialogs import AmountDialog, ZReportDialog
from pos_client.ui.till.till_screen import ACTIONS, TillScreen
from pos_client.ui.widgets.idle import IdleWatcher
from pos_client.ui.widgets.messages import explain, show_error
from pos_client.ui.widgets.sync_status import SyncStatusLabel

HELP = "\n".join(f"{key:>9}   {label}" for key, label, _ in ACTIONS) + (
    "\n      F2   Search\n F10/Enter   Pay\n     Esc   Cancel / clear search"
)


class TillWindow(QMainWindow):
    """The cashier's window; every store access goes through the context's ops."""

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(f"StockPilot Till · {ctx.config.shop_name}")
        self.cart = Cart(max_discount_percent=ctx.config.max_discount_percent)
        self.cashier: Cashier | None = None
        self.shift: ShiftInfo | None = None
        self.last_sale: CompletedSale | None = None
        self.last_report: ZReport | None = None
        self.dialog: QWidget | None = None
        self._void_armed = False
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
        self.pipeline.rejected.connect(lambda text: self.screen.notice.notify(text, kind="error"))

        self.login.signed_in.connect(self._signed_in)
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
        self.resize(1366, 800)

    # -- chrome ----------------------------------------------------------------------------

    def _top_bar(self) -> QWidget:
        bar = QWidget(objectName="TopBar")
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
        row.addWidget(QLabel(f"{shop}" + (f" · {branch}" if branch else "")))
        row.addStretch(1)
        self.who = QLabel()
        self.shift_label = QLabel()
        self.clock = QLabel()
        for label in (self.who, self.shift_label, self.clock):
            row.addWidget(label)
            row.addSpacing(18)
        return bar

    def _status_bar(self) -> None:
        bar = QStatusBar()
        self.sync_status = SyncStatusLabel()
        self.printer_label = QLabel()
        self.scanner_label = QLabel("Scanner ready")
        bar.addWidget(self.sync_status)
        bar.addWidget(self.printer_label)
        bar.addWidget(self.scanner_label)
        bar.addPermanentWidget(
            QLabel("F1 help · F2 search · F10 pay · F12 lock", objectName="KeyHint")
        )
        self.setStatusBar(bar)
        self._printer_state(self.ctx.receipts.state)

    def _shortcuts(self) -> None:
        bindings = {key: name for key, _, name in ACTIONS}
        bindings.update({"F2": "search", "F10": "pay", "Esc": "escape"})
        self.shortcuts: list[QShortcut] = []
        for key, name in bindings.items():
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda n=name: self.run_action(n))
            self.shortcuts.append(shortcut)

    def _tick(self) -> None:
        self.clock.setText(datetime.now().strftime("%a %d %b  %H:%M"))

    def _printer_state(self, state: str) -> None:
        text = {
            "none": "No receipt printer",
            "ready": "Printer ready",
            "printing": "Printing…",
        }.get(state, f"Printer: {state}")
        self.printer_label.setText(text)

    def set_scanner_status(self, status: str) -> None:
        """Show the serial scanner's state."""
        self.scanner_label.setText(f"Scanner: {status}")

    def refresh_pending(self) -> None:
        """Update the number of events waiting for the server."""
        self.ctx.query(outbox.pending_count).success(self.sync_status.set_pending).failure(
            lambda _e: None
        ).run()

    # -- sign-in, lock, shift --------------------------------------------------------------

    @property
    def is_selling(self) -> bool:
        """Say whether the selling screen is up (not locked)."""
        return self.stack.currentWidget() is self.screen and self.cashier is not None

    def _signed_in(self, cashier: Cashier) -> None:
        self.cashier = cashier
        self.idle.clock.touch()
        self.who.setText(f"{cashier.display_name} · {cashier.role.value.replace('_', ' ')}")
        self.stack.setCurrentWidget(self.screen)
        self.pipeline.enabled = True
        self.screen.search.setFocus()
        self.refresh_cart()
        codes = self.ctx.config.quick_keys
        self.ctx.query(lambda s: queries.quick_key_items(s, codes)).success(
            self.screen.set_quick_keys
        ).run()
        self.ctx.query(shifts.current_shift).success(self._shift_loaded).run()

    def _shift_loaded(self, shift: ShiftInfo | None) -> None:
        self._set_shift(shift)
        if shift is None:
            self.start_open_shift()

    def _set_shift(self, shift: ShiftInfo | None) -> None:
        self.shift = shift
        self.shift_label.setText(
            f"Shift since {shift.opened_at.astimezone():%H:%M}" if shift else "No open shift"
        )

    def lock(self) -> None:
        """Lock the till: the sale in progress is kept for when someone signs in again."""
        if self.cashier is None or self.stack.currentWidget() is self.login:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.close()
        self.pipeline.enabled = False
        self.login.show_locked(self.cashier)
        self.stack.setCurrentWidget(self.login)

    def start_open_shift(self) -> None:
        """Ask for the opening float and open a shift."""
        dialog = AmountDialog(
            title="Open shift", prompt="Cash float in the drawer", initial="0", parent=self
        )
        cashier = self.cashier

        def submitted(amount: Decimal, _reason: str, _direction: str) -> None:
            self.ctx.command(
                lambda s: shifts.open_shift(s, cashier=cashier, opening_float=amount)
            ).success(
                lambda shift: (self._set_shift(shift), dialog.accept(), self.refresh_pending())
            ).failure(dialog.fail).run()

        dialog.submitted.connect(submitted)
        self._open(dialog)

    def start_cash_movement(self) -> None:
        """Put cash into or take it out of the drawer, with a reason."""
        if self.shift is None:
            self.start_open_shift()
            return
        dialog = AmountDialog(
            title="Cash in / out",
            prompt="Amount",
            with_reason=True,
            with_direction=True,
            parent=self,
        )
        cashier, shift_id = self.cashier, self.shift.shift_id

        def submitted(amount: Decimal, reason: str, direction: str) -> None:
            self.ctx.command(
                lambda s: shifts.move_cash(
                    s,
                    cashier=cashier,
                    shift_id=shift_id,
                    direction=direction,
                    amount=amount,
                    reason=reason,
                )
            ).success(
                lambda _: (
                    dialog.accept(),
                    self.refresh_pending(),
                    self.screen.notice.notify(f"Cash {direction}: {amount}", kind="info"),
                )
            ).failure(dialog.fail).run()

        dialog.submitted.connect(submitted)
        self._open(dialog)

    def start_close_shift(self) -> None:
        """Count the drawer, close the shift and show the Z report."""
        if self.shift is None:
            self.screen.notice.notify("No shift is open", kind="warn")
            return
        pending = self.sync_status.pending
        warning = (
            f"{pending} events are still waiting to be sent to the server. They are "
            "kept and will be sent when the till is online."
            if pending
            else ""
        )
        dialog = AmountDialog(
            title="Close shift", prompt="Counted cash in the drawer", warning=warning, parent=self
        )
        cashier, shift_id = self.cashier, self.shift.shift_id

        def submitted(amount: Decimal, _reason: str, _direction: str) -> None:
            self.ctx.command(
                lambda s: shifts.close_shift(
                    s, cashier=cashier, shift_id=shift_id, counted_cash=amount
                )
            ).success(lambda report: (dialog.accept(), self._shift_closed(report))).failure(
                dialog.fail
            ).run()

        dialog.submitted.connect(submitted)
        self._open(dialog)

    def _shift_closed(self, report: ZReport) -> None:
        self.last_report = report
        self._set_shift(None)
        self.refresh_pending()
        view = ZReportDialog(
            report=report,
            currency=self.ctx.config.currency,
            width=self.ctx.config.receipt_width,
            parent=self,
        )

        def save() -> None:
            path = self.ctx.receipts.save_report_pdf(
                title=view.title, rows=view.rows, name=f"zreport-{report.shift_id}"
            )
            view.saved.setText(f"Saved {path}")

        view.save_requested.connect(save)
        view.finished.connect(lambda _: self.start_open_shift())
        self._open(view)

    # -- cart ------------------------------------------------------------------------------

    def add_item(self, item: CatalogItem) -> None:
        """Add a product chosen by search or quick key."""
        if not self.is_selling:
            return
        try:
            line = self.cart.add(item)
        except DomainError as exc:
            self.screen.notice.notify(explain(exc), kind="error")
            return
        self._line_added(line)

    def _line_added(self, line: CartLine) -> None:
        self.refresh_cart(select=line.line_id)
        if line.item.is_low and line.item.on_hand is not None:
            self.screen.notice.notify(
                f"Low stock: {line.item.on_hand.normalize():f} left of {line.item.name}",
                kind="warn",
                seconds=4,
            )

    def refresh_cart(self, *, select: str | None = None) -> None:
        """Redraw the cart table and totals."""
        self.screen.cart_model.show_cart(self.cart)
        self.screen.totals.show_totals(self.cart.totals() if self.cart.lines else None)
        self.screen.totals.show_customer(self.cart.customer)
        self.screen.select_line(
            select or (self.cart.lines[-1].line_id if self.cart.lines else None)
        )

    def _search(self, text: str) -> None:
        if not text.strip():
            self.screen.show_results(text, [])
            return
        self.ctx.query(lambda s: queries.search_products(s, text)).success(
            lambda items: self.screen.show_results(text, items)
        ).run()

    def run_action(self, name: str) -> None:
        """Run a till action by name (buttons and F-keys)."""
        if name == "help":
            self._help()
            return
        if not self.is_selling:
            return
        if name != "void_sale":
            self._void_armed = False
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
            "returns": self.start_return,
            "shift": self._shift_menu,
            "reprint": self.reprint,
            "lock": self.lock,
        }.get(name)
        if handler is not None:
            handler()

    def _escape(self) -> None:
        self.screen.search.clear()
        self.screen.results.setVisible(False)
        self.screen.cart.clearSelection()
        self.screen.search.setFocus()

    def _with_override(self, attempt: Callable[[Override | None], object], *, action: str) -> bool:
        """Try an action; if it needs a manager, ask for approval and try again."""
        try:
            attempt(None)
        except OverrideRequired as exc:
            ask_override(
                parent=self,
                ctx=self.ctx,
                action=action,
                reason=exc.detail,
                then=lambda ov: self._retry(attempt, ov),
            )
            return False
        return True

    def _retry(self, attempt: Callable[[Override | None], object], override: Override) -> None:
        try:
            attempt(override)
        except DomainError as exc:
            show_error(self, exc)
            return
        self.screen.notice.notify(f"Approved by {override.manager_name}", kind="info")
        self.refresh_cart(select=self.screen.selected_line_id())

    def _ask_value(
        self, *, title: str, prompt: str, initial: str, apply: Callable[[str, ValueDialog], None]
    ) -> ValueDialog:
        dialog = ValueDialog(title=title, prompt=prompt, initial=initial, parent=self)
        dialog.submitted.connect(lambda text: apply(text, dialog))
        self._open(dialog)
        dialog.value.setFocus()
        dialog.value.selectAll()
        return dialog

    def change_quantity(self) -> None:
        """Change the quantity of the selected line (F4)."""
        line_id = self.screen.selected_line_id()
        if line_id is None:
            return
        line = self.cart.line(line_id)

        def apply(text: str, dialog: ValueDialog) -> None:
            try:
                self.cart.set_quantity(line_id, _decimal(text))
            except DomainError as exc:
                dialog.fail(exc)
                return
            dialog.accept()
            self.refresh_cart(select=line_id)

        self._ask_value(
            title="Quantity",
            prompt=f"{line.item.name} ({line.item.unit.value})",
            initial=f"{line.quantity.normalize():f}",
            apply=apply,
        )

    def discount(self, *, order: bool) -> None:
        """Discount the selected line (F5) or the order (Shift+F5): 10% or an amount."""
        line_id = self.screen.selected_line_id()
        if line_id is None:
            return
        what = "the whole order" if order else self.cart.line(line_id).item.name

        def apply(text: str, dialog: ValueDialog) -> None:
            try:
                kwargs = _discount_args(text)

                def attempt(override: Override | None) -> None:
                    if order:
                        self.cart.set_order_discount(override=override, **kwargs)
                    else:
                        self.cart.set_line_discount(line_id, override=override, **kwargs)

                done = self._with_override(attempt, action="discount")
            except DomainError as exc:
                dialog.fail(exc)
                return
            dialog.accept()
            if done:
                self.refresh_cart(select=line_id)

        self._ask_value(
            title="Discount",
            prompt=f"Discount on {what}: 10% or an amount",
            initial="",
            apply=apply,
        )

    def change_price(self) -> None:
        """Sell the selected line at another price (F6, needs a manager)."""
        line_id = self.screen.selected_line_id()
        if line_id is None:
            return
        line = self.cart.line(line_id)

        def apply(text: str, dialog: ValueDialog) -> None:
            try:
                price = _decimal(text)
                done = self._with_override(
                    lambda ov: self.cart.override_price(line_id, unit_price=price, override=ov),
                    action="price_override",
                )
            except DomainError as exc:
                dialog.fail(exc)
                return
            dialog.accept()
            if done:
                self.refresh_cart(select=line_id)

        self._ask_value(
            title="Price",
            prompt=f"New unit price for {line.item.name}",
            initial=f"{line.unit_price}",
            apply=apply,
        )

    def void_line(self) -> None:
        """Remove the selected line (F8)."""
        line_id = self.screen.selected_line_id()
        if line_id is not None:
            self.cart.remove(line_id)
            self.refresh_cart()

    def void_sale(self) -> None:
        """Void the whole sale (F7 twice, so one stray key never loses a sale)."""
        if self.cart.is_empty:
            return
        if not self._void_armed:
            self._void_armed = True
            self.screen.notice.notify(
                "Press F7 again to void the whole sale", kind="warn", seconds=3
            )
            QTimer.singleShot(3000, lambda: setattr(self, "_void_armed", False))
            return
        self._void_armed = False
        self.cart.clear()
        self.refresh_cart()
        self.screen.notice.notify("Sale voided", kind="info", seconds=3)

    def choose_customer(self) -> None:
        """Attach a customer to the sale (F9), or create one offline."""
        dialog = CustomerDialog(ctx=self.ctx, parent=self)
        dialog.chosen.connect(
            lambda c: (self.cart.set_customer(c), self.refresh_cart(), self.refresh_pending())
        )
        self._open(dialog)
        dialog.search.setFocus()

    # -- payment ---------------------------------------------------------------------------

    def pay(self) -> None:
        """Open the payment dialog (F10 / Enter)."""
        if not self.is_selling or self.cart.is_empty:
            return
        if self.shift is None:
            self.start_open_shift()
            return
        dialog = PaymentDialog(
            total=self.cart.totals().total,
            customer=self.cart.customer,
            currency=self.ctx.config.currency,
            parent=self,
        )
        dialog.paid.connect(lambda payments: self._complete(dialog, payments))
        self._open(dialog)
        dialog.amount.setFocus()
        dialog.amount.selectAll()

    def _complete(self, dialog: PaymentDialog, payments: list) -> None:
        cart, cashier, shift_id, shop = self.cart, self.cashier, self.shift.shift_id, self.ctx.shop
        self.ctx.command(
            lambda s: complete_sale(
                s, cart=cart, payments=payments, cashier=cashier, shift_id=shift_id, shop=shop
            )
        ).success(lambda done: self._completed(dialog, done)).failure(dialog.fail).run()

    def _completed(self, dialog: PaymentDialog, done: CompletedSale) -> None:
        dialog.accept()
        self.last_sale = done
        self.ctx.receipts.print_receipt(done.receipt, job_id=done.sale_id)
        self.cart = Cart(max_discount_percent=self.ctx.config.max_discount_percent)
        self.refresh_cart()
        money = self.screen.totals.money
        change = f"Change {money(done.change_due)} · " if done.change_due else ""
        self.screen.notice.notify(
            f"{change}Sale complete · receipt {done.receipt_number}", kind="success", seconds=8
        )
        self.screen.search.setFocus()
        self.refresh_pending()
        if self.after_sale is not None:
            self.after_sale()

    def reprint(self) -> None:
        """Print a copy of the last receipt (Ctrl+P)."""
        if self.ctx.receipts.reprint_last():
            self.screen.notice.notify("Reprinting the last receipt", kind="info", seconds=3)
        elif self.ctx.receipts.last is not None:
            path = self.ctx.receipts.save_pdf(self.ctx.receipts.last)
            self.screen.notice.notify(f"No printer: receipt saved as {path}", kind="info")
        else:
            self.screen.notice.notify("No receipt to reprint yet", kind="warn", seconds=3)

    # -- returns and shift menu ------------------------------------------------------------

    def start_return(self) -> None:
        """Open the returns dialog (F3); scans go to it while it is open."""
        if self.shift is None:
            self.start_open_shift()
            return
        dialog = ReturnsDialog(ctx=self.ctx, parent=self)
        self.pipeline.divert_to = dialog.take_scan
        dialog.finished.connect(lambda _: setattr(self.pipeline, "divert_to", None))
        cashier, shift_id, shop = self.cashier, self.shift.shift_id, self.ctx.shop

        def with_receipt(sale_id: str, quantities: dict) -> None:
            reason = dialog.reason.text()
            self.ctx.command(
                lambda s: returns.return_with_receipt(
                    s,
                    sale_id=sale_id,
                    quantities=quantities,
                    cashier=cashier,
                    shift_id=shift_id,
                    reason=reason,
                    shop=shop,
                )
            ).success(lambda done: self._returned(dialog, done)).failure(dialog.fail).run()

        def without_receipt(items: list, override: Override) -> None:
            reason = dialog.reason.text()
            self.ctx.command(
                lambda s: returns.return_without_receipt(
                    s,
                    items=items,
                    cashier=cashier,
                    shift_id=shift_id,
                    override=override,
                    reason=reason,
                    shop=shop,
                )
            ).success(lambda done: self._returned(dialog, done)).failure(dialog.fail).run()

        dialog.with_receipt.connect(with_receipt)
        dialog.without_receipt.connect(without_receipt)
        self._open(dialog)
        dialog.code.setFocus()

    def _returned(self, dialog: ReturnsDialog, done: returns.RecordedReturn) -> None:
        dialog.accept()
        self.ctx.receipts.print_receipt(done.receipt, job_id=done.return_id)
        methods = ", ".join(f"{r.method.value} {r.amount}" for r in done.refunds)
        self.screen.notice.notify(
            f"Refund {self.screen.totals.money(done.total)} ({methods}) · "
            f"receipt {done.receipt_number}",
            kind="success",
        )
        self.refresh_pending()

    def _shift_menu(self) -> None:
        dialog = ValueDialog(
            title="Shift",
            prompt="1 = cash in / out   2 = close shift (Z report)",
            initial="",
            parent=self,
        )

        def apply(text: str, d: ValueDialog) -> None:
            if text not in ("1", "2"):
                d.fail("Type 1 or 2")
                return
            d.accept()
            (self.start_cash_movement if text == "1" else self.start_close_shift)()

        dialog.submitted.connect(lambda text: apply(text, dialog))
        self._open(dialog)

    def _help(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information, "Keyboard", HELP, QMessageBox.StandardButton.Ok, self
        )
        box.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono'; }")
        box.open()

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        # Back to the window once the dialog closes, so F-keys and scans keep working.
        dialog.finished.connect(self._dialog_closed)
        dialog.open()

    def _dialog_closed(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            return
        self.activateWindow()
        if self.is_selling:
            self.screen.search.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.idle)
        self._poll.stop()
        super().closeEvent(event)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        raise ValidationFailed(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValidationFailed(f"{text!r} is not a number")
    return value


def _discount_args(text: str) -> dict[str, Decimal]:
    text = text.strip()
    if text.endswith("%"):
        return {"percent": _decimal(text[:-1])}
    return {"amount": _decimal(text)}
