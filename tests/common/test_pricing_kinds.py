"""The pricing engine, one table per promotion kind and price-list rule."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from common.errors import ValidationFailed
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

# A Wednesday at 18:30, the shop's wall clock.
NOW = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
CTX = Context(at=NOW, branch_id=1, channel=Channel.TILL)
TEA, SOAP, RICE, OIL = 1, 2, 3, 4
DRINKS, HOME = 10, 20


def line(lid: str, product: int, qty: str, price: str, *, category: int | None = None, **kw):
    return LineIn(
        line_id=lid,
        product_id=product,
        quantity=D(qty),
        base_price=D(price),
        category_id=category,
        **kw,
    )


def promo(kind: PromoKind, pid: int = 1, **kw) -> Promotion:
    return Promotion(id=pid, name=kw.pop("name", f"promo {pid}"), kind=kind, **kw)


def totals(cart, ctx=CTX, **rules):
    priced = price_cart(lines=cart, ctx=ctx, rules=Rules(**rules))
    return priced, {pl.line_id: pl.total for pl in priced.lines}


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        (PromoKind.PERCENT_OFF, {"percent": D("10")}, {"a": D("90.00"), "b": D("50.00")}),
        (PromoKind.AMOUNT_OFF, {"amount": D("3")}, {"a": D("94.00"), "b": D("50.00")}),
        (PromoKind.FIXED_PRICE, {"price": D("40")}, {"a": D("80.00"), "b": D("50.00")}),
        # A fixed price above the current one never raises it.
        (PromoKind.FIXED_PRICE, {"price": D("60")}, {"a": D("100.00"), "b": D("50.00")}),
        (PromoKind.AMOUNT_OFF, {"amount": D("80")}, {"a": D("0.00"), "b": D("50.00")}),
    ],
)
def test_item_promotions(kind, params, expected):
    cart = [line("a", TEA, "2", "50", category=DRINKS), line("b", SOAP, "1", "50", category=HOME)]
    _, got = totals(cart, promotions=(promo(kind, product_ids=frozenset({TEA}), **params),))
    assert got == expected


def test_category_promotion_takes_only_its_category():
    cart = [line("a", TEA, "1", "100", category=DRINKS), line("b", SOAP, "1", "100", category=HOME)]
    p = promo(PromoKind.PERCENT_OFF, category_ids=frozenset({DRINKS}), percent=D("25"))
    priced, got = totals(cart, promotions=(p,))
    assert got == {"a": D("75.00"), "b": D("100.00")}
    assert priced.line("a").reasons[-1].text == "promo 1"


@pytest.mark.parametrize(
    ("qty_a", "qty_b", "expected_discount"),
    [
        ("2", "0", D("0")),  # two bought, the third not in the cart: nothing free yet
        ("3", "0", D("30.00")),  # buy 2 get 1: one of three free
        ("6", "0", D("60.00")),
        ("2", "1", D("20.00")),  # mixed prices in the group: the cheapest unit is the free one
        ("1", "1", D("0")),
    ],
)
def test_buy_two_get_one_cheapest_free(qty_a, qty_b, expected_discount):
    cart = [line("a", TEA, qty_a, "30")]
    if qty_b != "0":
        cart.append(line("b", RICE, qty_b, "20"))
    p = promo(PromoKind.BUY_X_GET_Y, product_ids=frozenset({TEA, RICE}), buy_qty=2, get_qty=1)
    priced, _ = totals(cart, promotions=(p,))
    assert priced.discount == expected_discount


def test_buy_x_get_a_different_item_at_half_price():
    cart = [line("a", TEA, "4", "30"), line("b", SOAP, "3", "20")]
    p = promo(
        PromoKind.BUY_X_GET_Y,
        product_ids=frozenset({TEA}),
        get_product_ids=frozenset({SOAP}),
        buy_qty=2,
        get_qty=1,
        percent=D("50"),
    )
    priced, got = totals(cart, promotions=(p,))
    assert got == {"a": D("120.00"), "b": D("40.00")}  # two soaps at half price


@pytest.mark.parametrize(
    ("qty", "expected_total"),
    [("2", D("80.00")), ("3", D("100.00")), ("4", D("140.00")), ("6", D("200.00"))],
)
def test_any_three_for_100(qty, expected_total):
    cart = [line("a", TEA, qty, "40", category=DRINKS)]
    p = promo(PromoKind.BUNDLE, category_ids=frozenset({DRINKS}), bundle_qty=3, price=D("100"))
    priced, _ = totals(cart, promotions=(p,))
    assert priced.total == expected_total


def test_mix_and_match_spreads_the_bundle_saving_over_its_items():
    cart = [line("a", TEA, "1", "50"), line("b", RICE, "1", "30"), line("c", OIL, "1", "40")]
    p = promo(
        PromoKind.BUNDLE, product_ids=frozenset({TEA, RICE, OIL}), bundle_qty=3, price=D("100")
    )
    priced, got = totals(cart, promotions=(p,))
    assert priced.total == D("100.00")
    assert got == {"a": D("41.67"), "b": D("25.00"), "c": D("33.33")}


@pytest.mark.parametrize(
    ("spend", "expected_total"), [("499", D("499.00")), ("500", D("450.00")), ("800", D("720.00"))]
)
def test_spend_threshold(spend, expected_total):
    cart = [line("a", TEA, "1", spend), line("b", SOAP, "1", "0")]
    p = promo(PromoKind.BASKET_PERCENT, percent=D("10"), min_spend=D("500"))
    priced, _ = totals(cart, promotions=(p,))
    assert priced.total == expected_total


def test_basket_amount_is_shared_over_the_lines_exactly():
    cart = [line("a", TEA, "1", "10"), line("b", SOAP, "1", "10"), line("c", RICE, "1", "10")]
    priced, got = totals(cart, promotions=(promo(PromoKind.BASKET_AMOUNT, amount=D("10")),))
    assert priced.total == D("20.00")
    assert sorted(got.values()) == [D("6.66"), D("6.67"), D("6.67")]


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), True),  # Wednesday, in the happy hour
        (datetime(2026, 12, 2, 19, 0, tzinfo=UTC), False),  # the hour is over (end excluded)
        (datetime(2026, 12, 2, 16, 59, tzinfo=UTC), False),
        (datetime(2026, 12, 5, 17, 30, tzinfo=UTC), False),  # Saturday
    ],
)
def test_happy_hour_on_weekdays(at, applies):
    window = Window(weekdays=frozenset({0, 1, 2, 3, 4}), time_from=time(17), time_to=time(19))
    p = promo(PromoKind.PERCENT_OFF, percent=D("20"), window=window)
    priced, _ = totals([line("a", TEA, "1", "100")], ctx=Context(at=at), promotions=(p,))
    assert priced.total == (D("80.00") if applies else D("100.00"))


def test_a_window_across_midnight():
    window = Window(time_from=time(22), time_to=time(2))
    p = promo(PromoKind.PERCENT_OFF, percent=D("50"), window=window)
    for hour, applies in ((23, True), (1, True), (2, False), (12, False)):
        ctx = Context(at=datetime(2026, 12, 2, hour, tzinfo=UTC))
        priced, _ = totals([line("a", TEA, "1", "10")], ctx=ctx, promotions=(p,))
        assert (priced.discount > 0) is applies, hour


@pytest.mark.parametrize(
    ("window", "applies"),
    [
        (Window(branch_ids=frozenset({1})), True),
        (Window(branch_ids=frozenset({2})), False),
        (Window(channels=frozenset({Channel.ONLINE})), False),
        (Window(channels=frozenset({Channel.TILL, Channel.ONLINE})), True),
        (Window(valid_from=NOW + timedelta(seconds=1)), False),
        (Window(valid_to=NOW), False),
        (Window(valid_from=NOW, valid_to=NOW + timedelta(days=1)), True),
        (Window(customer_groups=frozenset({"staff"})), False),
    ],
)
def test_branch_channel_and_dates(window, applies):
    p = promo(PromoKind.PERCENT_OFF, percent=D("10"), window=window)
    priced, _ = totals([line("a", TEA, "1", "100")], promotions=(p,))
    assert (priced.total == D("90.00")) is applies


def test_stackable_promotions_apply_in_priority_order_on_what_is_left():
    cart = [line("a", TEA, "1", "100")]
    first = promo(PromoKind.AMOUNT_OFF, 1, amount=D("10"), priority=5)
    second = promo(PromoKind.PERCENT_OFF, 2, percent=D("50"), priority=1)
    priced, _ = totals(cart, promotions=(second, first))
    assert priced.total == D("45.00")  # (100 - 10) x 50%, not 100 x 50% - 10
    assert [a.promotion_id for a in priced.applied] == [1, 2]


def test_exclusive_promotion_wins_only_when_it_is_better_for_the_customer():
    cart = [line("a", TEA, "1", "100")]
    stack = (
        promo(PromoKind.PERCENT_OFF, 1, percent=D("10")),
        promo(PromoKind.AMOUNT_OFF, 2, amount=D("5")),
    )
    small = promo(PromoKind.PERCENT_OFF, 3, percent=D("12"), stacking=Stacking.EXCLUSIVE)
    big = promo(PromoKind.PERCENT_OFF, 4, percent=D("30"), stacking=Stacking.EXCLUSIVE)
    priced, _ = totals(cart, promotions=(*stack, small))
    assert priced.total == D("85.00")  # 10% then ₹5 beats 12% alone
    priced, _ = totals(cart, promotions=(*stack, small, big))
    assert priced.total == D("70.00")
    assert [a.promotion_id for a in priced.applied] == [4]


def test_coupon_promotion_needs_its_code():
    p = promo(PromoKind.BASKET_AMOUNT, amount=D("50"), coupon_code="SAVE50")
    cart = [line("a", TEA, "1", "200")]
    assert totals(cart, promotions=(p,))[0].total == D("200.00")
    ctx = Context(at=NOW, coupon_codes=frozenset({"SAVE50"}))
    priced, _ = totals(cart, ctx=ctx, promotions=(p,))
    assert priced.total == D("150.00")
    assert priced.applied[0].coupon_code == "SAVE50"


# -- price lists ----------------------------------------------------------------------------


WHOLESALE = PriceList(
    id=7,
    name="Wholesale",
    window=Window(customer_groups=frozenset({"wholesale"})),
    items=(
        PriceListItem(mode=PriceMode.LIST_MINUS, value=D("5")),
        PriceListItem(mode=PriceMode.LIST_MINUS, value=D("10"), category_id=DRINKS),
        PriceListItem(mode=PriceMode.FIXED, value=D("80"), product_id=TEA, min_quantity=D("10")),
        PriceListItem(mode=PriceMode.COST_PLUS, value=D("20"), product_id=OIL),
    ),
)


@pytest.mark.parametrize(
    ("cart_line", "unit_price", "why"),
    [
        (line("a", SOAP, "1", "100", category=HOME), D("95.00"), "Wholesale"),
        (line("a", RICE, "1", "100", category=DRINKS), D("90.00"), "Wholesale"),
        (line("a", TEA, "9", "100", category=DRINKS), D("90.00"), "Wholesale"),  # below the break
        (line("a", TEA, "10", "100", category=DRINKS), D("80.00"), "Wholesale (10+)"),
        (line("a", OIL, "1", "100", cost=D("50")), D("60.00"), "Wholesale"),
        # Cost + margin without a known cost falls back to the list's next-best price.
        (line("a", OIL, "1", "100"), D("95.00"), "Wholesale"),
    ],
)
def test_wholesale_price_list(cart_line, unit_price, why):
    ctx = Context(at=NOW, customer_group="wholesale")
    priced, _ = totals([cart_line], ctx=ctx, price_lists=(WHOLESALE,))
    assert priced.lines[0].unit_price == unit_price
    assert priced.lines[0].reasons[0].text == why
    retail, _ = totals([cart_line], price_lists=(WHOLESALE,))
    assert retail.lines[0].unit_price == D("100")
    assert retail.lines[0].reasons[0].text == "Catalog price"


def test_higher_priority_list_wins_and_exclusive_prices_gain_tax():
    low = PriceList(id=1, name="A", items=(PriceListItem(mode=PriceMode.FIXED, value=D("10")),))
    high = PriceList(
        id=2,
        name="B",
        priority=3,
        tax_inclusive=False,
        items=(PriceListItem(mode=PriceMode.FIXED, value=D("100")),),
    )
    cart = [line("a", TEA, "1", "150", tax_rate=D("18"))]
    priced, _ = totals(cart, price_lists=(low, high))
    assert priced.lines[0].unit_price == D("118.00")
    assert priced.lines[0].tax == D("18.00")


def test_tax_is_recomputed_on_the_discounted_amount():
    cart = [line("a", TEA, "1", "118", tax_rate=D("18"))]
    priced, _ = totals(cart, promotions=(promo(PromoKind.PERCENT_OFF, percent=D("50")),))
    assert priced.lines[0].total == D("59.00")
    assert priced.lines[0].tax == D("9.00")


def test_receipt_reasons_and_savings():
    cart = [line("a", TEA, "3", "30")]
    p = promo(PromoKind.BUY_X_GET_Y, name="Tea 2+1", buy_qty=2, get_qty=1)
    priced, _ = totals(cart, promotions=(p,))
    assert priced.saved == D("30.00")
    assert [(r.source, r.text, r.amount) for r in priced.lines[0].reasons] == [
        ("catalog", "Catalog price", D("0")),
        ("promotion", "Tea 2+1", D("30.00")),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        [line("a", TEA, "1", "1"), line("a", SOAP, "1", "1")],
        [line("a", TEA, "0", "1")],
        [line("a", TEA, "1", "-1")],
    ],
)
def test_bad_carts_are_refused(bad):
    with pytest.raises(ValidationFailed):
        price_cart(lines=bad, ctx=CTX, rules=Rules())


def test_an_empty_cart_costs_nothing():
    priced = price_cart(
        lines=[], ctx=CTX, rules=Rules(promotions=(promo(PromoKind.BASKET_AMOUNT, amount=D("5")),))
    )
    assert priced.lines == () and priced.total == 0 and priced.applied == ()
