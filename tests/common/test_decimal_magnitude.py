"""Decimals of absurd size are refused as bad input before any arithmetic sees them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.hygiene import strict_decimal


@pytest.mark.parametrize(
    "text",
    [
        "1e999999",
        "-039.E+94",
        ".91073349831E+335042948590658036710662",
        "1e-30",
        "4020168.64E+093875652",
    ],
)
def test_absurd_magnitudes_are_a_value_error(text):
    with pytest.raises(ValueError, match="far too large or too small"):
        strict_decimal(text)


@pytest.mark.parametrize("text", ["0", "12.50", "1E+3", "-0.0001", "9999999999.9999"])
def test_ordinary_numbers_pass(text):
    assert strict_decimal(text) == Decimal(text)
