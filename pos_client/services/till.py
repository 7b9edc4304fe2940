"""The cart and its tenders: pure Python over Decimal, no Qt and no database.

Prices are tax-inclusive, as shelf prices are in shops: the tax shown on a line is the part
of its amount that is tax, never added on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from common.codes import QUANTITY_PLACES, Tender, Unit
from common.errors import CreditLimitExceeded, DomainError, ValidationFailed
from common.ids import new_id
from common.money import (
    DEFAULT_CURRENCY,
    ZERO,
    allocate,
    format_money,
    round_money,
)
from common.pricing import LineIn, PricedCart, Reason
from common.tax import Component, Supply, TaxClass, components_for, tax_inclusive

if TYPE_CHECKING:
    from pos_client.services.pricing import TillPricing

HUNDRED = Decimal(100)
NO_SHARE = allocate(ZERO, [ZERO])[0]  # a line's share of no order discount, as allocate says


class OverrideRequired(DomainError):
    """The action is beyond what the signed-in cashier may do; a manager's PIN unlocks it."""

    status = 403
    type = "override-required"
    title = "Manager approval needed"


@dataclass(frozen=True)
class CatalogItem:
    """What the till knows about a product when it sells it."""

    product_id: int
    sku: str
    name: str
    price: Decimal
    unit: Unit = Unit.PIECE
    tax_rate: Decimal = ZERO
    barcode: str | None = None
    on_hand: Decimal | None = None
    low_stock_threshold: Decimal | None = None
    # The product's tax class (GST components) and HSN code, when the server sent them.
    tax_class: TaxClass | None = None
    hsn: str = ""
    category_id: int | None = None  # promotions on a category need it
    # A variant names its template and its values ("M / Red"); a template entry in search
    # results has the template but no variant: choosing it asks which variant.
    template_id: int | None = None
    variant: str | None = None

    def tax_components(self, supply: Supply = Supply.INTRA) -> tuple[Component, ...]:
        """Return the tax components charged on this item today for a kind of supply."""
        return components_for(
            tax_class=self.tax_class, tax_rate=self.tax_rate, day=date.today(), supply=supply
        )

    @property
    def is_low(self) -> bool:
        """Say whether local stock is at or under the product's low-stock threshold."""
        if self.on_hand is None or self.low_stock_threshold is None:
            return False
        return self.on_hand <= self.low_stock_threshold


@dataclass(frozen=True)
class Override:
    """A manager's approval of one action, kept with the sale it changed."""

    manager_id: int
    manager_name: str
    action: str
    detail: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class CartLine:
    """One product in the cart; discount is the positive amount taken off this line."""

    line_id: str
    item: CatalogItem
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = ZERO
    # The order discount's share, so tax and refunds see what was actually paid.
    order_discount_share: Decimal = ZERO
    # What the label said about this very piece (lot, expiry, serial, weight from GS1).
    attributes: dict[str, str] = field(default_factory=dict)
    # The pricing engine's share of discount (inside discount, which also holds the manual
    # one) and why; a manager's price override takes the line out of the engine's hands.
    promo_discount: Decimal = ZERO
    reasons: tuple[Reason, ...] = ()
    price_locked: bool = False

    @property
    def manual_discount(self) -> Decimal:
        """Return the discount the cashier gave by hand (after the engine's)."""
        return self.discount - self.promo_discount

    @property
    def gross(self) -> Decimal:
        """Return quantity x unit price, rounded."""
        quantity, price, memo = self.quantity, self.unit_price, self._gross_memo
        # Asked several times per line on every scan: kept while the same two values stand.
        if memo is not None and memo[0] is quantity and memo[1] is price:
            return memo[2]
        gross = round_money(quantity * price)
        self._gross_memo = (quantity, price, gross)
        return gross

    @property
    def total(self) -> Decimal:
        """Return the line amount after its own discount (before the order discount)."""
        return self.gross - self.discount

    @property
    def net(self) -> Decimal:
        """Return what the customer pays for this line after every discount."""
        return self.total - self.order_discount_share

    # The last tax worked out and what it came from: every scan re-totals the whole cart,
    # and an unchanged line's inclusive split is the same answer (it was most of a scan's work).
    _tax_memo: tuple[tuple[object, ...], Decimal] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # The last gross and the quantity and unit price (the very objects) it came from.
    _gross_memo: tuple[Decimal, Decimal, Decimal] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def tax(self) -> Decimal:
        """Return the tax contained in what is paid for this line (common.tax's rule)."""
        return self.tax_on(date.today())

    def tax_on(self, day: date) -> Decimal:
        """Return the line's tax at the rates of a day (the cart's totals ask once a day)."""
        net, item = self.net, self.item
        key = (net, item.tax_class, item.tax_rate, day)
        memo = self._tax_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        components = components_for(
            tax_class=item.tax_class, tax_rate=item.tax_rate, day=day, supply=Supply.INTRA
        )
        tax = tax_inclusive(net, components=components).tax
        self._tax_memo = (key, tax)
        return tax

    @property
    def price_overridden(self) -> bool:
        """Say whether someone set the price by hand (a price list's price is not that)."""
        return self.price_locked or (self.unit_price != self.item.price and not self.reasons)


@dataclass(frozen=True)
class Totals:
    """The figures of the totals panel and the receipt."""

    subtotal: Decimal
    line_discounts: Decimal
    order_discount: Decimal
    tax: Decimal
    total: Decimal
    item_count: Decimal
    line_count: int

    @property
    def discount_total(self) -> Decimal:
        """Return every discount given on the sale."""
        return self.line_discounts + self.order_discount


def _quantity(value: Decimal, unit: Unit) -> Decimal:
    """Check a quantity against its unit (whole pieces, grams for kg)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationFailed("Quantity must be a number")
    if value <= 0:
        raise ValidationFailed("Quantity must be more than zero")
    places = QUANTITY_PLACES[unit]
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValidationFailed(
            "Quantity must be whole pieces" if places == 0 else "Quantity has too many decimals"
        )
    if value > Decimal("99999"):
        raise ValidationFailed("Quantity is too large")
    return value


class Cart:
    """The sale being rung up: lines, discounts, customer and the overrides granted."""

    def __init__(
        self, *, max_discount_percent: Decimal = Decimal("10"), currency: str = DEFAULT_CURRENCY
    ) -> None:
        self.max_discount_percent = max_discount_percent
        self.currency = currency  # how amounts read in its messages
        self.lines: list[CartLine] = []
        self.order_discount = ZERO
        self.customer: CreditInfo | None = None
        self.overrides: list[Override] = []
        self.sale_id = new_id()
        # Set by the till when it holds pricing rules; None prices at catalog prices.
        self.pricing: TillPricing | None = None
        self.customer_group: str | None = None
        self.priced: PricedCart | None = None
        self.coupon_codes: set[str] = set()

    # -- lines -------------------------------------------------------------------

    def add(
        self,
        item: CatalogItem,
        *,
        quantity: Decimal = Decimal(1),
        unit_price: Decimal | None = None,
        attributes: dict[str, str] | None = None,
    ) -> CartLine:
        """Add an item, or bump the quantity of the same item already at its price."""
        _quantity(quantity, item.unit)
        # A price given with the item is a price-embedded label's: the engine never changes it.
        labelled = unit_price is not None
        price = item.price if unit_price is None else round_money(unit_price)
        attributes = dict(attributes or {})
        for line in self.lines:
            # Weighed items each keep their own line: every label is its own piece of cheese.
            # So does each lot or serial: a recall or a warranty names the piece.
            # A line the engine repriced still takes more of the same item at catalog price.
            same_price = line.unit_price == price or (
                self.pricing is not None
                and not line.price_locked
                and not labelled
                and price == item.price
            )
            if (
                line.item.product_id == item.product_id
                and same_price
                and item.unit == Unit.PIECE
                and not line.manual_discount
                and line.attributes == attributes
                and "serial" not in attributes
            ):
                line.quantity = _quantity(line.quantity + quantity, item.unit)
                self._spread_order_discount()
                return line
        line = CartLine(
            line_id=new_id(),
            item=item,
            quantity=quantity,
            unit_price=price,
            attributes=attributes,
            # A price given with the item (a price-embedded label) is not the engine's to change.
            price_locked=labelled or price != item.price,
        )
        self.lines.append(line)
        self._spread_order_discount()
        return line

    def quantity_of(self, product_id: int) -> Decimal:
        """Return how much of a product the cart holds, over all its lines."""
        return sum(
            (line.quantity for line in self.lines if line.item.product_id == product_id), ZERO
        )

    def line(self, line_id: str) -> CartLine:
        """Return a line by id."""
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise ValidationFailed("That line is no longer in the cart")

    def set_quantity(self, line_id: str, quantity: Decimal) -> CartLine:
        """Change a line's quantity."""
        line = self.line(line_id)
        line.quantity = _quantity(quantity, line.item.unit)
        if line.discount > line.gross:
            line.discount = line.gross
        self._spread_order_discount()
        return line

    def remove(self, line_id: str) -> None:
        """Void one line."""
        self.lines.remove(self.line(line_id))
        self._spread_order_discount()

    def clear(self) -> None:
        """Void the whole sale and start a fresh one."""
        limit, pricing = self.max_discount_percent, self.pricing
        self.__init__(max_discount_percent=limit, currency=self.currency)  # type: ignore[misc]
        self.pricing = pricing

    # -- discounts and prices ----------------------------------------------------

    def set_line_discount(
        self,
        line_id: str,
        *,
        amount: Decimal | None = None,
        percent: Decimal | None = None,
        override: Override | None = None,
    ) -> CartLine:
        """Discount one line by an amount or a percent; beyond the limit a manager approves."""
        line = self.line(line_id)
        base = line.gross - line.promo_discount
        discount = self._discount(base=base, amount=amount, percent=percent)
        self._check_limit(
            base=base,
            discount=discount,
            override=override,
            action="line_discount",
            what=line.item.name,
        )
        line.discount = line.promo_discount + discount
        self._spread_order_discount()
        return line

    def set_order_discount(
        self,
        *,
        amount: Decimal | None = None,
        percent: Decimal | None = None,
        override: Override | None = None,
    ) -> Decimal:
        """Discount the whole order; beyond the limit a manager approves."""
        base = sum((line.total for line in self.lines), ZERO)
        discount = self._discount(base=base, amount=amount, percent=percent)
        self._check_limit(
            base=base,
            discount=discount,
            override=override,
            action="order_discount",
            what="the order",
        )
        self.order_discount = discount
        self._spread_order_discount()
        return discount

    def override_price(
        self, line_id: str, *, unit_price: Decimal, override: Override | None
    ) -> CartLine:
        """Sell a line at another price; always needs a manager."""
        line = self.line(line_id)
        if not isinstance(unit_price, Decimal) or unit_price < 0:
            raise ValidationFailed("Price must be zero or more")
        price = round_money(unit_price)
        if override is None:
            raise OverrideRequired(f"Changing the price of {line.item.name} needs a manager")
        self.overrides.append(
            replace(
                override,
                action="price_override",
                detail=f"{line.item.sku}: {format_money(line.item.price, self.currency)} -> "
                f"{format_money(price, self.currency)}",
            )
        )
        line.unit_price = price
        line.price_locked = True
        line.discount = min(line.discount, line.gross)
        self._spread_order_discount()
        return line

    def _discount(
        self, *, base: Decimal, amount: Decimal | None, percent: Decimal | None
    ) -> Decimal:
        """Turn an amount or a percent of base into a discount amount."""
        if (amount is None) == (percent is None):
            raise ValidationFailed("Give a discount as an amount or a percent")
        if percent is not None:
            if not ZERO <= percent <= HUNDRED:
                raise ValidationFailed("A discount percent is between 0 and 100")
            return round_money(base * percent / HUNDRED)
        assert amount is not None
        amount = round_money(amount)
        if amount < 0:
            raise ValidationFailed("A discount cannot be negative")
        if amount > base:
            raise ValidationFailed("A discount cannot be more than the amount")
        return amount

    def _check_limit(
        self, *, base: Decimal, discount: Decimal, override: Override | None, action: str, what: str
    ) -> None:
        """Refuse a discount beyond the limit unless a manager approved it; record approvals."""
        limit = round_money(base * self.max_discount_percent / HUNDRED)
        if discount <= limit:
            return
        if override is None:
            raise OverrideRequired(
                f"A discount over {self.max_discount_percent.normalize():f}% on {what} "
                "needs a manager"
            )
        self.overrides.append(
            replace(override, action=action, detail=f"{what}: {discount} of {base}")
        )

    def _reprice(self) -> None:
        """Let the pricing engine price the lines; manual discounts stay on top, within reach."""
        if self.pricing is None:
            return
        engine = [line for line in self.lines if not line.price_locked]
        for line in self.lines:
            if line.price_locked and line.promo_discount:
                manual = max(line.manual_discount, ZERO)
                line.promo_discount, line.reasons = ZERO, ()
                line.discount = min(manual, line.gross)
        priced = self.pricing.price(
            [
                LineIn(
                    line_id=line.line_id,
                    product_id=line.item.product_id,
                    quantity=line.quantity,
                    base_price=line.item.price,
                    category_id=line.item.category_id,
                    tax_rate=line.item.tax_rate,
                )
                for line in engine
            ],
            customer_group=self.customer_group,
            coupon_codes=frozenset(self.coupon_codes),
        )
        self.priced = priced
        for line, result in zip(engine, priced.lines, strict=True):
            manual = max(line.manual_discount, ZERO)
            line.unit_price = result.unit_price
            line.promo_discount = result.discount
            line.reasons = result.reasons
            line.discount = result.discount + min(manual, line.gross - result.discount)

    def _spread_order_discount(self) -> None:
        """Share the order discount over the lines in proportion to their amounts."""
        self._reprice()
        if not self.lines:
            self.order_discount = ZERO
            return
        totals = [line.total for line in self.lines]
        self.order_discount = min(self.order_discount, sum(totals, ZERO))
        if not self.order_discount:
            # Nothing to share (most sales): every line's share is allocate's zero.
            for line in self.lines:
                line.order_discount_share = NO_SHARE
            return
        shares = allocate(self.order_discount, totals)
        for line, share in zip(self.lines, shares, strict=True):
            line.order_discount_share = share

    # -- customer and totals -----------------------------------------------------

    def set_customer(self, customer: CreditInfo | None) -> None:
        """Attach the sale to a customer (or detach it); the customer's price group applies."""
        self.customer = customer
        self.customer_group = customer.price_group if customer else None
        self._spread_order_discount()

    def totals(self) -> Totals:
        """Return the cart's figures."""
        subtotal = sum((line.gross for line in self.lines), ZERO)
        line_discounts = sum((line.discount for line in self.lines), ZERO)
        total = subtotal - line_discounts - self.order_discount
        today = date.today()
        return Totals(
            subtotal=subtotal,
            line_discounts=line_discounts,
            order_discount=self.order_discount,
            tax=sum((line.tax_on(today) for line in self.lines), ZERO),
            total=total,
            item_count=sum((line.quantity for line in self.lines), ZERO),
            line_count=len(self.lines),
        )

    def add_coupon(self, code: str) -> str:
        """Take a coupon the customer hands over; its promotion prices the cart from now on."""
        if self.pricing is None:
            raise ValidationFailed("This till has no promotions yet; try again after it syncs")
        code = self.pricing.check_coupon(code)
        self.coupon_codes.add(code)
        self._spread_order_discount()
        return code

    def used_coupons(self) -> list[str]:
        """Return the coupon codes whose promotions took money off this sale."""
        if self.priced is None:
            return []
        return sorted({a.coupon_code for a in self.priced.applied if a.coupon_code})

    def savings(self) -> list[tuple[str, Decimal]]:
        """Return what the customer saved and why (price lists, promotions), for the receipt."""
        saved: dict[str, Decimal] = {}
        for line in self.lines:
            for reason in line.reasons:
                if reason.source != "catalog" and reason.amount > 0:
                    saved[reason.text] = saved.get(reason.text, ZERO) + reason.amount
        return sorted(saved.items())

    @property
    def is_empty(self) -> bool:
        """Say whether nothing has been rung up."""
        return not self.lines


# -- tenders -------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    """One tender of a sale; for cash, tendered is what the customer handed over."""

    tender: Tender
    amount: Decimal
    reference: str | None = None
    tendered: Decimal | None = None

    @property
    def change(self) -> Decimal:
        """Return the change due on this payment."""
        if self.tender != Tender.CASH or self.tendered is None:
            return ZERO
        return self.tendered - self.amount


@dataclass(frozen=True)
class CreditInfo:
    """A customer as the till caches it: a server id, or a local id if created offline."""

    customer_id: int | None
    local_id: str | None
    name: str
    credit_limit: Decimal
    balance: Decimal
    phone: str = ""
    tax_number: str = ""
    price_group: str | None = None  # whose price lists and promotions apply

    @property
    def available(self) -> Decimal:
        """Return how much more the customer may buy on account."""
        return max(self.credit_limit - self.balance, ZERO)


def cash_payment(*, due: Decimal, tendered: Decimal, currency: str = DEFAULT_CURRENCY) -> Payment:
    """Take cash for an amount due; refuse too little cash."""
    tendered = round_money(tendered)
    if tendered < due:
        raise ValidationFailed(
            f"Cash handed over ({format_money(tendered, currency)}) is less than the "
            f"{format_money(due, currency)} due"
        )
    return Payment(tender=Tender.CASH, amount=due, tendered=tendered)


def card_payment(*, amount: Decimal, reference: str) -> Payment:
    """Record a card payment taken on the external terminal."""
    reference = reference.strip()
    if not reference:
        raise ValidationFailed("Enter the card terminal's reference number")
    if round_money(amount) <= 0:
        raise ValidationFailed("A card payment must be more than zero")
    return Payment(tender=Tender.CARD, amount=round_money(amount), reference=reference)


def account_payment(
    *, amount: Decimal, credit: CreditInfo | None, currency: str = DEFAULT_CURRENCY
) -> Payment:
    """Put an amount on a customer's account, within the cached credit limit."""
    if credit is None:
        raise ValidationFailed("Choose a customer (F9) before selling on account")
    amount = round_money(amount)
    if amount > credit.available:
        raise CreditLimitExceeded(
            f"{credit.name} can buy only {format_money(credit.available, currency)} more on "
            f"account (limit {format_money(credit.credit_limit, currency)}, owing "
            f"{format_money(credit.balance, currency)})",
            available=str(credit.available),
        )
    return Payment(tender=Tender.ACCOUNT, amount=amount)


def check_payments(
    *, total: Decimal, payments: list[Payment], currency: str = DEFAULT_CURRENCY
) -> Decimal:
    """Check that payments settle the total exactly; return the change due."""
    if not payments:
        raise ValidationFailed("Take a payment first")
    paid = sum((p.amount for p in payments), ZERO)
    if paid != total:
        raise ValidationFailed(
            f"Payments add up to {format_money(paid, currency)}, the sale is "
            f"{format_money(total, currency)}"
        )
    return sum((p.change for p in payments), ZERO)


def remaining(*, total: Decimal, payments: list[Payment]) -> Decimal:
    """Return what is still to pay."""
    return total - sum((p.amount for p in payments), ZERO)
