"""Money: Decimal only, one rounding rule (half-up), exact splits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import Money, allocate, format_money, round_money, tax_included, to_minor


def test_rounding_is_half_up_to_the_minor_unit():
    assert round_money("2.345") == Decimal("2.35")
    assert round_money("2.344") == Decimal("2.34")
    assert round_money("-2.345") == Decimal("-2.35")
    assert round_money("100.5", "JPY") == Decimal("101")
    assert round_money("1.2345", "KWD") == Decimal("1.235")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        round_money(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        round_money("NaN")


def test_money_arithmetic_keeps_currency():
    total = Money(Decimal("10.10")) + Money(Decimal("0.205"))
    assert total.round() == Money(Decimal("10.31"))
    with pytest.raises(ValueError):
        Money(Decimal("1"), "INR") + Money(Decimal("1"), "USD")


def test_tax_included_and_minor_units():
    assert tax_included(Decimal("105.00"), Decimal("5")) == Decimal("5.00")
    assert tax_included(Decimal("118.00"), Decimal("18")) == Decimal("18.00")
    assert to_minor("12.34") == 1234
    assert format_money(Decimal("1234567.5")) == "₹1,234,567.50"


@given(
    total=st.decimals(min_value=0, max_value=10**9, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=1000, places=3), min_size=1, max_size=8),
)
def test_allocation_always_adds_up_exactly(total, weights):
    parts = allocate(total, weights)
    assert sum(parts, Decimal(0)) == round_money(total)
    assert len(parts) == len(weights)


def test_messages_print_money_with_the_currencys_places_and_quantities_bare():
    from common.money import format_money
    from common.units import format_quantity

    assert format_money(Decimal("500.0000"), "INR") == "₹500.00"
    assert format_money(Decimal("1234.5"), "KWD") == "KWD 1,234.500"
    assert format_money(Decimal("90"), "JPY") == "¥90"
    assert format_quantity(Decimal("2.000")) == "2"
    assert format_quantity(Decimal("1.250"), "kg") == "1.25 kg"
    assert format_quantity(Decimal("1E+1")) == "10"
    assert format_quantity(Decimal("-0.000")) == "0"
    assert format_quantity(Decimal("3"), "piece") == "3"
