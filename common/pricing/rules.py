"""What the pricing engine reads: a cart, the moment it is priced in, and the active rules.

Everything here is plain data (frozen dataclasses over Decimal) so the till builds it from its
replica, the server from its tables, and both hand it to the same engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from enum import StrEnum

from common.money import ZERO


class Channel(StrEnum):
    """Where a cart is sold."""

    TILL = "till"
    ONLINE = "online"
    WHOLESALE = "wholesale"


class PriceMode(StrEnum):
    """How a price list turns a product into a price."""

    FIXED = "fixed"  # value is the unit price
    COST_PLUS = "cost_plus"  # cost + value % margin
    LIST_MINUS = "list_minus"  # the product's own price - value %


class PromoKind(StrEnum):
    """The kinds of promotion the engine knows."""

    PERCENT_OFF = "percent_off"  # percent off each matching line
    AMOUNT_OFF = "amount_off"  # amount off each matching unit
    FIXED_PRICE = "fixed_price"  # matching units sell at price
    BUY_X_GET_Y = "buy_x_get_y"  # buy buy_qty, get get_qty (cheapest) at percent off
    BUNDLE = "bundle"  # any bundle_qty matching units for bundle price
    BASKET_PERCENT = "basket_percent"  # percent off the basket (with min_spend: a threshold)
    BASKET_AMOUNT = "basket_amount"  # amount off the basket (with min_spend: a threshold)


class Stacking(StrEnum):
    """How a promotion combines with others."""

    STACKABLE = "stackable"  # applies with every other stackable one, in priority order
    EXCLUSIVE = "exclusive"  # applies alone; the engine charges whichever is best for the customer


@dataclass(frozen=True, slots=True)
class LineIn:
    """One cart line as the engine sees it; base_price is the catalog's tax-inclusive unit price."""

    line_id: str
    product_id: int
    quantity: Decimal
    base_price: Decimal
    category_id: int | None = None
    cost: Decimal | None = None
    tax_rate: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Context:
    """Who buys, where and when; at is the shop's local wall-clock time (aware)."""

    at: datetime
    channel: Channel = Channel.TILL
    branch_id: int | None = None
    customer_group: str | None = None
    customer_id: int | None = None
    coupon_codes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Window:
    """When and where a rule is live: empty sets and None bounds mean "always, everywhere"."""

    valid_from: datetime | None = None
    valid_to: datetime | None = None  # exclusive
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    time_from: time | None = None
    time_to: time | None = None  # exclusive; before time_from means the window spans midnight
    branch_ids: frozenset[int] = frozenset()
    channels: frozenset[Channel] = frozenset()
    customer_groups: frozenset[str] = frozenset()

    def admits(self, ctx: Context) -> bool:
        """Say whether a cart priced in this context is inside the window."""
        if self.valid_from is not None and ctx.at < self.valid_from:
            return False
        if self.valid_to is not None and ctx.at >= self.valid_to:
            return False
        if self.weekdays and ctx.at.weekday() not in self.weekdays:
            return False
        if self.time_from is not None or self.time_to is not None:
            now = ctx.at.time().replace(tzinfo=None)
            start = self.time_from or time.min
            end = self.time_to
            if end is None:
                inside = now >= start
            elif start <= end:
                inside = start <= now < end
            else:
                inside = now >= start or now < end
            if not inside:
                return False
        if self.branch_ids and ctx.branch_id not in self.branch_ids:
            return False
        if self.channels and ctx.channel not in self.channels:
            return False
        return not (self.customer_groups and ctx.customer_group not in self.customer_groups)


@dataclass(frozen=True, slots=True)
class PriceListItem:
    """One price on a list: for a product, a category, or (both None) everything on the list."""

    mode: PriceMode
    value: Decimal
    product_id: int | None = None
    category_id: int | None = None
    min_quantity: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class PriceList:
    """A price list for a customer group, branch or channel, with quantity breaks."""

    id: int
    name: str
    items: tuple[PriceListItem, ...]
    window: Window = field(default_factory=Window)
    priority: int = 0
    tax_inclusive: bool = True
    # Built once per list: the till prices every scan against the same lists.
    by_product: dict[int, tuple[tuple[int, PriceListItem], ...]] = field(
        init=False, repr=False, compare=False
    )
    general: tuple[tuple[int, PriceListItem], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_product: dict[int, list[tuple[int, PriceListItem]]] = {}
        general: list[tuple[int, PriceListItem]] = []
        for n, item in enumerate(self.items):
            if item.product_id is None:
                general.append((n, item))
            else:
                by_product.setdefault(item.product_id, []).append((n, item))
        object.__setattr__(self, "by_product", {k: tuple(v) for k, v in by_product.items()})
        object.__setattr__(self, "general", tuple(general))


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promotion; which parameters matter depends on kind (see PromoKind)."""

    id: int
    name: str
    kind: PromoKind
    window: Window = field(default_factory=Window)
    priority: int = 0
    stacking: Stacking = Stacking.STACKABLE
    product_ids: frozenset[int] = frozenset()  # with category_ids: empty both = every product
    category_ids: frozenset[int] = frozenset()
    get_product_ids: frozenset[int] = frozenset()  # buy X get Y of another item; empty = same
    percent: Decimal = ZERO
    amount: Decimal = ZERO
    price: Decimal = ZERO
    buy_qty: int = 0
    get_qty: int = 0
    bundle_qty: int = 0
    min_spend: Decimal = ZERO  # the matching lines must come to at least this
    coupon_code: str | None = None  # set: applies only when the code is presented

    def matches(self, line: LineIn) -> bool:
        """Say whether a line is one this promotion is about."""
        if not self.product_ids and not self.category_ids:
            return True
        return line.product_id in self.product_ids or (
            line.category_id is not None and line.category_id in self.category_ids
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """The active rules a cart is priced against."""

    price_lists: tuple[PriceList, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    # Built once: which promotions name a product or a category, and which name nothing.
    by_product: dict[int, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    by_category: dict[int, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    untargeted: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_product: dict[int, list[int]] = {}
        by_category: dict[int, list[int]] = {}
        untargeted: list[int] = []
        for n, promo in enumerate(self.promotions):
            if not promo.product_ids and not promo.category_ids:
                untargeted.append(n)
            for product_id in promo.product_ids:
                by_product.setdefault(product_id, []).append(n)
            for category_id in promo.category_ids:
                by_category.setdefault(category_id, []).append(n)
        object.__setattr__(self, "by_product", {k: tuple(v) for k, v in by_product.items()})
        object.__setattr__(self, "by_category", {k: tuple(v) for k, v in by_category.items()})
        object.__setattr__(self, "untargeted", tuple(untargeted))

    def touching(self, *, products: set[int], categories: set[int]) -> list[Promotion]:
        """Return the promotions that name one of these products or categories, or nothing."""
        found = set(self.untargeted)
        for product_id in products:
            found.update(self.by_product.get(product_id, ()))
        for category_id in categories:
            found.update(self.by_category.get(category_id, ()))
        return [self.promotions[n] for n in sorted(found)]
