"""UPI payment links (the `upi://pay?…` a customer's phone app reads from a QR code)."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, quote, urlsplit

from common.money import round_money

# A virtual payment address: handle@provider (NPCI allows letters, digits, . - _).
_VPA = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z][A-Za-z0-9.\-]{1,63}$")


def is_vpa(text: str) -> bool:
    """Say whether text is a UPI virtual payment address such as shop@okbank."""
    return bool(_VPA.match(text.strip()))


def pay_uri(*, vpa: str, payee: str, amount: Decimal, note: str, currency: str = "INR") -> str:
    """Build the dynamic payment link for one amount, as a UPI QR code carries it."""
    if not is_vpa(vpa):
        raise ValueError(f"{vpa!r} is not a UPI address (name@bank)")
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    amount = round_money(amount, currency)
    if amount <= 0:
        raise ValueError("a UPI payment must be more than zero")
    params = [
        ("pa", vpa.strip()),
        ("pn", payee.strip()[:50]),
        ("am", f"{amount:.2f}"),
        ("cu", currency),
        ("tn", note.strip()[:80]),
    ]
    # UPI apps expect %20, not +, and keep @ as it is in the address.
    query = "&".join(f"{key}={quote(value, safe='@.-_')}" for key, value in params if value)
    return f"upi://pay?{query}"


def read_uri(uri: str) -> dict[str, str]:
    """Return the fields of a upi://pay link (what a phone app would show)."""
    parts = urlsplit(uri)
    if parts.scheme != "upi" or parts.netloc != "pay":
        raise ValueError("not a UPI payment link")
    return {key: values[0] for key, values in parse_qs(parts.query).items()}
