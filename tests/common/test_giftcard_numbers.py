"""Card numbers: a Luhn check digit catches every single mistyped digit and most swaps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import giftcards


def test_new_numbers_are_valid_and_of_their_kind() -> None:
    for kind in ("gift_card", "store_credit"):
        number = giftcards.new_number(kind)
        assert len(number) == 16 and giftcards.is_valid(number)
        assert giftcards.kind_of(number) == kind
    assert giftcards.grouped("6000000000000006") == "6000 0000 0000 0006"
    assert giftcards.masked("6000000000000006") == "•••• 0006"


@given(st.integers(min_value=0, max_value=14), st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_caught(position: int, shift: int) -> None:
    number = giftcards.new_number()
    digit = (int(number[position + 1]) + shift) % 10
    typo = number[: position + 1] + str(digit) + number[position + 2 :]
    assert not giftcards.is_valid(typo)
    with pytest.raises(ValueError, match="mistyped"):
        giftcards.check(typo)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("123", "16 digits"),
        ("6000 0000 0000 000x", "16 digits"),
        ("１２３４５６７８９０１２３４５６", "16 digits"),
        ("5000000000000009", "not one of our"),
    ],
)
def test_bad_numbers_are_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        giftcards.check(text)


def test_spaces_and_dashes_are_ignored() -> None:
    number = giftcards.new_number()
    assert giftcards.check(f" {number[:4]}-{number[4:8]} {number[8:]} ") == number
