"""Sign and verify StockPilot webhook deliveries (standard library only: integrators may copy it).

A delivery carries ``X-StockPilot-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed with the rule's secret, of ``"<t>." + raw body``. The timestamp is inside
the signature, so a captured delivery cannot be replayed later: a receiver refuses any
delivery whose ``t`` is more than TOLERANCE_SECONDS away from its own clock, and may remember
the ``X-StockPilot-Delivery`` ids it saw within that window to refuse a replay inside it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-StockPilot-Signature"
DELIVERY_HEADER = "X-StockPilot-Delivery"
EVENT_HEADER = "X-StockPilot-Event"
TOLERANCE_SECONDS = 300
SCHEME = "v1"


class InvalidSignature(ValueError):
    """A delivery whose signature is missing, wrong, or too old (or from the future)."""


def _digest(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """Return the signature header value for a body sent at a Unix time."""
    return f"t={timestamp},{SCHEME}={_digest(secret=secret, timestamp=timestamp, body=body)}"


def verify(
    *,
    secret: str,
    body: bytes,
    header: str | None,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check a delivery's signature and age; return its timestamp or raise InvalidSignature.

    Pass the raw request body exactly as received (not re-serialised JSON).
    """
    if not header:
        raise InvalidSignature(f"The {SIGNATURE_HEADER} header is missing.")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise InvalidSignature("The signature has no timestamp (t=…).") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(
            f"The delivery was signed {int(now - timestamp)} s ago, outside the "
            f"{tolerance} s tolerance: a replay or a clock far off."
        )
    expected = _digest(secret=secret, timestamp=timestamp, body=body)
    # Several v1 values may be present while a secret is being rotated.
    if not any(hmac.compare_digest(expected, given) for given in parts.get(SCHEME, [])):
        raise InvalidSignature("The signature does not match the body and timestamp.")
    return timestamp
