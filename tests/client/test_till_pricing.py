"""The till prices its cart offline with the engine, from rules its replica pulled."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import ValidationFailed
from common.money import tax_included
from common.pricing import Channel, Context, LineIn, Rules, price_cart
from common.roles import Role
from common.schemas.pricing import PriceListIn, PromotionIn
from common.sync.protocol import ChangeOp, PulledChange
from pos_client.printing.receipt import render_text
from pos_client.services import queries, shifts
from pos_client.services.checkout import ShopInfo, complete_sale
from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.services.login import Cashier
from pos_client.services.pricing import TillPricing, till_pricing
from pos_client.services.till import (
    Cart,
    CatalogItem,
    Override,
    OverrideRequired,
    cash_payment,
)
from pos_client.store import replica
from pos_client.store.db import LocalStore

D = Decimal
IST = timezone(timedelta(hours=5, minutes=30))
WEDNESDAY_1730 = datetime(2026, 12, 2, 17, 30, tzinfo=IST)
ASHA = Cashier(user_id=1, username="asha", full_name="Asha Verma", role=Role.CASHIER)
MANAGER = Override(manager_id=2, manager_name="Ravi", action="", detail="")
TEA, BISCUITS, COKE = 3, 8, 11  # positions in DEMO_PRODUCTS; the product id is one more
TEA_2_1 = PromotionIn(
    name="Tea 2+1", kind="buy_x_get_y", product_ids=[TEA + 1], buy_qty=2, get_qty=1
)
HAPPY_HOUR = PromotionIn(
    name="Happy hour Coke",
    kind="percent_off",
    percent=D("25"),
    product_ids=[COKE + 1],
    window={"weekdays": [0, 1, 2, 3, 4], "time_from": "17:00", "time_to": "19:00"},
)


def pulled(entity: str, rule_id: int, rule: PromotionIn | PriceListIn | None) -> PulledChange:
    """Return a change as the server's feed sends it (the spec is the schema's JSON)."""
    if rule is None:
        return PulledChange(entity=entity, key=str(rule_id), op=ChangeOp.DELETE)
    spec = rule.model_dump(mode="json", exclude={"name"})
    data = {"id": rule_id, "name": rule.name, "spec": spec}
    return PulledChange(entity=entity, key=str(rule_id), op=ChangeOp.UPSERT, data=data)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
        replica.apply_changes(
            session, [pulled("promotion", 1, TEA_2_1), pulled("promotion", 2, HAPPY_HOUR)]
        )
    yield store
    store.close()


def item(store: LocalStore, number: int):
    with store.session() as session:
        return queries.find_by_codes(session, (DEMO_PRODUCTS[number].barcode,))


def priced_cart(store: LocalStore, at: datetime = WEDNESDAY_1730) -> Cart:
    with store.session() as session:
        pricing = till_pricing(session)
    pricing.clock = lambda: at
    cart = Cart()
    cart.pricing = pricing
    return cart


def test_three_teas_scanned_one_free_on_one_line(store):
    cart = priced_cart(store)
    tea = item(store, TEA)
    for _ in range(3):
        cart.add(tea)
    assert len(cart.lines) == 1
    line = cart.lines[0]
    assert (line.quantity, line.gross, line.discount, line.total) == (
        D("3"),
        D("495.00"),
        D("165.00"),
        D("330.00"),
    )
    assert line.tax == tax_included(D("330.00"), D("5")) == D("15.71")  # on what is paid
    cart.set_quantity(line.line_id, D("2"))
    assert cart.totals().total == D("330.00") and line.discount == 0
    assert cart.savings() == []


def test_a_price_label_keeps_its_own_line_and_price_beside_catalog_priced_ones(store):
    # A scale's label (a price-embedded EAN or GS1 AI 392x) names what this piece costs: it
    # is not more of the catalog-priced line, and the engine never reprices it.
    cart = priced_cart(store)
    tea = item(store, TEA)
    cart.add(tea)
    labelled = replace(tea, price=D("75.00"))  # as the scan pipeline hands a label over
    label_line = cart.add(labelled, unit_price=D("75.00"))
    cart.add(tea)
    cart.add(tea)  # three teas at catalog price: one free, never the labelled piece
    assert len(cart.lines) == 2
    assert (label_line.quantity, label_line.unit_price, label_line.total) == (
        D("1"),
        D("75.00"),
        D("75.00"),
    )
    assert label_line.price_locked and label_line.discount == 0


def test_happy_hour_only_in_its_hour(store):
    coke = item(store, COKE)
    in_hour = priced_cart(store)
    in_hour.add(coke)
    assert in_hour.totals().total == D("30.00")
    after = priced_cart(store, at=WEDNESDAY_1730 + timedelta(hours=2))
    after.add(coke)
    assert after.totals().total == D("40.00")


def test_manual_discounts_come_after_the_engine_within_the_limit(store):
    cart = priced_cart(store)  # the cashier may give 10 % alone
    line = cart.add(item(store, TEA), quantity=D("3"))
    # 10 % of what the engine left (330), not of the shelf price (495).
    with pytest.raises(OverrideRequired):
        cart.set_line_discount(line.line_id, amount=D("34"))
    cart.set_line_discount(line.line_id, amount=D("33"))
    assert (line.promo_discount, line.manual_discount, line.total) == (
        D("165.00"),
        D("33.00"),
        D("297.00"),
    )
    cart.set_order_discount(amount=D("10"))
    assert cart.totals().total == D("287.00")
    # A manager's price takes the line out of the engine's hands.
    cart.override_price(line.line_id, unit_price=D("150"), override=MANAGER)
    assert line.promo_discount == 0 and line.price_overridden
    assert cart.totals().total == D("450.00") - D("33.00") - D("10.00")


def test_the_receipt_says_what_was_saved_and_why(store):
    with store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=ASHA, opening_float=D("500")).shift_id
    cart = priced_cart(store)
    cart.add(item(store, TEA), quantity=D("3"))
    cart.add(item(store, COKE))
    total = cart.totals().total
    assert total == D("360.00")
    with store.transaction() as session:
        done = complete_sale(
            session,
            cart=cart,
            payments=[cash_payment(due=total, tendered=D("500"))],
            cashier=ASHA,
            shift_id=shift_id,
            shop=ShopInfo(shop_name="Test Shop"),
        )
    assert done.receipt.savings == (("Happy hour Coke", D("10.00")), ("Tea 2+1", D("165.00")))
    text = "\n".join(render_text(done.receipt))
    assert "YOU SAVED" in text and "175.00" in text and "Tea 2+1" in text


def test_an_ended_promotion_stops_at_the_next_load(store):
    with store.transaction() as session:
        replica.apply_changes(session, [pulled("promotion", 1, None)])
    cart = priced_cart(store)
    cart.add(item(store, TEA), quantity=D("3"))
    assert cart.totals().total == D("495.00")


def test_a_customer_group_price_list(store):
    biscuits = item(store, BISCUITS)
    staff = PriceListIn(
        name="Staff prices",
        window={"customer_groups": ["staff"]},
        items=[{"mode": "list_minus", "value": "20"}],
    )
    with store.transaction() as session:
        replica.apply_changes(session, [pulled("price_list", 5, staff)])
    cart = priced_cart(store)
    cart.add(biscuits)
    assert cart.totals().total == D("30.00")
    # The customer's group comes with the customer, as the server's feed sent it.
    with store.transaction() as session:
        replica.apply_changes(
            session,
            [
                PulledChange(
                    entity="customer",
                    key="77",
                    op=ChangeOp.UPSERT,
                    data={"id": 77, "name": "Ravi (staff)", "credit_limit": "0", "balance": "0"},
                ),
                PulledChange(
                    entity="customer_price_group",
                    key="77",
                    op=ChangeOp.UPSERT,
                    data={"price_group": "staff"},
                ),
            ],
        )
    with store.session() as session:
        (ravi,) = queries.find_customers(session, "Ravi")
    assert ravi.price_group == "staff"
    cart.set_customer(ravi)
    assert cart.lines[0].unit_price == D("24.00") and not cart.lines[0].price_overridden
    assert cart.savings() == [("Staff prices", D("6.00"))]
    cart.set_customer(None)
    assert cart.lines[0].unit_price == D("30.00")


class WholeCartEveryTime:
    """The engine over the whole cart on every change: what a till with no rules once did."""

    def __init__(self) -> None:
        self.pricing = TillPricing(clock=lambda: WEDNESDAY_1730)

    def price(self, lines, *, customer_group=None, coupon_codes=frozenset()):
        ctx = Context(at=WEDNESDAY_1730, channel=Channel.TILL, customer_group=customer_group)
        return price_cart(lines=lines, ctx=ctx, rules=Rules())


def cart_state(cart: Cart) -> list[tuple[str, ...]]:
    """Every figure of every line and of the totals, digit for digit."""
    rows = [
        tuple(
            str(v)
            for v in (
                line.item.product_id,
                line.quantity,
                line.unit_price,
                line.gross,
                line.discount,
                line.promo_discount,
                line.order_discount_share,
                line.net,
                line.tax,
                line.reasons,
            )
        )
        for line in cart.lines
    ]
    totals = cart.totals()
    priced = cart.priced
    assert priced is not None
    # Line ids are each cart's own; the lines come back in the cart's order.
    lines = [replace(line, line_id="") for line in priced.lines]
    rows.append(tuple(str(v) for v in (totals, lines, priced.applied)))
    return rows


ITEMS = [
    CatalogItem(product_id=n, sku=f"P{n}", name=f"Item {n}", price=price, tax_rate=rate)
    for n, (price, rate) in enumerate(
        [(D("66.00"), D("5")), (D("0.00"), D("0")), (D("199.99"), D("18")), (D("10"), D("12"))],
        start=1,
    )
]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "quantity", "remove", "order", "line_discount", "price"]),
        st.integers(min_value=0, max_value=len(ITEMS) - 1),
        # 1 and 1.0 are one quantity with two spellings: the engine keeps the digits given.
        st.sampled_from([D("1"), D("2"), D("1.0"), D("3"), D("2.00"), D("5.5")]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps=STEPS)
def test_with_no_rules_each_line_priced_alone_is_the_whole_carts_answer(steps) -> None:
    # With no price list or promotion, a scan prices only the lines it added or changed; every
    # figure of the cart must be what the engine over the whole cart gives after each step.
    alone, whole = Cart(max_discount_percent=D("100")), Cart(max_discount_percent=D("100"))
    alone.pricing = TillPricing(clock=lambda: WEDNESDAY_1730)
    whole.pricing = WholeCartEveryTime()  # type: ignore[assignment]
    for action, n, amount in steps:
        for cart in (alone, whole):
            try:
                if action == "add" or not cart.lines:
                    cart.add(ITEMS[n], quantity=amount)
                    continue
                line = cart.lines[n % len(cart.lines)]
                if action == "quantity":
                    cart.set_quantity(line.line_id, amount)
                elif action == "remove":
                    cart.remove(line.line_id)
                elif action == "order":
                    cart.set_order_discount(percent=amount)
                elif action == "line_discount":
                    cart.set_line_discount(line.line_id, percent=amount)
                else:
                    cart.override_price(line.line_id, unit_price=amount, override=MANAGER)
            except ValidationFailed:
                pass  # refused alike (compared below)
        assert len(alone.lines) == len(whole.lines)
        if alone.lines:
            assert cart_state(alone) == cart_state(whole)


def test_with_no_rules_the_engine_still_refuses_what_it_refuses() -> None:
    pricing = TillPricing(clock=lambda: WEDNESDAY_1730)
    good = LineIn(line_id="a", product_id=1, quantity=D("1"), base_price=D("5.00"))
    assert pricing.price([good]).lines[0].total == D("5.00")
    for bad in (
        [good, replace(good, product_id=2)],  # the same line twice
        [good, replace(good, line_id="b", quantity=D("0"))],
        [replace(good, line_id="c", base_price=D("-1"))],
    ):
        with pytest.raises(ValidationFailed) as alone:
            pricing.price(bad)
        with pytest.raises(ValidationFailed) as whole:
            WholeCartEveryTime().price(bad)
        assert str(alone.value) == str(whole.value)
