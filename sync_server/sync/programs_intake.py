"""Apply the customer-program side of pushed events: gift card tenders, held sales, e-receipts.

Called once per event from push.apply_event, inside the event's savepoint, after the core
document (sale, return, void) is booked. A gift card payment a till took offline is a fact:
past the card's balance (or on a card the server does not know) the sale still stands, the
card is booked overdrawn, and managers get an alert and a dead letter to resolve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import giftcards as card_numbers
from common.errors import ValidationFailed
from common.money import format_money
from common.sync.programs import (
    GiftCardSold,
    HeldSaleParked,
    HeldSaleRecalled,
    ReceiptEmailRequested,
)
from common.sync.protocol import (
    Event,
    Payload,
    PaymentMethod,
    ReturnRecorded,
    SaleCompleted,
    SaleVoided,
)
from sync_server.alerts import service as alerts
from sync_server.ereceipts import service as ereceipts
from sync_server.foundation.principal import Actor
from sync_server.giftcards import service as giftcards
from sync_server.giftcards.models import GiftCard
from sync_server.heldsales import service as heldsales
from sync_server.loyalty import service as loyalty
from sync_server.org.service import get_setting
from sync_server.sales.models import Sale, SalePayment
from sync_server.sync.models import DeadLetter, Device

# Dead letters of this type record a fact already booked: they are resolved, never retried.
OVERDRAWN = "giftcard.overdrawn"
POINTS_OVERDRAWN = "loyalty.overdrawn"
NOT_RETRYABLE = frozenset({OVERDRAWN, POINTS_OVERDRAWN})


def apply(
    session: Session,
    *,
    device: Device,
    actor: Actor,
    event: Event,
    payload: Payload,
    sale_customer_id: int | None = None,
) -> None:
    """Book what the event means for gift cards, held sales and e-receipts.

    For a sale, `sale_customer_id` is the customer it was booked with (saves reading it back).
    """
    branch_id = device.branch_id
    if isinstance(payload, SaleCompleted):
        _sale_payments(
            session,
            device=device,
            actor=actor,
            event=event,
            payload=payload,
            customer_id=sale_customer_id,
        )
    elif isinstance(payload, SaleVoided):
        _void(session, actor=actor, payload=payload)
    elif isinstance(payload, ReturnRecorded):
        _refunds(session, actor=actor, branch_id=branch_id, payload=payload)
    elif isinstance(payload, GiftCardSold):
        _sold(session, actor=actor, branch_id=branch_id, payload=payload)
    elif isinstance(payload, HeldSaleParked):
        heldsales.park(session, actor=actor, branch_id=branch_id, payload=payload)
    elif isinstance(payload, HeldSaleRecalled):
        heldsales.mark_recalled(session, actor=actor, branch_id=branch_id, hold_id=payload.hold_id)
    elif isinstance(payload, ReceiptEmailRequested):
        ereceipts.request(session, actor=actor, branch_id=branch_id, payload=payload)


def _sale_payments(
    session: Session,
    *,
    device: Device,
    actor: Actor,
    event: Event,
    payload: SaleCompleted,
    customer_id: int | None,
) -> None:
    if customer_id is not None:
        _loyalty(
            session,
            device=device,
            actor=actor,
            event=event,
            payload=payload,
            customer_id=customer_id,
        )
    for payment in payload.payments:
        if payment.method != PaymentMethod.GIFT_CARD:
            continue
        booked = giftcards.redeem_from_till(
            session,
            actor=actor,
            number=payment.reference or "",
            amount=payment.amount,
            payment_id=payment.payment_id,
            branch_id=device.branch_id,
        )
        if booked.overdrawn:
            _flag_overdrawn(session, device=device, event=event, payload=payload, booked=booked)


def _loyalty(
    session: Session,
    *,
    device: Device,
    actor: Actor,
    event: Event,
    payload: SaleCompleted,
    customer_id: int,
) -> None:
    """Burn the points a till took as payment, then earn on the rest of the sale."""
    for payment in payload.payments:
        if payment.method != PaymentMethod.LOYALTY:
            continue
        points = int(payment.reference or "0")
        burned = loyalty.burn_from_till(
            session,
            actor=actor,
            customer_id=customer_id,
            points=points,
            payment_id=payment.payment_id,
        )
        if burned.overdrawn:
            reason = (
                f"Customer #{customer_id} paid {points} points at till {device.name} on sale "
                f"{payload.receipt_number} and is now {-burned.balance_after} points short. "
                "The sale is booked; adjust the points or collect the difference."
            )
            _alert_and_letter(
                session,
                device=device,
                event=event,
                kind="loyalty_overdrawn",
                letter_type=POINTS_OVERDRAWN,
                reason=reason,
                details={
                    "customer_id": customer_id,
                    "receipt_number": payload.receipt_number,
                    "points": points,
                    "balance": burned.balance_after,
                },
            )
    loyalty.earn_for_sale(session, actor=actor, customer_id=customer_id, payload=payload)


def _alert_and_letter(
    session: Session,
    *,
    device: Device,
    event: Event,
    kind: str,
    letter_type: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    alerts.raise_alert(
        session,
        tenant_id=device.tenant_id,
        kind=kind,
        branch_id=device.branch_id,
        details={**details, "device_name": device.name, "message": reason},
    )
    session.add(DeadLetter.of(device=device, event=event, kind=letter_type, reason=reason))


def _flag_overdrawn(
    session: Session,
    *,
    device: Device,
    event: Event,
    payload: SaleCompleted,
    booked: giftcards.TillRedemption,
) -> None:
    """Tell managers a till took more from a card than it held (or a card we do not know)."""
    currency = str(get_setting(session, tenant_id=device.tenant_id, key="currency"))
    masked = card_numbers.masked(booked.number)
    if booked.unknown:
        reason = (
            f"Till {device.name} took {format_money(booked.amount, currency)} on card "
            f"{masked}, which this server does not know. Sale {payload.receipt_number} "
            "is booked; collect the amount or write it off."
        )
    else:
        assert booked.balance_after is not None
        reason = (
            f"Card {masked} is overdrawn by {format_money(-booked.balance_after, currency)}: "
            f"till {device.name} took {format_money(booked.amount, currency)} offline on sale "
            f"{payload.receipt_number}. The sale is booked; top the card up, block it or "
            "write the difference off."
        )
    alerts.raise_alert(
        session,
        tenant_id=device.tenant_id,
        kind="giftcard_overdrawn",
        branch_id=device.branch_id,
        details={
            "card": masked,
            "receipt_number": payload.receipt_number,
            "amount": str(booked.amount),
            "balance": str(booked.balance_after) if booked.balance_after is not None else None,
            "device_name": device.name,
            "message": reason,
        },
    )
    session.add(DeadLetter.of(device=device, event=event, kind=OVERDRAWN, reason=reason))


def _void(session: Session, *, actor: Actor, payload: SaleVoided) -> None:
    """Give a voided sale's gift card payments back to their cards."""
    rows = session.execute(
        select(SalePayment.payment_uuid, SalePayment.amount, SalePayment.reference, Sale.branch_id)
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(
            Sale.tenant_id == actor.tenant_id,
            Sale.uuid == payload.sale_id,
            SalePayment.method == PaymentMethod.GIFT_CARD.value,
        )
    ).all()
    for payment_uuid, amount, reference, branch_id in rows:
        known = session.scalar(
            select(GiftCard.id).where(
                GiftCard.tenant_id == actor.tenant_id, GiftCard.number == (reference or "")
            )
        )
        if known is None or reference is None:
            continue  # never booked (an unknown card): nothing to give back
        giftcards.refund_to_card(
            session,
            actor=actor,
            number=reference,
            amount=giftcards.exact(amount),
            refund_id=f"void:{payment_uuid}",
            branch_id=branch_id,
            customer_id=None,
        )


def _refunds(session: Session, *, actor: Actor, branch_id: int, payload: ReturnRecorded) -> None:
    """Put refunds made to a gift card or store credit on the card (issuing new credit)."""
    for refund in payload.refunds:
        if refund.method != PaymentMethod.GIFT_CARD:
            continue
        if not refund.reference:
            raise ValidationFailed("A refund to store credit needs the card number.")
        giftcards.refund_to_card(
            session,
            actor=actor,
            number=refund.reference,
            amount=refund.amount,
            refund_id=refund.refund_id,
            branch_id=branch_id,
            customer_id=None,
        )


def _sold(session: Session, *, actor: Actor, branch_id: int, payload: GiftCardSold) -> None:
    """Issue a card the till sold, or top up one the server already has."""
    number = giftcards.clean_number(payload.number)
    exists = session.scalar(
        select(GiftCard.id).where(GiftCard.tenant_id == actor.tenant_id, GiftCard.number == number)
    )
    if exists is not None:
        giftcards.top_up(
            session,
            actor=actor,
            number=number,
            amount=payload.amount,
            reference=payload.issue_id,
            method=payload.method,
        )
        return
    giftcards.issue(
        session,
        actor=actor,
        amount=payload.amount,
        kind=payload.kind,
        number=number,
        customer_id=payload.customer_id,
        method=payload.method,
        reference=payload.issue_id,
        branch_id=branch_id,
    )
