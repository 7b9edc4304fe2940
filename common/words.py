"""An amount written in words, as a tax invoice states its total ("Rupees One Lakh … Only").

Indian numbering (thousand, lakh, crore) for rupees; other currencies name their code and
write the minor part as a fraction of the unit. The amount is rounded by common.money first,
so the words always say exactly what the figures say.
"""

from __future__ import annotations

from decimal import Decimal

from common.money import DEFAULT_CURRENCY, minor_units, round_money

# The major and minor unit's names where a currency has names people write on invoices.
_NAMES: dict[str, tuple[str, str]] = {"INR": ("Rupees", "Paise")}
_CRORE = 10**7
_THOUSAND_CRORE = 10**10


def _title(words: str) -> str:
    # "one lakh, twenty-three thousand" -> "One Lakh Twenty-Three Thousand"
    parts = words.replace(",", "").replace(" and ", " ").split()
    return " ".join("-".join(p.capitalize() for p in part.split("-")) for part in parts)


def number_in_words(number: int) -> str:
    """Return a whole number in words, Indian numbering, title case ("Twelve Lakh")."""
    if number < 0:
        raise ValueError("number_in_words takes a whole number of zero or more")
    if number >= _THOUSAND_CRORE:
        # Past what the library writes: so many crore, then the rest ("Two Thousand Crore").
        crores, rest = divmod(number, _CRORE)
        tail = f" {number_in_words(rest)}" if rest else ""
        return f"{number_in_words(crores)} Crore{tail}"
    # Imported here, not at the top: num2words loads every language it knows (~20 ms of
    # CPU), and every start of the server imports this module; only invoices write words.
    from num2words import num2words

    return _title(num2words(number, lang="en_IN"))


def amount_in_words(amount: Decimal, currency: str = DEFAULT_CURRENCY) -> str:
    """Return an amount in words for a document's total; the sign is left to the document.

    >>> amount_in_words(Decimal("1234.50"))
    'Rupees One Thousand Two Hundred Thirty-Four and Fifty Paise Only'
    """
    rounded = abs(round_money(amount, currency))
    places = minor_units(currency)
    whole = int(rounded)
    minor = int((rounded - whole).scaleb(places))
    major_name, minor_name = _NAMES.get(currency.upper(), (currency.upper(), ""))
    text = f"{major_name} {number_in_words(whole)}"
    if minor:
        if minor_name:
            text += f" and {number_in_words(minor)} {minor_name}"
        else:
            text += f" and {minor}/{10**places}"
    return f"{text} Only"
