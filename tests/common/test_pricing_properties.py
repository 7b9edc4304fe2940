"""Properties of the pricing engine that hold for any cart and any rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from common.money import round_money, tax_included
from common.pricing import (
    Channel,
    Context,
    LineIn,
    PriceList,
    PriceListItem,
    PriceMode,
    PromoKind,
    Promotion,
    Rules,
    Stacking,
    Window,
    price_cart,
)

PRODUCTS = st.integers(min_value=1, max_value=6)
CATEGORIES = st.none() | st.integers(min_value=1, max_value=3)
MONEY = st.decimals(min_value=0, max_value=500, places=2)
PERCENT = st.decimals(min_value=0, max_value=100, places=1)
BASE = datetime(2026, 12, 1, tzinfo=UTC)
MOMENTS = st.integers(min_value=0, max_value=14 * 24 * 60).map(
    lambda m: BASE + timedelta(minutes=m)
)
# The strategies the composites below draw from, built once: a strategy made inside a
# composite is made (and validated by Hypothesis) again for every example.
LINE_COUNTS = st.integers(min_value=1, max_value=8)
WEIGHED_QTY = st.decimals(min_value="0.005", max_value=5, places=3)
UNIT_QTY = st.integers(min_value=1, max_value=7)
COSTS = st.none() | MONEY
TAX_RATES = st.sampled_from([Decimal(0), Decimal(5), Decimal(18)])
MAYBE_MOMENTS = st.none() | MOMENTS
WEEKDAYS = st.frozensets(st.integers(0, 6), max_size=3)
MAYBE_TIMES = st.none() | st.times().map(lambda t: t.replace(microsecond=0))
BRANCH_SETS = st.frozensets(st.integers(1, 3), max_size=2)
CHANNEL_SETS = st.frozensets(st.sampled_from(list(Channel)), max_size=2)
GROUP_SETS = st.frozensets(st.sampled_from(["retail", "staff"]), max_size=1)


@st.composite
def carts(draw) -> list[LineIn]:
    n = draw(LINE_COUNTS)
    lines = []
    for i in range(n):
        weighed = draw(st.booleans())
        qty = draw(WEIGHED_QTY) if weighed else Decimal(draw(UNIT_QTY))
        lines.append(
            LineIn(
                line_id=f"l{i}",
                product_id=draw(PRODUCTS),
                category_id=draw(CATEGORIES),
                quantity=qty,
                base_price=draw(MONEY),
                cost=draw(COSTS),
                tax_rate=draw(TAX_RATES),
            )
        )
    return lines


@st.composite
def windows(draw) -> Window:
    start = draw(MAYBE_MOMENTS)
    return Window(
        valid_from=start,
        valid_to=draw(MAYBE_MOMENTS),
        weekdays=draw(WEEKDAYS),
        time_from=draw(MAYBE_TIMES),
        time_to=draw(MAYBE_TIMES),
        branch_ids=draw(BRANCH_SETS),
        channels=draw(CHANNEL_SETS),
        customer_groups=draw(GROUP_SETS),
    )


WINDOWS = st.just(Window()) | windows()
KINDS = st.sampled_from(list(PromoKind))
STACKINGS = st.sampled_from(list(Stacking))
PRODUCT_SETS = st.frozensets(PRODUCTS, max_size=3)
GET_PRODUCT_SETS = st.frozensets(PRODUCTS, max_size=2)
CATEGORY_SETS = st.frozensets(st.integers(1, 3), max_size=2)
MIN_SPENDS = st.sampled_from([Decimal(0), Decimal(100), Decimal(1000)])
COUPONS = st.none() | st.just("C1")


@st.composite
def promotions(draw, pid: int) -> Promotion:
    return Promotion(
        id=pid,
        name=f"p{pid}",
        kind=draw(KINDS),
        window=draw(WINDOWS),
        priority=draw(st.integers(0, 3)),
        stacking=draw(STACKINGS),
        product_ids=draw(PRODUCT_SETS),
        category_ids=draw(CATEGORY_SETS),
        get_product_ids=draw(GET_PRODUCT_SETS),
        percent=draw(PERCENT),
        amount=draw(MONEY),
        price=draw(MONEY),
        buy_qty=draw(st.integers(0, 3)),
        get_qty=draw(st.integers(0, 2)),
        bundle_qty=draw(st.integers(0, 4)),
        min_spend=draw(MIN_SPENDS),
        coupon_code=draw(COUPONS),
    )


PRICE_MODES = st.sampled_from(list(PriceMode))
LIST_VALUES = st.decimals(min_value=0, max_value=100, places=2)
MAYBE_PRODUCTS = st.none() | PRODUCTS
MAYBE_CATEGORIES = st.none() | st.integers(1, 3)
MIN_QUANTITIES = st.sampled_from([Decimal(1), Decimal(3)])


@st.composite
def price_lists(draw, pid: int) -> PriceList:
    items = tuple(
        PriceListItem(
            mode=draw(PRICE_MODES),
            value=draw(LIST_VALUES),
            product_id=draw(MAYBE_PRODUCTS),
            category_id=draw(MAYBE_CATEGORIES),
            min_quantity=draw(MIN_QUANTITIES),
        )
        for _ in range(draw(st.integers(1, 3)))
    )
    return PriceList(
        id=pid,
        name=f"list{pid}",
        items=items,
        window=draw(WINDOWS),
        priority=draw(st.integers(0, 2)),
        tax_inclusive=draw(st.booleans()),
    )


@st.composite
def rule_sets(draw) -> Rules:
    n_promos = draw(st.integers(0, 5))
    n_lists = draw(st.integers(0, 2))
    return Rules(
        price_lists=tuple(draw(price_lists(100 + i)) for i in range(n_lists)),
        promotions=tuple(draw(promotions(i + 1)) for i in range(n_promos)),
    )


CHANNELS = st.sampled_from(list(Channel))
MAYBE_BRANCHES = st.none() | st.integers(1, 3)
MAYBE_GROUPS = st.none() | st.sampled_from(["retail", "staff"])
COUPON_SETS = st.frozensets(st.just("C1"))


@st.composite
def contexts(draw) -> Context:
    return Context(
        at=draw(MOMENTS),
        channel=draw(CHANNELS),
        branch_id=draw(MAYBE_BRANCHES),
        customer_group=draw(MAYBE_GROUPS),
        coupon_codes=draw(COUPON_SETS),
    )


FAST = settings(max_examples=100, deadline=None)


@FAST
@given(cart=carts(), rules=rule_sets(), ctx=contexts())
def test_sums_signs_and_tax(cart, rules, ctx):
    priced = price_cart(lines=cart, ctx=ctx, rules=rules)
    assert [pl.line_id for pl in priced.lines] == [line.line_id for line in cart]
    for pl, line in zip(priced.lines, cart, strict=True):
        assert pl.total >= 0 and pl.discount >= 0
        assert pl.total == pl.gross - pl.discount
        assert pl.gross == round_money(pl.quantity * pl.unit_price)
        assert pl.tax == tax_included(pl.total, line.tax_rate)
        assert pl.total == round_money(pl.total)
        assert pl.discount == sum(
            (r.amount for r in pl.reasons if r.source == "promotion"), Decimal(0)
        )
    assert priced.total >= 0
    assert priced.total == sum((pl.total for pl in priced.lines), Decimal(0))
    assert priced.discount == sum((a.amount for a in priced.applied), Decimal(0))


@FAST
@given(cart=carts(), rules=rule_sets(), ctx=contexts(), data=st.data())
def test_deterministic_and_independent_of_line_order(cart, rules, ctx, data):
    first = price_cart(lines=cart, ctx=ctx, rules=rules)
    assert price_cart(lines=cart, ctx=ctx, rules=rules) == first
    shuffled = data.draw(st.permutations(cart))
    reordered_rules = Rules(
        price_lists=tuple(data.draw(st.permutations(rules.price_lists))),
        promotions=tuple(data.draw(st.permutations(rules.promotions))),
    )
    again = price_cart(lines=shuffled, ctx=ctx, rules=reordered_rules)
    by_id = {pl.line_id: pl for pl in again.lines}
    for pl in first.lines:
        other = by_id[pl.line_id]
        # Two lines identical but for their id may trade reasons; their figures never differ.
        assert (other.unit_price, other.gross, other.discount, other.total, other.tax) == (
            pl.unit_price,
            pl.gross,
            pl.discount,
            pl.total,
            pl.tax,
        ) or _twin(pl, cart)
    assert again.total == first.total


def _twin(pl, cart) -> bool:
    """Say whether another line of the cart is the same product, price and quantity."""
    same = [
        line
        for line in cart
        if (line.product_id, line.base_price, line.quantity)
        == (pl.product_id, pl.base_price, pl.quantity)
    ]
    return len(same) > 1


@FAST
@given(cart=carts(), rules=rule_sets(), ctx=contexts(), data=st.data())
def test_a_promotion_outside_its_window_branch_or_channel_never_applies(cart, rules, ctx, data):
    kind = data.draw(st.sampled_from(list(PromoKind)))
    miss = data.draw(
        st.sampled_from(
            [
                Window(valid_to=ctx.at),
                Window(valid_from=ctx.at + timedelta(minutes=1)),
                Window(weekdays=frozenset(set(range(7)) - {ctx.at.weekday()})),
                Window(
                    time_from=(ctx.at + timedelta(hours=1)).time(),
                    time_to=(ctx.at + timedelta(hours=2)).time(),
                ),
                Window(branch_ids=frozenset({99})),
                Window(channels=frozenset(set(Channel) - {ctx.channel})),
            ]
        )
    )
    if miss.time_from is not None and miss.time_from < time(1):
        miss = Window(valid_to=ctx.at)  # the +1 h window wrapped over midnight onto "now"
    outsider = Promotion(
        id=999,
        name="outside",
        kind=kind,
        window=miss,
        stacking=data.draw(st.sampled_from(list(Stacking))),
        percent=Decimal(50),
        amount=Decimal(5),
        price=Decimal(1),
        buy_qty=1,
        get_qty=1,
        bundle_qty=2,
    )
    priced = price_cart(
        lines=cart, ctx=ctx, rules=Rules(rules.price_lists, (*rules.promotions, outsider))
    )
    assert all(a.promotion_id != 999 for a in priced.applied)
    assert priced == price_cart(lines=cart, ctx=ctx, rules=rules)


@FAST
@given(cart=carts(), rules=rule_sets(), ctx=contexts())
def test_exclusive_choice_is_never_worse_than_the_stackable_set(cart, rules, ctx):
    stackable_only = Rules(
        rules.price_lists, tuple(p for p in rules.promotions if p.stacking == Stacking.STACKABLE)
    )
    assert (
        price_cart(lines=cart, ctx=ctx, rules=rules).total
        <= price_cart(lines=cart, ctx=ctx, rules=stackable_only).total
    )
