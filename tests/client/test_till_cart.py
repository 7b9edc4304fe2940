"""The cart and tenders: pure Decimal arithmetic, tax-inclusive prices, limits and overrides."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.codes import Tender, Unit
from common.errors import CreditLimitExceeded, ValidationFailed
from pos_client.services.till import (
    Cart,
    CatalogItem,
    CreditInfo,
    Override,
    OverrideRequired,
    Payment,
    account_payment,
    card_payment,
    cash_payment,
    check_payments,
    remaining,
)
from pos_client.ui.models.cart_model import CartRow, CartTableModel

D = Decimal
MILK = CatalogItem(product_id=1, sku="MILK", name="Milk", price=D("66.00"), tax_rate=D("5"))
SOAP = CatalogItem(product_id=2, sku="SOAP", name="Soap", price=D("236.00"), tax_rate=D("18"))
CHEESE = CatalogItem(
    product_id=3, sku="CHEESE", name="Cheese", price=D("420.00"), unit=Unit.KG, tax_rate=D("12")
)
MANAGER = Override(manager_id=2, manager_name="Ravi", action="", detail="")


def test_same_item_bumps_quantity_and_totals_are_tax_inclusive() -> None:
    cart = Cart()
    cart.add(MILK)
    cart.add(MILK)
    cart.add(SOAP)
    totals = cart.totals()
    assert [(line.item.sku, line.quantity) for line in cart.lines] == [("MILK", 2), ("SOAP", 1)]
    assert (totals.subtotal, totals.total) == (D("368.00"), D("368.00"))
    # 132 incl. 5% -> 6.29 tax; 236 incl. 18% -> 36.00 tax: never added on top.
    assert totals.tax == D("6.29") + D("36.00")


def test_weighed_items_take_grams_and_keep_their_own_lines() -> None:
    cart = Cart()
    first = cart.add(CHEESE, quantity=D("0.250"))
    cart.add(CHEESE, quantity=D("0.300"))
    assert len(cart.lines) == 2
    assert first.total == D("105.00")
    with pytest.raises(ValidationFailed, match="too many decimals"):
        cart.add(CHEESE, quantity=D("0.2505"))
    with pytest.raises(ValidationFailed, match="whole pieces"):
        cart.add(MILK, quantity=D("1.5"))
    with pytest.raises(ValidationFailed, match="more than zero"):
        cart.set_quantity(first.line_id, D(0))


def test_discount_within_limit_is_free_beyond_needs_manager_and_is_recorded() -> None:
    cart = Cart(max_discount_percent=D("10"))
    line = cart.add(SOAP)
    cart.set_line_discount(line.line_id, percent=D("10"))
    assert line.discount == D("23.60") and cart.overrides == []
    with pytest.raises(OverrideRequired, match="over 10% on Soap needs a manager"):
        cart.set_line_discount(line.line_id, amount=D("30"))
    assert line.discount == D("23.60")  # refused: nothing changed
    cart.set_line_discount(line.line_id, amount=D("30"), override=MANAGER)
    assert line.discount == D("30.00")
    assert [(o.action, o.manager_id) for o in cart.overrides] == [("line_discount", 2)]
    with pytest.raises(ValidationFailed, match="more than the amount"):
        cart.set_line_discount(line.line_id, amount=D("237"), override=MANAGER)


def test_order_discount_is_shared_over_lines_to_the_paisa() -> None:
    cart = Cart(max_discount_percent=D("50"))
    cart.add(MILK)
    cart.add(SOAP)
    cart.add(CHEESE, quantity=D("0.333"))  # 139.86
    cart.set_order_discount(amount=D("10.01"))
    shares = [line.order_discount_share for line in cart.lines]
    assert sum(shares) == D("10.01")
    totals = cart.totals()
    assert totals.total == totals.subtotal - D("10.01")
    assert sum(line.net for line in cart.lines) == totals.total
    cart.remove(cart.lines[2].line_id)
    assert sum(line.order_discount_share for line in cart.lines) == D("10.01")


def test_price_override_always_needs_a_manager() -> None:
    cart = Cart()
    line = cart.add(MILK)
    with pytest.raises(OverrideRequired):
        cart.override_price(line.line_id, unit_price=D("60"), override=None)
    cart.override_price(line.line_id, unit_price=D("60"), override=MANAGER)
    assert line.unit_price == D("60.00") and line.price_overridden
    assert cart.overrides[-1].detail == "MILK: ₹66.00 -> ₹60.00"


def test_cash_card_split_and_change() -> None:
    total = D("649.00")
    card = card_payment(amount=D("400"), reference="TXN1")
    cash = Payment(tender=Tender.CASH, amount=D("249.00"), tendered=D("300"))
    assert remaining(total=total, payments=[card]) == D("249.00")
    assert check_payments(total=total, payments=[card, cash]) == D("51.00")
    with pytest.raises(ValidationFailed, match="add up to ₹400.00"):
        check_payments(total=total, payments=[card])
    with pytest.raises(ValidationFailed, match="reference"):
        card_payment(amount=D("10"), reference="  ")
    with pytest.raises(ValidationFailed, match="less than"):
        cash_payment(due=total, tendered=D("600"))
    assert cash_payment(due=total, tendered=D("700")).change == D("51.00")


def test_on_account_within_cached_limit_only() -> None:
    kiran = CreditInfo(
        customer_id=502, local_id="x", name="Kiran", credit_limit=D("1000"), balance=D("900")
    )
    assert account_payment(amount=D("100"), credit=kiran).amount == D("100.00")
    with pytest.raises(CreditLimitExceeded, match="Kiran can buy only ₹100.00 more"):
        account_payment(amount=D("100.01"), credit=kiran)
    with pytest.raises(ValidationFailed, match="Choose a customer"):
        account_payment(amount=D("1"), credit=None)


def test_cart_table_model_shows_plain_rows() -> None:
    cart = Cart()
    cart.add(CHEESE, quantity=D("1.250"))
    line = cart.add(MILK)
    cart.set_line_discount(line.line_id, amount=D("6"))
    model = CartTableModel()
    model.set_rows([CartRow.of(line) for line in cart.lines])
    cells = [[model.data(model.index(r, c)) for c in range(5)] for r in range(2)]
    assert cells == [
        ["Cheese", "1.250 kg", "420.00", "", "525.00"],
        ["Milk", "1", "66.00", "−6.00", "60.00"],
    ]
    assert model.row_of(line.line_id) == 1


def test_line_tax_follows_every_change_of_what_is_paid() -> None:
    # A line's tax is remembered between totals; each change of its amount is a new answer.
    cart = Cart(max_discount_percent=D("50"))
    milk = cart.add(MILK)
    soap = cart.add(SOAP)
    assert (milk.tax, soap.tax) == (D("3.14"), D("36.00"))
    cart.add(MILK)  # 132.00 incl. 5%
    assert milk.tax == D("6.29")
    cart.set_order_discount(amount=D("36.80"))  # shares 13.20 and 23.60
    assert (milk.net, soap.net) == (D("118.80"), D("212.40"))
    assert (milk.tax, soap.tax) == (D("5.66"), D("32.40"))
    assert cart.totals().tax == D("38.06")
    cart.set_order_discount(amount=D("0"))
    assert cart.totals().tax == D("6.29") + D("36.00")


def test_line_gross_follows_every_change_of_quantity_or_price() -> None:
    # A line's gross is remembered between the many times a scan asks for it; any new
    # quantity or price, however it is set, is a new answer.
    cart = Cart()
    cheese = cart.add(CHEESE, quantity=D("0.250"))
    assert cheese.gross == D("105.00")
    cart.set_quantity(cheese.line_id, D("0.333"))
    assert cheese.gross == D("139.86")
    cart.override_price(cheese.line_id, unit_price=D("400"), override=MANAGER)
    assert cheese.gross == D("133.20")
    cheese.quantity = D("1.000")
    assert cheese.gross == D("400.00")
    assert cart.totals().subtotal == D("400.00")


def test_cart_model_inserts_and_updates_rows_in_place() -> None:
    # A scan appends or bumps a line: the view is told about those rows, and is reset only
    # when lines go away or the sale changes.
    cart = Cart()
    model = CartTableModel()
    events: list[tuple] = []
    model.modelReset.connect(lambda: events.append(("reset",)))
    model.rowsInserted.connect(lambda _p, first, last: events.append(("insert", first, last)))
    model.dataChanged.connect(
        lambda top, bottom, _roles: events.append(("changed", top.row(), bottom.row()))
    )

    def shown() -> list[list[object]]:
        return [[model.data(model.index(r, c)) for c in range(5)] for r in range(model.rowCount())]

    def expected() -> list[list[object]]:
        fresh = CartTableModel()
        fresh.set_rows([CartRow.of(line) for line in cart.lines])
        return [[fresh.data(fresh.index(r, c)) for c in range(5)] for r in range(fresh.rowCount())]

    cart.add(MILK)
    model.show_cart(cart)
    cart.add(SOAP)
    model.show_cart(cart)
    cart.add(MILK)
    model.show_cart(cart)
    model.show_cart(cart)  # nothing changed: nothing said
    assert events == [("insert", 0, 0), ("insert", 1, 1), ("changed", 0, 0)]
    assert shown() == expected()
    events.clear()
    cart.remove(cart.lines[0].line_id)
    model.show_cart(cart)
    assert events == [("reset",)] and shown() == expected() == [
        ["Soap", "1", "236.00", "", "236.00"]
    ]
    events.clear()
    cart.clear()
    cart.add(SOAP)
    model.show_cart(cart)  # a new sale's first line has another id: reset
    assert events == [("reset",)] and model.rows[0].line_id == cart.lines[0].line_id


def test_payment_messages_print_money_in_the_tills_currency() -> None:
    from common.errors import CreditLimitExceeded, ValidationFailed
    from pos_client.services.till import (
        CreditInfo,
        Payment,
        account_payment,
        cash_payment,
        check_payments,
    )

    with pytest.raises(ValidationFailed) as little:
        cash_payment(due=Decimal("500.0000"), tendered=Decimal("200"))
    assert str(little.value) == "Cash handed over (₹200.00) is less than the ₹500.00 due"
    ravi = CreditInfo(
        customer_id=1,
        local_id="c1",
        name="Ravi",
        credit_limit=Decimal("1000.0000"),
        balance=Decimal("900.0000"),
    )
    with pytest.raises(CreditLimitExceeded) as over:
        account_payment(amount=Decimal("250"), credit=ravi)
    assert "only ₹100.00 more on account (limit ₹1,000.00, owing ₹900.00)" in str(over.value)
    with pytest.raises(ValidationFailed) as short:
        check_payments(
            total=Decimal("90"),
            payments=[Payment(tender=Tender.CARD, amount=Decimal("50.00"))],
            currency="KWD",
        )
    assert str(short.value) == "Payments add up to KWD 50.000, the sale is KWD 90.000"
