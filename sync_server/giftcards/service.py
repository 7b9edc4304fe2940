"""Issue, top up, redeem and refund to gift cards and store credit; the server holds the balance.

Every change is an entry in the card's ledger and moves ``balance`` in the same transaction,
under the card's row lock, so concurrent tills and API calls never lose an update.
Redemptions a till made offline are facts: they are booked even past the balance, marked
overdrawn, and the caller (sync intake) raises the alert and the dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from common import giftcards as numbers
from common.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from common.hashing import hash_secret, verify_secret
from common.ids import new_id
from common.money import format_money
from sync_server.audit import service as audit
from sync_server.db import lock_for_update
from sync_server.foundation.principal import Actor
from sync_server.giftcards.models import GiftCard, GiftCardEntry
from sync_server.org.service import get_setting
from sync_server.partners.models import Customer

ZERO = Decimal("0")
_PLACES = Decimal("0.0001")


def exact(value: Any) -> Decimal:
    """Return a stored or summed amount as an exact Decimal (SQLite sums NUMERIC as REAL)."""
    return ZERO.quantize(_PLACES) if value is None else Decimal(str(value)).quantize(_PLACES)


def _positive(amount: Decimal, what: str) -> Decimal:
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed(f"The {what} must be more than zero.")
    return amount


def clean_number(number: str) -> str:
    try:
        return numbers.check(number)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None


def _currency(session: Session, tenant_id: int) -> str:
    return str(get_setting(session, tenant_id=tenant_id, key="currency"))


def find(session: Session, *, tenant_id: int, number: str, lock: bool = False) -> GiftCard:
    """Return a card of the tenant by number (locked to change it), or raise NotFound."""
    stmt = select(GiftCard).where(GiftCard.tenant_id == tenant_id, GiftCard.number == number)
    card = session.scalar(lock_for_update(stmt, session) if lock else stmt)
    if card is None:
        raise NotFound(f"There is no card {numbers.masked(number)}.")
    if lock:
        session.refresh(card)
    return card


def offline_limit(session: Session, card: GiftCard) -> Decimal:
    """Return how much of this card a till may take offline."""
    if card.offline_limit is not None:
        return card.offline_limit
    return Decimal(
        str(get_setting(session, tenant_id=card.tenant_id, key="giftcard_offline_card_limit"))
    )


def _book(
    session: Session,
    *,
    actor: Actor,
    card: GiftCard,
    kind: str,
    amount: Decimal,
    reference_type: str,
    reference_id: str,
    method: str = "",
    branch_id: int | None = None,
    note: str = "",
    overdrawn: bool = False,
) -> GiftCardEntry:
    """Write one ledger entry and move the locked card's balance with it."""
    reference_id = reference_id or new_id()
    # The card row is locked, so this check cannot race another booking on the same card.
    duplicate = session.scalar(
        select(GiftCardEntry.id).where(
            GiftCardEntry.tenant_id == card.tenant_id,
            GiftCardEntry.card_id == card.id,
            GiftCardEntry.kind == kind,
            GiftCardEntry.reference_id == reference_id,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"{reference_type} {reference_id} is already on card {numbers.masked(card.number)}."
        )
    card.balance = exact(card.balance) + amount
    entry = GiftCardEntry(
        tenant_id=card.tenant_id,
        card_id=card.id,
        kind=kind,
        amount=amount,
        balance_after=card.balance,
        reference_type=reference_type,
        reference_id=reference_id,
        method=method,
        device_id=actor.device_id,
        branch_id=branch_id,
        overdrawn=overdrawn,
        note=note[:200],
        actor_id=actor.user_id,
        actor=actor.label[:120],
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"giftcard.{kind}",
        entity_type="gift_card",
        entity_id=card.number,
        after={
            "amount": amount,
            "balance": card.balance,
            "reference_type": reference_type,
            "reference_id": reference_id,
            "overdrawn": overdrawn,
        },
    )
    return entry


def issue(
    session: Session,
    *,
    actor: Actor,
    amount: Decimal,
    kind: str = "gift_card",
    number: str | None = None,
    customer_id: int | None = None,
    pin: str | None = None,
    method: str = "cash",
    reference: str = "",
    branch_id: int | None = None,
) -> GiftCard:
    """Sell a gift card (or give store credit): a new card with its first entry."""
    amount = _positive(amount, "card amount")
    if kind not in numbers.KINDS:
        raise ValidationFailed("A card is a gift_card or store_credit.")
    if number is None:
        number = numbers.new_number(kind)
    number = clean_number(number)
    if numbers.kind_of(number) != kind:
        raise ValidationFailed(f"Card {numbers.grouped(number)} is not a {kind.replace('_', ' ')}.")
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.tenant_id != actor.tenant_id:
            raise NotFound(f"There is no customer with id {customer_id}.")
    exists = session.scalar(
        select(GiftCard.id).where(GiftCard.tenant_id == actor.tenant_id, GiftCard.number == number)
    )
    if exists is not None:
        raise Conflict(f"Card {numbers.grouped(number)} is already issued; top it up instead.")
    card = GiftCard(
        tenant_id=actor.tenant_id,
        number=number,
        kind=kind,
        balance=ZERO,
        pin_hash=hash_secret(pin) if pin else None,
        customer_id=customer_id,
    )
    session.add(card)
    session.flush()
    _book(
        session,
        actor=actor,
        card=card,
        kind="issue",
        amount=amount,
        reference_type="issue",
        reference_id=reference,
        method=method,
        branch_id=branch_id,
    )
    return card


def check_pin(card: GiftCard, pin: str | None) -> None:
    """Refuse a card with a PIN unless the PIN matches."""
    if card.pin_hash is not None and not verify_secret(card.pin_hash, pin or ""):
        raise PermissionDenied("The card's PIN is wrong.")


def balance(session: Session, *, tenant_id: int, number: str, pin: str | None) -> GiftCard:
    """Return a card for its balance, checking its PIN when it has one."""
    card = find(session, tenant_id=tenant_id, number=clean_number(number))
    check_pin(card, pin)
    return card


def top_up(
    session: Session,
    *,
    actor: Actor,
    number: str,
    amount: Decimal,
    reference: str = "",
    method: str = "cash",
) -> GiftCardEntry:
    """Add money to an active card."""
    amount = _positive(amount, "top-up")
    card = find(session, tenant_id=actor.tenant_id, number=clean_number(number), lock=True)
    if card.status != "active":
        raise Conflict(f"Card {numbers.masked(card.number)} is blocked.")
    return _book(
        session,
        actor=actor,
        card=card,
        kind="top_up",
        amount=amount,
        reference_type="top_up",
        reference_id=reference,
        method=method,
    )


def redeem(
    session: Session,
    *,
    actor: Actor,
    number: str,
    amount: Decimal,
    pin: str | None,
    reference: str = "",
) -> GiftCardEntry:
    """Take money from a card online: refused beyond its balance or with a wrong PIN."""
    amount = _positive(amount, "amount to redeem")
    card = find(session, tenant_id=actor.tenant_id, number=clean_number(number), lock=True)
    check_pin(card, pin)
    if card.status != "active":
        raise Conflict(f"Card {numbers.masked(card.number)} is blocked.")
    if amount > exact(card.balance):
        currency = _currency(session, actor.tenant_id)
        raise Conflict(
            f"Card {numbers.masked(card.number)} holds only "
            f"{format_money(exact(card.balance), currency)}.",
            balance=str(exact(card.balance)),
        )
    return _book(
        session,
        actor=actor,
        card=card,
        kind="redeem",
        amount=-amount,
        reference_type="redemption",
        reference_id=reference,
    )


@dataclass(frozen=True)
class TillRedemption:
    """What booking a till's gift card payment found: overdrawn by how much, or unknown."""

    number: str
    amount: Decimal
    balance_after: Decimal | None
    unknown: bool = False

    @property
    def overdrawn(self) -> bool:
        return self.unknown or (self.balance_after is not None and self.balance_after < 0)


def redeem_from_till(
    session: Session,
    *,
    actor: Actor,
    number: str,
    amount: Decimal,
    payment_id: str,
    branch_id: int,
) -> TillRedemption:
    """Book a gift card payment a till already took; never refuse it (the goods left)."""
    try:
        cleaned = numbers.check(number)
        card = find(session, tenant_id=actor.tenant_id, number=cleaned, lock=True)
    except (ValueError, NotFound):
        return TillRedemption(number=number, amount=amount, balance_after=None, unknown=True)
    after = exact(card.balance) - amount
    _book(
        session,
        actor=actor,
        card=card,
        kind="redeem",
        amount=-amount,
        reference_type="sale_payment",
        reference_id=payment_id,
        branch_id=branch_id,
        overdrawn=after < 0,
    )
    return TillRedemption(number=cleaned, amount=amount, balance_after=card.balance)


def refund_to_card(
    session: Session,
    *,
    actor: Actor,
    number: str,
    amount: Decimal,
    refund_id: str,
    branch_id: int | None,
    customer_id: int | None,
) -> GiftCard:
    """Put a refund on a card; a store credit number the till made offline is issued now."""
    amount = _positive(amount, "refund")
    cleaned = clean_number(number)
    existing = session.scalar(
        select(GiftCard.id).where(GiftCard.tenant_id == actor.tenant_id, GiftCard.number == cleaned)
    )
    if existing is None:
        return issue(
            session,
            actor=actor,
            amount=amount,
            kind=numbers.kind_of(cleaned),
            number=cleaned,
            customer_id=customer_id,
            method="refund",
            reference=refund_id,
            branch_id=branch_id,
        )
    card = find(session, tenant_id=actor.tenant_id, number=cleaned, lock=True)
    _book(
        session,
        actor=actor,
        card=card,
        kind="refund",
        amount=amount,
        reference_type="refund",
        reference_id=refund_id,
        method="refund",
        branch_id=branch_id,
    )
    return card


def set_limits(
    session: Session,
    *,
    actor: Actor,
    number: str,
    offline_limit: Decimal | None,
    status: str | None,
) -> GiftCard:
    """Set a card's own offline limit or block / unblock it."""
    card = find(session, tenant_id=actor.tenant_id, number=clean_number(number), lock=True)
    before = {"offline_limit": card.offline_limit, "status": card.status}
    if offline_limit is not None:
        card.offline_limit = offline_limit
    if status is not None:
        card.status = status
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="giftcard.limits",
        entity_type="gift_card",
        entity_id=card.number,
        before=before,
        after={"offline_limit": card.offline_limit, "status": card.status},
    )
    return card


def entries_query(*, tenant_id: int, card_id: int) -> Select[GiftCardEntry]:
    """Return the query of a card's ledger, oldest first."""
    return (
        select(GiftCardEntry)
        .where(GiftCardEntry.tenant_id == tenant_id, GiftCardEntry.card_id == card_id)
        .order_by(GiftCardEntry.id)
    )


def mismatched_balances(session: Session, *, tenant_id: int) -> list[dict[str, Any]]:
    """Return every card whose balance is not the sum of its ledger (for ledger verify)."""
    sums = dict(
        session.execute(
            select(GiftCardEntry.card_id, func.sum(GiftCardEntry.amount))
            .where(GiftCardEntry.tenant_id == tenant_id)
            .group_by(GiftCardEntry.card_id)
        ).all()
    )
    problems = []
    for card in session.scalars(select(GiftCard).where(GiftCard.tenant_id == tenant_id)):
        if exact(sums.get(card.id)) != exact(card.balance):
            problems.append(
                {
                    "number": card.number,
                    "balance": str(exact(card.balance)),
                    "ledger": str(exact(sums.get(card.id))),
                }
            )
    return problems


def read(session: Session, card: GiftCard) -> dict[str, Any]:
    """Return a card as GiftCardRead fields."""
    return {
        "number": card.number,
        "kind": card.kind,
        "balance": exact(card.balance),
        "status": card.status,
        "has_pin": card.has_pin,
        "customer_id": card.customer_id,
        "offline_limit": offline_limit(session, card),
        "created_at": card.created_at,
    }
