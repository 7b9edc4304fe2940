"""Gift cards and store credit at the till: check, take as a tender (offline within limits), sell.

The server holds every balance. Online, the till asks it for the card's balance before it
takes the card; offline, it takes at most what the server allows per card and per till
(settings giftcard_offline_card_limit / giftcard_offline_till_limit, or the card's own limit
as last seen) and the server books the sale when it arrives, flagging an overdrawn card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import giftcards as numbers
from common.codes import Tender
from common.errors import ValidationFailed
from common.ids import new_id
from common.money import ZERO, format_money, round_money
from common.sync.programs import GiftCardSold
from common.sync.protocol import Event, PaymentMethod
from common.tenant_settings import defaults
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Payment
from pos_client.store import documents, outbox
from pos_client.store.models import Sale, SalePayment, Setting, utcnow
from pos_client.store.programs import KnownGiftCard

_DEFAULTS = defaults()


@dataclass(frozen=True)
class CardInfo:
    """A card as the server just described it."""

    number: str
    kind: str
    balance: Decimal
    has_pin: bool
    status: str
    offline_limit: Decimal

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardInfo:
        return cls(
            number=data["number"],
            kind=data["kind"],
            balance=Decimal(data["balance"]),
            has_pin=bool(data["has_pin"]),
            status=data["status"],
            offline_limit=Decimal(data["offline_limit"]),
        )


def clean(number: str) -> str:
    """Return a typed or scanned card number, or raise with words a cashier understands."""
    try:
        return numbers.check(number)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def check_online(engine: SyncEngine, *, number: str, pin: str | None = None) -> CardInfo:
    """Ask the server for a card's balance (raises SyncFailed when it cannot answer)."""
    answer = engine.call("POST", f"/giftcards/{clean(number)}/balance", json={"pin": pin})
    return CardInfo.from_json(answer)


def remember(session: Session, info: CardInfo) -> None:
    """Keep what the server said about a card, to bound offline redemptions later."""
    row = session.get(KnownGiftCard, info.number) or KnownGiftCard(number=info.number)
    row.kind = info.kind
    row.balance = info.balance
    row.has_pin = info.has_pin
    row.status = info.status
    row.offline_limit = info.offline_limit
    row.checked_at = utcnow()
    session.add(row)


def unsynced_uses(
    session: Session, *, number: str | None = None, since: datetime | None = None
) -> Decimal:
    """Return what this till took in gift cards on sales the server has not received yet.

    With since: on sales made after that time instead (synced or not).
    """
    stmt = (
        select(SalePayment.amount)
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(SalePayment.method == Tender.GIFT_CARD.value, Sale.status == "completed")
    )
    if since is None:
        stmt = stmt.where(Sale.synced_at.is_(None))
    else:
        stmt = stmt.where(Sale.created_at > since)
    if number is not None:
        stmt = stmt.where(SalePayment.reference == number)
    # Amounts are stored as text: add them up exactly here, not as SQLite REALs.
    return sum(session.scalars(stmt), ZERO)


def offline_limits(session: Session) -> tuple[Decimal, Decimal]:
    """Return (per card, per till) offline limits as last synced from the server."""
    values: dict[str, Any] = dict(
        session.execute(
            select(Setting.key, Setting.value).where(
                Setting.key.in_(["giftcard_offline_card_limit", "giftcard_offline_till_limit"])
            )
        ).all()
    )

    def value(key: str) -> Decimal:
        return Decimal(str(values.get(key, _DEFAULTS[key])))

    return value("giftcard_offline_card_limit"), value("giftcard_offline_till_limit")


def gift_card_payment(
    session: Session,
    *,
    number: str,
    amount: Decimal,
    seen: CardInfo | None,
    currency: str,
) -> Payment:
    """Take a card as a tender: within its balance online, within the limits offline."""
    number = clean(number)
    amount = round_money(amount)
    if amount <= 0:
        raise ValidationFailed("A gift card payment must be more than zero")
    masked = numbers.masked(number)
    local = unsynced_uses(session, number=number)
    if seen is not None:
        if seen.status != "active":
            raise ValidationFailed(f"Card {masked} is blocked; ask a manager")
        available = seen.balance - local
        if amount > available:
            raise ValidationFailed(
                f"Card {masked} holds only {format_money(max(available, ZERO), currency)}"
            )
        return Payment(tender=Tender.GIFT_CARD, amount=amount, reference=number)
    known = session.get(KnownGiftCard, number)
    if known is not None and known.has_pin:
        raise ValidationFailed(
            f"Card {masked} has a PIN, which only the server can check; "
            "take another payment until the till is back online"
        )
    if known is not None and known.status != "active":
        raise ValidationFailed(f"Card {masked} is blocked; ask a manager")
    card_limit, till_limit = offline_limits(session)
    if known is not None and known.offline_limit is not None:
        card_limit = known.offline_limit
    card_left = card_limit - local
    if known is not None:
        # What the server said minus what this till took since: a bound it knows for sure.
        left = known.balance - unsynced_uses(session, number=number, since=known.checked_at)
        card_left = min(card_left, left)
    till_left = till_limit - unsynced_uses(session)
    if amount > card_left:
        raise ValidationFailed(
            f"Offline, this till can take at most {format_money(max(card_left, ZERO), currency)} "
            f"from card {masked}"
        )
    if amount > till_left:
        raise ValidationFailed(
            "Offline, this till can take at most "
            f"{format_money(max(till_left, ZERO), currency)} more in gift cards"
        )
    return Payment(tender=Tender.GIFT_CARD, amount=amount, reference=number)


@dataclass(frozen=True)
class SoldCard:
    number: str
    amount: Decimal
    event_id: str


def sell_card(
    session: Session,
    *,
    amount: Decimal,
    cashier: Cashier,
    shift_id: str | None,
    method: PaymentMethod = PaymentMethod.CASH,
    kind: str = "gift_card",
    number: str | None = None,
    customer_id: int | None = None,
) -> SoldCard:
    """Sell (or top up) a card: the server issues it when the event arrives.

    Paid in cash, the cash is booked into the shift's drawer as a cash-in.
    """
    amount = round_money(amount)
    if amount <= 0:
        raise ValidationFailed("A gift card must be worth more than zero")
    number = clean(number) if number else numbers.new_number(kind)
    state = documents.get_state(session)
    payload = GiftCardSold(
        issue_id=new_id(),
        number=number,
        kind=numbers.kind_of(number),  # type: ignore[arg-type]
        amount=amount,
        method=str(method),
        branch_id=state.branch_id or 0,
        shift_id=shift_id,
        cashier_id=cashier.user_id,
        customer_id=customer_id,
    )
    event = Event.wrap(payload, device_id=state.device_id or "")
    outbox.enqueue(session, event=event, document_id=payload.issue_id)
    if method == PaymentMethod.CASH:
        # The card's cash goes in the drawer: count it, so the shift's expected cash is right.
        documents.record_cash_movement(
            session,
            shift_id=shift_id,
            direction="in",
            amount=amount,
            reason=f"Gift card {numbers.masked(number)} sold",
            cashier_id=cashier.user_id,
        )
    return SoldCard(number=number, amount=amount, event_id=event.id)


def new_store_credit() -> str:
    """Make the number of store credit issued at this till (the server books it on push)."""
    return numbers.new_number("store_credit")
