"""Gift card and store credit numbers: 16 digits with a Luhn check digit, pure and shared.

The till checks a number offline before it takes it as a tender, and makes the number of
store credit it issues offline; the server checks the same way before it books anything.
"""

from __future__ import annotations

import secrets

CARD_DIGITS = 16
# Gift cards start with 6, store credit with 7, so a cashier reading one tells which it is.
GIFT_CARD_PREFIX = "6"
STORE_CREDIT_PREFIX = "7"
KINDS = {"gift_card": GIFT_CARD_PREFIX, "store_credit": STORE_CREDIT_PREFIX}


def luhn_digit(body: str) -> str:
    """Return the Luhn check digit for a string of digits."""
    if not body.isdigit() or not body.isascii():
        raise ValueError("a card number has only digits")
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def normalize(number: str) -> str:
    """Drop the spaces and dashes people type or print between groups of digits."""
    return number.replace(" ", "").replace("-", "").strip()


def is_valid(number: str) -> bool:
    """Say whether a card number has the right length, prefix and check digit."""
    number = normalize(number)
    if len(number) != CARD_DIGITS or not number.isdigit() or not number.isascii():
        return False
    if number[0] not in KINDS.values():
        return False
    return luhn_digit(number[:-1]) == number[-1]


def check(number: str) -> str:
    """Return the normalized number, or raise ValueError with words a cashier understands."""
    cleaned = normalize(number)
    if len(cleaned) != CARD_DIGITS or not cleaned.isdigit() or not cleaned.isascii():
        raise ValueError(f"A card number has {CARD_DIGITS} digits.")
    if cleaned[0] not in KINDS.values():
        raise ValueError("That is not one of our gift card or store credit numbers.")
    if luhn_digit(cleaned[:-1]) != cleaned[-1]:
        raise ValueError("That card number is mistyped (its check digit does not match).")
    return cleaned


def kind_of(number: str) -> str:
    """Return "gift_card" or "store_credit" from a valid number's first digit."""
    first = normalize(number)[:1]
    for kind, prefix in KINDS.items():
        if prefix == first:
            return kind
    raise ValueError("unknown card prefix")


def new_number(kind: str = "gift_card") -> str:
    """Make a random card number of a kind (unguessable: 14 random digits)."""
    body = KINDS[kind] + "".join(secrets.choice("0123456789") for _ in range(CARD_DIGITS - 2))
    return body + luhn_digit(body)


def grouped(number: str) -> str:
    """Print a number in groups of four, as on the card."""
    cleaned = normalize(number)
    return " ".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))


def masked(number: str) -> str:
    """Show only the last four digits (receipts, logs)."""
    cleaned = normalize(number)
    return "•••• " + cleaned[-4:]
