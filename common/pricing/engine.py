"""The one pricing engine: a cart, its context and the active rules in, priced lines out.

How the rules combine, stated plainly (the receipt and the manager screen say the same):

1. **Price lists** set the unit price. Of the lists live for this customer group, branch,
   channel and moment, the one with the highest priority (then the lowest id) that prices the
   product wins; within it the product's own price beats its category's, which beats a price
   for everything, and the highest quantity break the line reaches applies. No list: the
   product's own price.
2. **Promotions** then take money off. Stackable ones all apply, item promotions before basket
   promotions, each in priority order (highest first, then lowest id), each on what the
   previous ones left. An exclusive promotion applies alone: the engine prices the cart with
   every exclusive promotion on its own and with the stackable set, and charges the customer
   the lowest total (a tie goes to the stackable set, then to the higher priority).
3. Nothing ever goes below zero: a promotion takes at most what is left of a line.
4. Manual discounts and price overrides are the caller's, applied after the engine.

Amounts are tax-inclusive, as the till works; the line's tax is recomputed on what is paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from common.errors import ValidationFailed
from common.money import DEFAULT_CURRENCY, ZERO, allocate, round_money, tax_included
from common.pricing.rules import (
    Context,
    LineIn,
    PriceList,
    PriceListItem,
    PriceMode,
    PromoKind,
    Promotion,
    Rules,
    Stacking,
)

HUNDRED = Decimal(100)
_BASKET = frozenset({PromoKind.BASKET_PERCENT, PromoKind.BASKET_AMOUNT})


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a line costs what it does: a price source or a discount, with what it changed."""

    source: str  # "catalog", "price_list" or "promotion"
    rule_id: int | None
    text: str
    amount: Decimal = ZERO  # money taken off by this rule (negative if a list raised it)


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One line after pricing; total = gross - discount, never below zero."""

    line_id: str
    product_id: int
    quantity: Decimal
    base_price: Decimal
    unit_price: Decimal
    gross: Decimal
    discount: Decimal
    total: Decimal
    tax: Decimal
    reasons: tuple[Reason, ...]

    @property
    def saved(self) -> Decimal:
        """Return what the customer saved on this line against the catalog price."""
        return max(round_money(self.quantity * self.base_price) - self.total, ZERO)


@dataclass(frozen=True, slots=True)
class Applied:
    """A promotion that took money off this cart, in total."""

    promotion_id: int
    name: str
    amount: Decimal
    coupon_code: str | None = None


@dataclass(frozen=True, slots=True)
class PricedCart:
    """The engine's answer; lines come back in the order they were given."""

    lines: tuple[PricedLine, ...]
    applied: tuple[Applied, ...]

    @property
    def subtotal(self) -> Decimal:
        """Return the sum of the lines before promotions."""
        return sum((line.gross for line in self.lines), ZERO)

    @property
    def discount(self) -> Decimal:
        """Return every promotion discount given."""
        return sum((line.discount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """Return what the cart costs: the sum of its lines."""
        return sum((line.total for line in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        """Return the tax contained in the lines."""
        return sum((line.tax for line in self.lines), ZERO)

    @property
    def saved(self) -> Decimal:
        """Return what the customer saved against catalog prices."""
        return sum((line.saved for line in self.lines), ZERO)

    def line(self, line_id: str) -> PricedLine:
        """Return one priced line by id."""
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)


def price_cart(
    *, lines: Sequence[LineIn], ctx: Context, rules: Rules, currency: str = DEFAULT_CURRENCY
) -> PricedCart:
    """Price a cart against the rules live in its context."""
    _check(lines)
    # A canonical order makes the answer independent of the order lines were rung up in.
    order = sorted(
        range(len(lines)),
        key=lambda i: (
            lines[i].product_id,
            lines[i].base_price,
            lines[i].quantity,
            lines[i].line_id,
        ),
    )
    canon = [lines[i] for i in order]
    lists = sorted(
        (pl for pl in rules.price_lists if pl.window.admits(ctx)), key=lambda p: (-p.priority, p.id)
    )
    prices = [_list_price(line, lists, currency) for line in canon]
    gross = [
        round_money(line.quantity * price, currency)
        for line, (price, _) in zip(canon, prices, strict=True)
    ]

    live = _relevant(rules, canon, ctx)
    stackable = [p for p in live if p.stacking == Stacking.STACKABLE]
    exclusive = [p for p in live if p.stacking == Stacking.EXCLUSIVE]
    best = _apply(stackable, canon, prices, gross, currency)
    for promo in exclusive:
        alone = _apply([promo], canon, prices, gross, currency)
        if sum(alone.discounts, ZERO) > sum(best.discounts, ZERO):
            best = alone

    priced: list[PricedLine] = []
    for i, line in enumerate(canon):
        price, price_reason = prices[i]
        discount = best.discounts[i]
        total = gross[i] - discount
        priced.append(
            PricedLine(
                line_id=line.line_id,
                product_id=line.product_id,
                quantity=line.quantity,
                base_price=line.base_price,
                unit_price=price,
                gross=gross[i],
                discount=discount,
                total=total,
                tax=tax_included(total, line.tax_rate, currency),
                reasons=(price_reason, *best.reasons[i]),
            )
        )
    back: dict[int, PricedLine] = {original: priced[n] for n, original in enumerate(order)}
    return PricedCart(lines=tuple(back[i] for i in range(len(lines))), applied=best.applied)


def _check(lines: Sequence[LineIn]) -> None:
    """Refuse a cart the engine cannot price honestly."""
    seen: set[str] = set()
    for line in lines:
        if line.line_id in seen:
            raise ValidationFailed(f"Line {line.line_id} appears twice")
        seen.add(line.line_id)
        if not line.quantity.is_finite() or line.quantity <= 0:
            raise ValidationFailed("Quantity must be more than zero")
        if not line.base_price.is_finite() or line.base_price < 0:
            raise ValidationFailed("A price must be zero or more")


# -- price lists ---------------------------------------------------------------------------


def _list_price(line: LineIn, lists: list[PriceList], currency: str) -> tuple[Decimal, Reason]:
    """Return the unit price of a line and where it came from."""
    for pl in lists:
        for item in _list_items(pl, line):
            price = _derive(item, line, pl.tax_inclusive, currency)
            if price is None:
                continue  # cost + margin with no known cost: the next-best item prices it
            saving = round_money(line.quantity * (line.base_price - price), currency)
            brk = f" ({item.min_quantity.normalize():f}+)" if item.min_quantity > 1 else ""
            text = f"{pl.name}{brk}"
            return price, Reason(source="price_list", rule_id=pl.id, text=text, amount=saving)
    return line.base_price, Reason(source="catalog", rule_id=None, text="Catalog price")


def _list_items(pl: PriceList, line: LineIn) -> list[PriceListItem]:
    """Return a list's items that price this line at its quantity, most specific first."""
    found: list[tuple[int, Decimal, int, PriceListItem]] = []
    for n, item in _candidates(pl, line):
        if item.min_quantity > line.quantity:
            continue
        if item.product_id is not None:
            if item.product_id != line.product_id:
                continue
            rank = 2
        elif item.category_id is not None:
            if item.category_id != line.category_id:
                continue
            rank = 1
        else:
            rank = 0
        found.append((-rank, -item.min_quantity, n, item))
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found]


def _candidates(pl: PriceList, line: LineIn) -> list[tuple[int, PriceListItem]]:
    """Return the list's items that could price this product (its own and the general ones)."""
    return [*pl.by_product.get(line.product_id, ()), *pl.general]


def _derive(
    item: PriceListItem, line: LineIn, tax_inclusive: bool, currency: str
) -> Decimal | None:
    """Turn a list item into a tax-inclusive unit price; None when it cannot price this line."""
    if item.mode == PriceMode.FIXED:
        price = item.value
    elif item.mode == PriceMode.COST_PLUS:
        if line.cost is None:
            return None
        price = line.cost * (HUNDRED + item.value) / HUNDRED
    else:
        price = line.base_price * (HUNDRED - item.value) / HUNDRED
    if not tax_inclusive and item.mode != PriceMode.LIST_MINUS:
        # The product's own price is already tax-inclusive; fixed and cost-based ones may not be.
        price = price * (HUNDRED + line.tax_rate) / HUNDRED
    return max(round_money(price, currency), ZERO)


# -- promotions ----------------------------------------------------------------------------


def _relevant(rules: Rules, lines: list[LineIn], ctx: Context) -> list[Promotion]:
    """Return the promotions live in this context that touch a line of the cart, in order."""
    products = {line.product_id for line in lines}
    categories = {line.category_id for line in lines if line.category_id is not None}
    live = [
        promo
        for promo in rules.touching(products=products, categories=categories)
        if (promo.coupon_code is None or promo.coupon_code in ctx.coupon_codes)
        and promo.window.admits(ctx)
    ]
    live.sort(key=lambda p: (p.kind in _BASKET, -p.priority, p.id))
    return live


@dataclass(slots=True)
class _Outcome:
    discounts: list[Decimal]
    reasons: list[list[Reason]]
    applied: tuple[Applied, ...]


def _apply(
    promos: list[Promotion],
    lines: list[LineIn],
    prices: list[tuple[Decimal, Reason]],
    gross: list[Decimal],
    currency: str,
) -> _Outcome:
    """Apply promotions in order, each on what the previous ones left."""
    left = list(gross)
    discounts = [ZERO] * len(lines)
    reasons: list[list[Reason]] = [[] for _ in lines]
    applied: list[Applied] = []
    by_product: dict[int, list[int]] = {}
    by_category: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_product.setdefault(line.product_id, []).append(i)
        if line.category_id is not None:
            by_category.setdefault(line.category_id, []).append(i)
    everything = range(len(lines))
    for promo in promos:
        if promo.product_ids or promo.category_ids:
            hits = {i for p in promo.product_ids for i in by_product.get(p, ())}
            hits.update(i for c in promo.category_ids for i in by_category.get(c, ()))
            idx = [i for i in sorted(hits) if left[i] > 0]
        else:
            idx = [i for i in everything if left[i] > 0]
        if not idx or (promo.min_spend and sum((left[i] for i in idx), ZERO) < promo.min_spend):
            continue
        taken = _KINDS[promo.kind](promo, idx, lines, left, currency)
        total = ZERO
        for i, amount in taken.items():
            amount = min(amount, left[i])
            if amount <= 0:
                continue
            left[i] -= amount
            discounts[i] += amount
            total += amount
            reasons[i].append(
                Reason(source="promotion", rule_id=promo.id, text=promo.name, amount=amount)
            )
        if total > 0:
            applied.append(Applied(promo.id, promo.name, total, promo.coupon_code))
    return _Outcome(discounts=discounts, reasons=reasons, applied=tuple(applied))


def _units(idx: list[int], lines: list[LineIn], left: list[Decimal]) -> list[tuple[Decimal, int]]:
    """Return each whole unit as (its price now, line index); weighed lines have none."""
    units: list[tuple[Decimal, int]] = []
    for i in idx:
        qty = lines[i].quantity
        if qty != qty.to_integral_value():
            continue
        unit = left[i] / qty
        units.extend((unit, i) for _ in range(int(qty)))
    return units


def _spread(shares: dict[int, Decimal], currency: str) -> dict[int, Decimal]:
    """Round per-line shares so they add up to their rounded sum exactly."""
    keys = sorted(shares)
    parts = allocate(
        round_money(sum(shares.values(), ZERO), currency), [shares[k] for k in keys], currency
    )
    return dict(zip(keys, parts, strict=True))


def _percent_off(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    return {i: round_money(left[i] * promo.percent / HUNDRED, currency) for i in idx}


def _amount_off(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    return {i: round_money(promo.amount * lines[i].quantity, currency) for i in idx}


def _fixed_price(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    return {i: left[i] - round_money(promo.price * lines[i].quantity, currency) for i in idx}


def _buy_x_get_y(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    if promo.buy_qty < 1 or promo.get_qty < 1:
        return {}
    rate = (promo.percent or HUNDRED) / HUNDRED
    if promo.get_product_ids:
        # Buy X of one thing, get Y of another: the cheapest Y units the customer has.
        buys = [i for i in idx if lines[i].product_id not in promo.get_product_ids]
        gets = [
            i
            for i, line in enumerate(lines)
            if line.product_id in promo.get_product_ids and left[i] > 0
        ]
        sets = len(_units(buys, lines, left)) // promo.buy_qty
        free = sorted(_units(gets, lines, left))[: sets * promo.get_qty]
    else:
        # The same group: in every buy+get units, the cheapest get units are the reward.
        units = _units(idx, lines, left)
        sets = len(units) // (promo.buy_qty + promo.get_qty)
        free = sorted(units)[: sets * promo.get_qty]
    shares: dict[int, Decimal] = {}
    for price, i in free:
        shares[i] = shares.get(i, ZERO) + price * rate
    return _spread(shares, currency) if shares else {}


def _bundle(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    if promo.bundle_qty < 1:
        return {}
    # The dearest units go into bundles first: that is what saves the customer most.
    units = sorted(_units(idx, lines, left), key=lambda u: (-u[0], u[1]))
    shares: dict[int, Decimal] = {}
    for start in range(0, len(units) - promo.bundle_qty + 1, promo.bundle_qty):
        chunk = units[start : start + promo.bundle_qty]
        value = sum((price for price, _ in chunk), ZERO)
        off = value - promo.price
        if off <= 0:
            break
        for price, i in chunk:
            shares[i] = shares.get(i, ZERO) + off * price / value
    return _spread(shares, currency) if shares else {}


def _basket(
    promo: Promotion, idx: list[int], lines: list[LineIn], left: list[Decimal], currency: str
) -> dict[int, Decimal]:
    base = sum((left[i] for i in idx), ZERO)
    if promo.kind == PromoKind.BASKET_PERCENT:
        off = round_money(base * promo.percent / HUNDRED, currency)
    else:
        off = min(round_money(promo.amount, currency), base)
    parts = allocate(off, [left[i] for i in idx], currency)
    return dict(zip(idx, parts, strict=True))


_KINDS = {
    PromoKind.PERCENT_OFF: _percent_off,
    PromoKind.AMOUNT_OFF: _amount_off,
    PromoKind.FIXED_PRICE: _fixed_price,
    PromoKind.BUY_X_GET_Y: _buy_x_get_y,
    PromoKind.BUNDLE: _bundle,
    PromoKind.BASKET_PERCENT: _basket,
    PromoKind.BASKET_AMOUNT: _basket,
}
