"""Customer programs at the till: hold and recall sales, gift card, UPI and points tenders,
the customer display, e-mailing the receipt, selling gift cards, collecting online orders.

A controller the till window owns: it is given the window (as a `TillHost`), the shared
state (the cart, the last sale, the sync engine), the till screen and a way to redraw the
cart. Keys: Ctrl+H hold, Ctrl+R recall, Ctrl+E e-mail the last receipt, Ctrl+Shift+D
customer display, Ctrl+G sell a gift card, Ctrl+O collect an order; in the payment dialog
F4 gift card, F6 UPI, F7 points. The services are imported where they are used, like
checkout in sale_actions: they load the sync protocol (pydantic, httpx), which starting the
till does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QWidget
from sqlalchemy.orm import Session

from common import giftcards as card_numbers
from common.codes import Tender
from common.errors import ValidationFailed
from common.money import format_money
from pos_client.services.changes import OpChanges
from pos_client.services.till import Cart, Payment
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import button
from pos_client.ui.till.payment import parse_amount
from pos_client.ui.till.program_dialogs import (
    EmailReceiptDialog,
    GiftCardDialog,
    HeldSalesDialog,
    PickupDialog,
    SellCardDialog,
    UpiDialog,
    words,
)
from pos_client.ui.till.shell import TillHost, TillState
from pos_client.ui.till.till_screen import TillScreen

if TYPE_CHECKING:
    from common.schemas.pickup import PickupRead
    from pos_client.services import display, ereceipts, giftcards, held_sales, loyalty
    from pos_client.services.sync_engine import SyncEngine
    from pos_client.ui.till.customer_display import CustomerDisplay
    from pos_client.ui.till.payment import PaymentDialog

PROGRAM_KEYS = (
    ("Ctrl+H", "Hold sale", "hold"),
    ("Ctrl+R", "Recall held sale", "recall"),
    ("Ctrl+E", "E-mail last receipt", "email_receipt"),
    ("Ctrl+Shift+D", "Customer display", "customer_display"),
    ("Ctrl+G", "Sell a gift card", "sell_card"),
    ("Ctrl+O", "Collect an online order", "pickup"),
)
PAYMENT_KEYS = (("F4", "Gift card", "gift_card"), ("F6", "UPI", "upi"), ("F7", "Points", "points"))


HELD = OpChanges(sale=True, outbox=True)  # a held sale is queued for the branch's tills
CARD_SOLD = OpChanges(outbox=True, shift=True)  # its cash goes in the drawer
QUEUED = OpChanges(outbox=True)
POINTS = OpChanges(customer=True)  # the customer's points as last heard
SEEN = OpChanges()  # a balance remembered for offline use: nothing a screen shows


class ProgramController:
    """Hold/recall, gift card and UPI tenders, customer display, e-receipts."""

    def __init__(
        self,
        *,
        ctx: TillContext,
        host: TillHost,
        state: TillState,
        screen: TillScreen,
        refresh_cart: Callable[[], None],
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.state = state
        self.screen = screen
        self.refresh_cart = refresh_cart
        self.customer_display: CustomerDisplay | None = None
        self.upi_dialog: UpiDialog | None = None
        self.points_note = ""
        self._points_shown_for: int | None = None

    @property
    def cart(self) -> Cart:
        """Return the sale in progress."""
        return self.state.cart

    @property
    def sync_engine(self) -> SyncEngine | None:
        """Return the sync engine, once sync runs (None: offline-only till)."""
        return self.state.sync_engine

    @property
    def parent(self) -> QWidget:
        """Return the window the programs' dialogs open over."""
        return self.host.widget

    def shortcuts(self) -> list[QShortcut]:
        """Bind the programs' keys (Ctrl+H, Ctrl+R…) on the window."""
        made = []
        for key, _, name in PROGRAM_KEYS:
            shortcut = QShortcut(QKeySequence(key), self.parent)
            shortcut.activated.connect(lambda n=name: self.run_program_action(n))
            made.append(shortcut)
        return made

    def run_program_action(self, name: str) -> None:
        """Run a customer-program action by name (its shortcut)."""
        dialog = self.host.dialog
        if not self.host.is_selling or dialog is not None and dialog.isVisible():
            return
        {
            "hold": self.hold_sale,
            "recall": self.recall_sale,
            "email_receipt": self.email_last_receipt,
            "customer_display": self.toggle_customer_display,
            "sell_card": self.sell_gift_card,
            "pickup": self.collect_order,
        }[name]()

    # -- click-and-collect ---------------------------------------------------------------

    def collect_order(self) -> None:
        """Find an online order by number and hand it over, taking what is due in cash."""
        from pos_client.qt.device_calls import call_server
        from pos_client.services import pickups

        engine = self.sync_engine
        if engine is None:
            self.screen.notice.notify("Collecting orders needs the server", kind="warn")
            return
        shift = self.state.shift
        if shift is None:
            self.screen.notice.notify("Open a shift before collecting an order", kind="warn")
            return
        dialog = PickupDialog(currency=self.ctx.config.currency, parent=self.parent)
        cashier, shift_id = self.state.cashier, shift.shift_id
        assert cashier is not None  # orders are collected while someone is signed in

        def collected(order: PickupRead) -> None:
            dialog.accept()
            self.screen.notice.notify(
                f"Order {order.number} handed over to {order.customer}", kind="info"
            )

        dialog.find_order.connect(
            lambda number: call_server(
                engine,
                lambda e: pickups.find(e, number=number),
                success=dialog.show_order,
                failure=dialog.show_error,
                parent=dialog,
            )
        )
        dialog.collect.connect(
            lambda number, due: call_server(
                engine,
                lambda e: pickups.collect(
                    e,
                    number=number,
                    amount=due,
                    method="cash",
                    reference="",
                    cashier=cashier,
                    shift_id=shift_id,
                ),
                success=collected,
                failure=dialog.show_error,
                parent=dialog,
            )
        )
        self.host.open_dialog(dialog)
        dialog.number.setFocus()

    # -- selling a gift card -------------------------------------------------------------

    def sell_gift_card(self) -> None:
        """Sell a gift card for cash (its cash goes in the drawer as a cash-in)."""
        from pos_client.services import giftcards

        shift = self.state.shift
        if shift is None:
            self.screen.notice.notify("Open a shift before selling a gift card", kind="warn")
            return
        dialog = SellCardDialog(currency=self.ctx.config.currency, parent=self.parent)
        cashier, shift_id = self.state.cashier, shift.shift_id
        assert cashier is not None  # cards are sold while someone is signed in

        def sold(card: giftcards.SoldCard) -> None:
            dialog.accept()
            self.screen.notice.notify(
                f"Gift card {card_numbers.grouped(card.number)} sold for "
                f"{format_money(card.amount, self.ctx.config.currency)}: take the cash. "
                "It can be used once the till has synced.",
                kind="info",
                seconds=15,
            )
            self.host.nudge_sync()

        def submitted(number: str, amount: Decimal) -> None:
            self.ctx.command(
                lambda s: giftcards.sell_card(
                    s, amount=amount, cashier=cashier, shift_id=shift_id, number=number or None
                ),
                changes=CARD_SOLD,
            ).success(sold).failure(dialog.show_error).run()

        dialog.submitted.connect(submitted)
        self.host.open_dialog(dialog)
        dialog.number.setFocus()

    # -- customer display ----------------------------------------------------------------

    def toggle_customer_display(self) -> None:
        """Open the customer display (on the second screen if there is one), or close it."""
        from pos_client.ui.till.customer_display import CustomerDisplay

        if self.customer_display is not None and self.customer_display.isVisible():
            self.customer_display.close()
            return
        if self.customer_display is None:
            self.customer_display = CustomerDisplay(
                shop_name=self.ctx.config.shop_name,
                currency=self.ctx.config.currency,
                parent=self.parent,  # closes with the till
            )
        self.customer_display.place_on_second_screen()
        self.update_customer_display()
        # The cashier's keyboard stays with the till window.
        self.parent.raise_()
        self.parent.activateWindow()

    def update_customer_display(self) -> None:
        """Show the cart as it is now on the customer display, if it is open."""
        if self.customer_display is not None:
            from pos_client.services import display

            self.customer_display.show_cart(display.display_state(self.cart))
        customer = self.cart.customer
        customer_id = customer.customer_id if customer is not None else None
        if (
            customer is not None
            and customer_id is not None
            and customer_id != self._points_shown_for
        ):
            self.show_points(customer_id=customer_id, name=customer.name)
        self._points_shown_for = customer_id

    # -- loyalty -------------------------------------------------------------------------

    def show_points(self, *, customer_id: int, name: str) -> None:
        """Tell the cashier the customer's points: from the server, or as last known."""
        from pos_client.qt.device_calls import call_server
        from pos_client.services import loyalty

        currency = self.ctx.config.currency

        def say(points: int | None, worth: Decimal, *, known: str = "") -> None:
            if points is None:
                return
            self.points_note = (
                f"{name}: {points} loyalty points ({format_money(worth, currency)}){known}"
            )
            self.screen.notice.notify(self.points_note, kind="info", seconds=8)

        def cached() -> None:
            self.ctx.query(lambda s: loyalty.known_points(s, customer_id=customer_id)).success(
                lambda found: say(*found, known=" as last synced") if found else None
            ).run()

        if self.sync_engine is None:
            cached()
            return

        def heard(info: loyalty.PointsInfo) -> None:
            self.ctx.command(lambda s: loyalty.remember(s, info), changes=POINTS).run()
            say(info.points, info.value)

        call_server(
            self.sync_engine,
            lambda engine: loyalty.check_online(engine, customer_id=customer_id),
            success=heard,
            failure=lambda exc: cached(),
            parent=self.parent,
        )

    def take_points(self, payment: PaymentDialog) -> None:
        """Pay the amount typed in the payment dialog with the customer's points."""
        from pos_client.qt.device_calls import call_server
        from pos_client.services import loyalty
        from pos_client.services.sync_engine import SyncFailed

        customer = self.cart.customer
        try:
            amount = min(parse_amount(payment.amount.text()), payment.remaining)
        except ValidationFailed as exc:
            payment.error.setText(str(exc.detail))
            return

        def take(seen: loyalty.PointsInfo | None) -> None:
            def record(s: Session) -> Payment:
                if seen is not None:
                    loyalty.remember(s, seen)
                return loyalty.loyalty_payment(
                    s,
                    customer=customer,
                    amount=amount,
                    seen=seen,
                    currency=self.ctx.config.currency,
                )

            self.ctx.command(record, changes=POINTS).success(payment.add_tender).failure(
                lambda exc: payment.error.setText(words(exc))
            ).run()

        customer_id = customer.customer_id if customer is not None else None
        if self.sync_engine is None or customer_id is None:
            take(None)
            return
        call_server(
            self.sync_engine,
            lambda engine: loyalty.check_online(engine, customer_id=customer_id),
            success=take,
            failure=lambda exc: (
                take(None)
                if isinstance(exc, SyncFailed) and exc.unreachable
                else payment.error.setText(words(exc))
            ),
            parent=payment,
        )

    # -- held sales ----------------------------------------------------------------------

    def hold_sale(self) -> None:
        """Park the cart (it survives a restart) and start a new sale."""
        from pos_client.services import held_sales

        if self.cart.is_empty:
            self.screen.notice.notify("Nothing to hold: the cart is empty", kind="warn")
            return
        cart, cashier = self.cart, self.state.cashier
        assert cashier is not None  # sales are held while someone is signed in

        def parked(row: held_sales.HeldRow) -> None:
            self.state.cart = self.state.new_cart(self.ctx.config)
            self.refresh_cart()
            self.update_customer_display()
            self.screen.notice.notify(
                f"Sale held{f' ({row.label})' if row.label else ''}. Ctrl+R recalls it.",
                kind="info",
            )
            self.host.nudge_sync()  # the branch's other tills see it after the next sync

        self.ctx.command(
            lambda s: held_sales.park(s, cart=cart, cashier=cashier, label=""), changes=HELD
        ).success(parked).failure(
            lambda exc: self.screen.notice.notify(str(exc), kind="error")
        ).run()

    def recall_sale(self) -> None:
        """List held sales (this till's, and the branch's when online); Enter recalls one."""
        from pos_client.qt.device_calls import call_server
        from pos_client.services import held_sales

        if not self.cart.is_empty:
            self.screen.notice.notify(
                "Finish or hold the current sale (Ctrl+H) before recalling another",
                kind="warn",
            )
            return
        dialog = HeldSalesDialog(currency=self.ctx.config.currency, parent=self.parent)
        dialog.recall.connect(lambda row: self._recall(dialog, row))
        self.host.open_dialog(dialog)
        asking = "Asking the other tills…" if self.sync_engine is not None else ""
        self.ctx.query(held_sales.held_here).success(
            lambda rows: dialog.show_rows(rows, note=asking)
        ).run()
        if self.sync_engine is None:
            return
        call_server(
            self.sync_engine,
            held_sales.held_at_branch,
            success=lambda rows: dialog.show_rows(rows),
            failure=lambda exc: dialog.status.setText(
                "Offline: only this till's held sales are shown."
            ),
            parent=dialog,
        )

    def _recall(self, dialog: HeldSalesDialog, row: held_sales.HeldRow) -> None:
        from pos_client.qt.device_calls import call_server
        from pos_client.services import held_sales

        def recalled(cart: Cart) -> None:
            cart.max_discount_percent = self.state.discount_limit(self.ctx.config)
            self.state.cart = cart
            dialog.accept()
            self.refresh_cart()
            self.update_customer_display()
            self.screen.notice.notify("Held sale recalled", kind="info")

        if row.here:
            self.ctx.command(
                lambda s: held_sales.recall_here(s, hold_id=row.hold_id), changes=HELD
            ).success(recalled).failure(dialog.show_error).run()
        elif self.sync_engine is not None:
            call_server(
                self.sync_engine,
                lambda engine: held_sales.recall_from_branch(engine, hold_id=row.hold_id),
                success=recalled,
                failure=dialog.show_error,
                parent=dialog,
            )

    # -- e-receipts ----------------------------------------------------------------------

    def email_last_receipt(self) -> None:
        """Send the last sale's receipt by e-mail, with the customer's consent."""
        from pos_client.services import ereceipts

        last = self.state.last_sale
        if last is None:
            self.screen.notice.notify("No sale yet on this till to send", kind="warn")
            return
        dialog = EmailReceiptDialog(receipt_number=last.receipt_number, parent=self.parent)

        def send(to: str, consent: bool) -> None:
            # An address with @ gets an e-mail; anything else is taken as a mobile number.
            def queue(s: Session) -> ereceipts.QueuedEmail:
                if "@" in to:
                    return ereceipts.email_receipt(
                        s, receipt=last.receipt, email=to, consent=consent
                    )
                return ereceipts.sms_receipt(s, receipt=last.receipt, phone=to, consent=consent)

            self.ctx.command(queue, changes=QUEUED).success(
                lambda queued: self._receipt_queued(dialog, queued)
            ).failure(dialog.show_error).run()

        dialog.submitted.connect(send)
        self.host.open_dialog(dialog)
        dialog.email.setFocus()

    def _receipt_queued(self, dialog: EmailReceiptDialog, queued: ereceipts.QueuedEmail) -> None:
        dialog.accept()
        self.screen.notice.notify(f"Receipt will be sent to {queued.email}", kind="info")
        self.host.nudge_sync()

    # -- tenders in the payment dialog ---------------------------------------------------

    def attach_program_tenders(self, payment: PaymentDialog) -> None:
        """Give the payment dialog its gift card (F4), UPI (F6) and points (F7) tenders."""
        row = QHBoxLayout()
        actions: dict[str, Callable[[PaymentDialog], None]] = {
            "gift_card": self.take_gift_card,
            "upi": self.take_upi,
            "points": self.take_points,
        }
        for key, label, name in PAYMENT_KEYS:
            b = button(f"{label}\n{key}", role="tender", name=f"Tender_{name}")
            b.setAutoDefault(False)
            b.clicked.connect(lambda _=False, n=name: actions[n](payment))
            shortcut = QShortcut(QKeySequence(key), payment)
            shortcut.activated.connect(lambda n=name: actions[n](payment))
            row.addWidget(b)
        # Title, amount due, change, then the tender row: ours goes right below it.
        layout = payment.layout()
        assert isinstance(layout, QBoxLayout)
        layout.insertLayout(4, row)
        payment.finished.connect(lambda _: self._payment_closed())

    def _payment_closed(self) -> None:
        if self.customer_display is not None:
            self.customer_display.clear_upi()

    def take_gift_card(self, payment: PaymentDialog) -> None:
        """Ask for a card; check it with the server, or bound it offline, then add it."""
        from pos_client.qt.device_calls import call_server
        from pos_client.services import giftcards
        from pos_client.services.sync_engine import SyncFailed

        due = payment.remaining
        if due <= 0:
            return
        dialog = GiftCardDialog(due=due, currency=self.ctx.config.currency, parent=payment)

        def take(seen: giftcards.CardInfo | None, number: str, amount: Decimal) -> None:
            def record(s: Session) -> Payment:
                if seen is not None:
                    giftcards.remember(s, seen)
                return giftcards.gift_card_payment(
                    s, number=number, amount=amount, seen=seen, currency=self.ctx.config.currency
                )

            self.ctx.command(record, changes=SEEN).success(
                lambda p: (
                    dialog.accept()
                    if payment.add_tender(p)
                    else dialog.show_error(payment.error.text())
                )
            ).failure(dialog.show_error).run()

        def submitted(number: str, amount: Decimal, pin: str) -> None:
            try:
                number = giftcards.clean(number)
            except ValidationFailed as exc:
                dialog.show_error(exc)
                return
            engine = self.sync_engine
            if engine is None:
                take(None, number, amount)
                return

            def failed(exc: BaseException) -> None:
                if isinstance(exc, SyncFailed) and exc.unreachable:
                    dialog.status.setText("Offline: the till's offline limits apply.")
                    take(None, number, amount)
                else:
                    dialog.status.clear()
                    dialog.show_error(exc)

            call_server(
                engine,
                lambda e: giftcards.check_online(e, number=number, pin=pin or None),
                success=lambda seen: take(seen, number, amount),
                failure=failed,
                parent=dialog,
            )

        dialog.submitted.connect(submitted)
        dialog.finished.connect(lambda _: _back_to(payment))
        dialog.open()
        dialog.raise_()
        dialog.activateWindow()
        dialog.number.setFocus()

    def take_upi(self, payment: PaymentDialog) -> None:
        """Show the UPI QR for what is left to pay on the customer display; take the reference."""
        from pos_client.services import display

        due = payment.remaining
        if due <= 0:
            return
        note = f"Sale {self.cart.sale_id[-8:]}"

        def ready(payee: display.UpiPayee | None) -> None:
            link = None
            if payee is not None:
                link = display.upi_link(payee=payee, amount=due, note=note)
                if self.customer_display is None or not self.customer_display.isVisible():
                    self.toggle_customer_display()
                if self.customer_display is not None:
                    self.customer_display.show_upi(link=link, amount=due)
            dialog = UpiDialog(
                amount=due, currency=self.ctx.config.currency, link=link, parent=payment
            )
            dialog.confirmed.connect(
                lambda amount, reference: payment.add_tender(
                    Payment(tender=Tender.UPI, amount=amount, reference=reference)
                )
            )
            dialog.finished.connect(lambda _: self._payment_closed())
            dialog.finished.connect(lambda _: _back_to(payment))
            self.upi_dialog = dialog
            dialog.open()
            dialog.raise_()
            dialog.activateWindow()
            dialog.reference.setFocus()

        self.ctx.query(display.upi_payee).success(ready).run()


def _back_to(payment: PaymentDialog) -> None:
    """Give the keyboard back to the payment dialog (kiosk tills have no window manager)."""
    payment.raise_()
    payment.activateWindow()
    payment.amount.setFocus()
