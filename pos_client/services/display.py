"""What the customer display shows: the cart's lines, totals, savings and a UPI payment link.

Plain data built from the cart, so the display window only draws it (and tests read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import upi
from common.money import ZERO
from common.units import format_quantity
from pos_client.services.till import Cart
from pos_client.store.models import Setting


@dataclass(frozen=True)
class DisplayLine:
    name: str
    quantity: str
    amount: Decimal
    saving: Decimal


@dataclass(frozen=True)
class DisplayState:
    lines: tuple[DisplayLine, ...]
    item_count: Decimal
    savings: Decimal
    total: Decimal
    customer: str | None


@dataclass(frozen=True)
class UpiPayee:
    vpa: str
    name: str


def display_state(cart: Cart) -> DisplayState:
    """Describe the cart for the customer's eyes."""
    totals = cart.totals()
    return DisplayState(
        lines=tuple(
            DisplayLine(
                name=line.item.name,
                quantity=format_quantity(line.quantity),
                amount=line.net,
                saving=line.discount + line.order_discount_share,
            )
            for line in cart.lines
        ),
        item_count=totals.item_count,
        savings=totals.discount_total if cart.lines else ZERO,
        total=totals.total if cart.lines else ZERO,
        customer=cart.customer.name if cart.customer else None,
    )


def upi_payee(session: Session) -> UpiPayee | None:
    """Return the shop's UPI address as last synced, or None when it has none."""
    values: dict[str, Any] = dict(
        session.execute(
            select(Setting.key, Setting.value).where(Setting.key.in_(["upi_vpa", "upi_payee_name"]))
        ).all()
    )
    vpa = str(values.get("upi_vpa") or "").strip()
    if not upi.is_vpa(vpa):
        return None
    return UpiPayee(vpa=vpa, name=str(values.get("upi_payee_name") or ""))


def upi_link(*, payee: UpiPayee, amount: Decimal, note: str) -> str:
    """Return the payment link for this amount (what the QR code holds)."""
    return upi.pay_uri(vpa=payee.vpa, payee=payee.name, amount=amount, note=note)
