"""What the cashier does to the sale: add, change, discount, void, customer, pay, reprint.

A controller the till window owns: it is given the window (as a `TillHost`), the shared
state (the cart), the widgets it draws on, and what it asks of the other controllers (open a
shift, add the program tenders, show the cart to the customer). A completed sale says what it
changed, and the screens that show those refresh. Checkout is imported where it is used: it
loads the sync protocol, which is not needed to start scanning.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from common.errors import DomainError, InvalidState, ValidationFailed
from common.roles import Permission
from common.units import format_quantity
from pos_client.printing.receipt import Receipt
from pos_client.scanners.pipeline import ScanPipeline
from pos_client.services import variants
from pos_client.services.changes import OpChanges
from pos_client.services.pricing import TillPricing, till_pricing
from pos_client.services.till import (
    Cart,
    CartLine,
    CatalogItem,
    CreditInfo,
    Override,
    OverrideRequired,
    Payment,
)
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.customer_dialog import CustomerDialog
from pos_client.ui.till.dialogs import ValueDialog, ask_override
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.shell import TillHost, TillState
from pos_client.ui.till.till_screen import TillScreen
from pos_client.ui.till.variant_picker import VariantPicker
from pos_client.ui.widgets.messages import explain, show_error
from pos_client.ui.widgets.sync_status import SyncStatusLabel

if TYPE_CHECKING:
    from pos_client.services.checkout import CompletedSale

# A sale writes its document and payments, queues its event, takes stock off the shelf and
# puts its cash in the shift's drawer.
SALE = OpChanges(sale=True, outbox=True, stock=True, shift=True)


class SaleController:
    """Cart and payment actions of the till window."""

    def __init__(
        self,
        *,
        ctx: TillContext,
        host: TillHost,
        state: TillState,
        pipeline: ScanPipeline,
        screen: TillScreen,
        sync_status: SyncStatusLabel,
        open_shift: Callable[[], None],
        add_tenders: Callable[[PaymentDialog], None],
        cart_shown: Callable[[], None],
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.state = state
        self.pipeline = pipeline
        self.screen = screen
        self.sync_status = sync_status
        self.open_shift = open_shift
        self.add_tenders = add_tenders  # gift card, UPI and points (the programs' controller)
        self.cart_shown = cart_shown  # the customer display follows the cart
        self.variant_picker: VariantPicker | None = None
        self._void_armed = False
        self._void_line_armed: str | None = None
        pipeline.added.connect(self.line_added)

    @property
    def cart(self) -> Cart:
        """Return the sale in progress."""
        return self.state.cart

    @property
    def parent(self) -> QWidget:
        """Return the window the sale's dialogs open over."""
        return self.host.widget

    def disarm(self, *, keep: str) -> None:
        """Forget a first F7/F8 press when another action comes between the two."""
        if keep != "void_sale":
            self._void_armed = False
        if keep != "void_line":
            self._void_line_armed = None

    def add_item(self, item: CatalogItem) -> None:
        """Add a product chosen by search or quick key."""
        if not self.host.is_selling:
            return
        if item.template_id is not None and item.variant is None:
            self._pick_variant(item)  # a template found by search: which size, which colour?
            return
        try:
            line = self.cart.add(item)
        except DomainError as exc:
            self.screen.notice.notify(explain(exc), kind="error")
            return
        self.line_added(line)

    def line_added(self, line: CartLine) -> None:
        """Show a line just added (by search, quick key or scan) and warn about its stock."""
        self.refresh_cart(select=line.line_id)
        warning = stock_warning(line.item, in_cart=self.cart.quantity_of(line.item.product_id))
        if warning:
            self.screen.notice.notify(warning, kind="warn", seconds=5)

    def refresh_cart(self, *, select: str | None = None) -> None:
        """Redraw the cart table and totals."""
        self.screen.cart_model.show_cart(self.cart)
        self.screen.totals.show_totals(self.cart.totals() if self.cart.lines else None)
        self.screen.totals.show_customer(self.cart.customer)
        self.screen.select_line(
            select or (self.cart.lines[-1].line_id if self.cart.lines else None)
        )
        self.cart_shown()

    def search(self, text: str) -> None:
        """Show the products matching what the cashier typed."""
        if not text.strip():
            self.screen.show_results(text, [])
            return
        self.ctx.query(lambda s: variants.search_with_templates(s, text)).success(
            lambda items: self.screen.show_results(text, items)
        ).run()

    def _pick_variant(self, template: CatalogItem) -> None:
        def show(choices: list[CatalogItem]) -> None:
            if not choices:
                self.screen.notice.notify(f"{template.name} has no variant on sale", kind="error")
                return
            picker = VariantPicker(
                title=template.name,
                variants=choices,
                currency=self.ctx.config.currency,
                parent=self.parent,
            )
            picker.chosen.connect(self.add_item)
            self.variant_picker = picker
            self.host.open_dialog(picker)

        template_id = template.template_id
        assert template_id is not None  # only templates are picked from
        self.ctx.query(lambda s: variants.variants_of(s, template_id)).success(show).run()

    def escape(self) -> None:
        """Clear the search and the selection (Esc)."""
        self.screen.search.clear()
        self.screen.results.setVisible(False)
        self.screen.cart.clearSelection()
        self.screen.search.setFocus()

    def _with_override(self, attempt: Callable[[Override | None], object], *, action: str) -> bool:
        """Try an action; if it needs a manager, ask for approval and try again."""
        cashier = self.state.cashier
        try:
            attempt(None)
        except OverrideRequired as exc:
            if cashier is not None and cashier.can(Permission.POS_OVERRIDE):
                # A manager at the till approves their own action; it is still recorded.
                attempt(
                    Override(
                        manager_id=cashier.user_id,
                        manager_name=cashier.display_name,
                        action=action,
                        detail="",
                    )
                )
                return True
            ask_override(
                parent=self.parent,
                ctx=self.ctx,
                action=action,
                reason=exc.detail,
                then=lambda ov: self._retry(attempt, ov),
                opener=self.host.open_dialog,
            )
            return False
        return True

    def _retry(self, attempt: Callable[[Override | None], object], override: Override) -> None:
        try:
            attempt(override)
        except DomainError as exc:
            show_error(self.parent, exc)
            return
        self.screen.notice.notify(f"Approved by {override.manager_name}", kind="info")
        self.refresh_cart(select=self.screen.selected_line_id())

    def _ask_value(
        self, *, title: str, prompt: str, initial: str, apply: Callable[[str, ValueDialog], None]
    ) -> ValueDialog:
        dialog = ValueDialog(title=title, prompt=prompt, initial=initial, parent=self.parent)
        dialog.submitted.connect(lambda text: apply(text, dialog))
        self.host.open_dialog(dialog)
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
        """Remove the selected line (F8 twice: the first press says which line would go)."""
        line_id = self.screen.selected_line_id()
        if line_id is None:
            self.screen.notice.notify("No line to remove", kind="info", seconds=3)
            return
        line = self.cart.line(line_id)
        what = f"{line.quantity.normalize():f} × {line.item.name}"
        if self._void_line_armed != line_id:
            self._void_line_armed = line_id
            self.screen.notice.notify(f"Press F8 again to remove {what}", kind="warn", seconds=3)
            QTimer.singleShot(3000, self.host.widget, lambda: self._disarm_void_line(line_id))
            return
        self._void_line_armed = None
        amount = self.screen.totals.money(line.total)
        self.cart.remove(line_id)
        self.refresh_cart()
        self.screen.notice.notify(f"Removed {what} ({amount})", kind="info", seconds=4)

    def _disarm_void_line(self, line_id: str) -> None:
        if self._void_line_armed == line_id:
            self._void_line_armed = None

    def void_sale(self) -> None:
        """Void the whole sale (F7 twice, so one stray key never loses a sale)."""
        if self.cart.is_empty:
            return
        if not self._void_armed:
            self._void_armed = True
            self.screen.notice.notify(
                "Press F7 again to void the whole sale", kind="warn", seconds=3
            )
            QTimer.singleShot(3000, self.host.widget, self._disarm_void_sale)
            return
        self._void_armed = False
        self.cart.clear()
        self.refresh_cart()
        self.screen.notice.notify("Sale voided", kind="info", seconds=3)

    def _disarm_void_sale(self) -> None:
        self._void_armed = False

    def enter_coupon(self) -> None:
        """Take a coupon code the customer hands over (Ctrl+K); the cart reprices with it."""

        def apply(text: str, dialog: ValueDialog) -> None:
            try:
                code = self.cart.add_coupon(text)
            except DomainError as exc:
                dialog.fail(exc)
                return
            dialog.accept()
            self.refresh_cart()
            used = code in self.cart.used_coupons()
            self.screen.notice.notify(
                f"Coupon {code} applied"
                if used
                else f"Coupon {code} noted: nothing in the cart qualifies yet",
                kind="success" if used else "info",
                seconds=6,
            )

        self._ask_value(
            title="Coupon", prompt="Type or scan the coupon code", initial="", apply=apply
        )

    def choose_customer(self) -> None:
        """Attach a customer to the sale (F9), or create one offline."""
        dialog = CustomerDialog(ctx=self.ctx, parent=self.parent)

        def chosen(customer: CreditInfo | None) -> None:
            self.cart.set_customer(customer)
            self.refresh_cart()

        dialog.chosen.connect(chosen)
        self.host.open_dialog(dialog)
        dialog.search.setFocus()

    def pay(self) -> None:
        """Open the payment dialog (F10 / Enter)."""
        if not self.host.is_selling or self.cart.is_empty:
            return
        if self.state.shift is None:
            self.open_shift()
            return
        account_refusal = None
        if not self.state.rules.offline_credit_allowed and not self.sync_status.online:
            account_refusal = "Selling on account needs the server, and this till is offline"
        dialog = PaymentDialog(
            total=self.cart.totals().total,
            customer=self.cart.customer,
            currency=self.ctx.config.currency,
            account_refusal=account_refusal,
            parent=self.parent,
        )
        dialog.paid.connect(lambda payments: self._complete(dialog, payments))
        self.add_tenders(dialog)  # gift card F4, UPI F6, points F7
        self.host.open_dialog(dialog)
        dialog.amount.setFocus()
        dialog.amount.selectAll()

    def _complete(self, dialog: PaymentDialog, payments: list[Payment]) -> None:
        from pos_client.services.checkout import complete_sale

        cart, cashier, shift, shop = self.cart, self.state.cashier, self.state.shift, self.ctx.shop
        if cashier is None or shift is None:  # locked or closed under the dialog
            dialog.fail(InvalidState("Sign in and open a shift to take this payment"))
            return
        shift_id = shift.shift_id
        self.ctx.command(
            lambda s: complete_sale(
                s, cart=cart, payments=payments, cashier=cashier, shift_id=shift_id, shop=shop
            ),
            changes=SALE,
        ).success(lambda done: self._completed(dialog, done)).failure(dialog.fail).run()

    def _completed(self, dialog: PaymentDialog, done: CompletedSale) -> None:
        dialog.accept()
        self.state.last_sale = done
        pdf = self.ctx.receipts.print_receipt(done.receipt, job_id=done.sale_id)
        self.state.cart = self.state.new_cart(self.ctx.config)
        self.refresh_pricing()  # rules pulled during the last sale apply from the next one
        self.refresh_cart()
        money = self.screen.totals.money
        change = f"Change {money(done.change_due)} · " if done.change_due else ""
        saved = f" · PDF saved: {pdf.name}" if pdf is not None else ""
        self.screen.notice.notify(
            f"{change}Sale complete · receipt {done.receipt_number}{saved}",
            kind="success",
            seconds=8,
        )
        self.screen.search.setFocus()
        self.host.nudge_sync()

    def reprint(self) -> None:
        """Print a copy of the last receipt, or of any receipt by its number (Ctrl+P)."""
        from pos_client.services.checkout import receipt_copy

        last = self.ctx.receipts.last
        shop = self.ctx.shop

        def apply(text: str, dialog: ValueDialog) -> None:
            number = text or (last.receipt_number if last else "")
            if not number:
                dialog.fail("Type the receipt number to reprint")
                return

            def found(receipt: Receipt) -> None:
                dialog.accept()
                self._print_copy(receipt)

            self.ctx.query(lambda s: receipt_copy(s, receipt_number=number, shop=shop)).success(
                found
            ).failure(dialog.fail).run()

        dialog = self._ask_value(
            title="Reprint receipt",
            prompt="Receipt number (scan it, or Enter for the last one)",
            initial=last.receipt_number if last else "",
            apply=apply,
        )
        self.pipeline.divert_to = dialog.value.setText
        dialog.finished.connect(lambda _: setattr(self.pipeline, "divert_to", None))

    def refresh_pricing(self) -> None:
        """Reload the pricing rules from the replica (they arrive with every pull)."""
        self.ctx.query(till_pricing).success(self._pricing_loaded).run()

    def _pricing_loaded(self, pricing: TillPricing) -> None:
        # A sale in progress keeps the rules it started with: prices do not jump mid-sale.
        self.state.pricing = pricing
        if self.cart.is_empty:
            self.cart.pricing = pricing

    def _print_copy(self, receipt: Receipt) -> None:
        if self.ctx.receipts.reprint(receipt):
            self.screen.notice.notify(
                f"Reprinting receipt {receipt.receipt_number}", kind="info", seconds=3
            )
        else:
            path = self.ctx.receipts.save_copy_pdf(receipt)
            self.screen.notice.notify(f"No printer: copy saved as {path}", kind="info")


def stock_warning(item: CatalogItem, *, in_cart: Decimal) -> str:
    """Say, in a cashier's words, when a sale takes more than the till thinks is on the shelf."""
    if item.on_hand is None:
        return ""
    left = item.on_hand - in_cart
    if left < 0:
        count = format_quantity(item.on_hand)
        shelf = "none in stock" if item.on_hand <= 0 else f"only {count} in stock"
        return (
            f"{item.name}: the till shows {shelf}. Sold anyway; "
            "the manager will see the stock count is off."
        )
    if item.is_low:
        return f"Low stock: {format_quantity(left)} {item.name} left after this sale"
    return ""


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
