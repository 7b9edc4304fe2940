"""Sync payloads of customer programs: gift cards sold, held sales, e-receipt requests."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from common.schemas.base import Amount, JsonObject
from common.sync.protocol import EventType, Payload


class GiftCardSold(Payload):
    """A gift card (or store credit) sold or given at the till; the till made its number."""

    TYPE: ClassVar[EventType] = EventType.GIFT_CARD_SOLD

    issue_id: str
    number: str = Field(min_length=16, max_length=24)
    kind: Literal["gift_card", "store_credit"] = "gift_card"
    amount: Amount = Field(gt=0)
    method: str = Field(default="cash", max_length=32)
    reference: str | None = Field(default=None, max_length=80)
    branch_id: int
    shift_id: str | None = None
    cashier_id: int | None = None
    customer_id: int | None = None


class HeldSaleParked(Payload):
    """A cart parked at a till, so another till of the branch may recall it."""

    TYPE: ClassVar[EventType] = EventType.HELD_SALE_PARKED

    hold_id: str
    branch_id: int
    label: str = Field(default="", max_length=80)
    total: Amount = Decimal("0")
    cashier_id: int | None = None
    # The cart as the till serialises it (lines, discounts, customer); opaque to the server.
    cart: JsonObject


class HeldSaleRecalled(Payload):
    """A parked cart taken back by a till (it leaves the branch's list)."""

    TYPE: ClassVar[EventType] = EventType.HELD_SALE_RECALLED

    hold_id: str
    branch_id: int


class ReceiptEmailRequested(Payload):
    """The cashier sends the receipt by e-mail (or, with phone, by SMS); the customer agreed."""

    TYPE: ClassVar[EventType] = EventType.RECEIPT_EMAIL_REQUESTED

    request_id: str
    receipt_number: str = Field(min_length=1, max_length=40)
    branch_id: int
    email: str | None = Field(default=None, min_length=3, max_length=254)
    phone: str | None = Field(default=None, min_length=5, max_length=40)
    consent: bool
    consent_text: str = Field(default="", max_length=300)
    customer_id: int | None = None
    subject: str = Field(default="", max_length=200)
    body: str = Field(min_length=1, max_length=20000)


PAYLOADS: dict[EventType, type[Payload]] = {
    cls.TYPE: cls for cls in (GiftCardSold, HeldSaleParked, HeldSaleRecalled, ReceiptEmailRequested)
}
