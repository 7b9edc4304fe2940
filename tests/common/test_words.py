"""Amounts in words, as tax invoices state their totals."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.words import amount_in_words, number_in_words


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        ("0", "INR", "Rupees Zero Only"),
        ("0.05", "INR", "Rupees Zero and Five Paise Only"),
        ("1234.50", "INR", "Rupees One Thousand Two Hundred Thirty-Four and Fifty Paise Only"),
        ("100000", "INR", "Rupees One Lakh Only"),
        (
            "12345678.99",
            "INR",
            "Rupees One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred "
            "Seventy-Eight and Ninety-Nine Paise Only",
        ),
        # A credit note's negative total: the document says it is a credit.
        ("-1180", "INR", "Rupees One Thousand One Hundred Eighty Only"),
        # Rounded by the one money rule first: the words say what the figures say.
        ("10.005", "INR", "Rupees Ten and One Paise Only"),
        ("10.5", "USD", "USD Ten and 50/100 Only"),
        ("100", "JPY", "JPY One Hundred Only"),
        ("1.234", "KWD", "KWD One and 234/1000 Only"),
    ],
)
def test_amounts_in_words(amount, currency, words):
    assert amount_in_words(D(amount), currency) == words


def test_beyond_a_thousand_crore_counts_crores():
    assert number_in_words(2 * 10**10 + 5) == "Two Thousand Crore Five"


@given(st.integers(min_value=0, max_value=10**15))
def test_every_whole_number_has_words_without_commas_or_and(number):
    words = number_in_words(number)
    assert words and "," not in words and " and " not in words
    assert all(part[0].isupper() for part in words.split())


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        number_in_words(-1)
