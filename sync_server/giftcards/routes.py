"""Gift cards and store credit over HTTP: issue, top up, redeem, balance, ledger, limits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from common.roles import Permission
from common.schemas.base import problem_responses
from common.schemas.giftcards import (
    GiftCardAmount,
    GiftCardCheck,
    GiftCardEntryRead,
    GiftCardIssue,
    GiftCardLimits,
    GiftCardRead,
)
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.giftcards import service
from sync_server.giftcards.models import GiftCardEntry

router = APIRouter(tags=["gift cards"])


@router.post(
    "/giftcards",
    response_model=GiftCardRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def issue_card(
    body: GiftCardIssue,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Sell a gift card or give store credit; the number is made here unless pre-printed."""
    card = service.issue(
        session,
        actor=principal.actor,
        amount=body.amount,
        kind=body.kind,
        number=body.number,
        customer_id=body.customer_id,
        pin=body.pin,
        method=body.method,
        reference=body.reference,
    )
    return service.read(session, card)


@router.post(
    "/giftcards/{number}/balance",
    response_model=GiftCardRead,
    responses=problem_responses(403, 404, 422),
)
def check_balance(
    number: str,
    body: GiftCardCheck,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Return a card's balance and offline limit (POST: the PIN travels in the body)."""
    card = service.balance(session, tenant_id=principal.tenant_id, number=number, pin=body.pin)
    return service.read(session, card)


@router.post(
    "/giftcards/{number}/top-ups",
    response_model=GiftCardEntryRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def top_up(
    number: str,
    body: GiftCardAmount,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> GiftCardEntry:
    """Add money to a card."""
    return service.top_up(
        session,
        actor=principal.actor,
        number=number,
        amount=body.amount,
        reference=body.reference,
    )


@router.post(
    "/giftcards/{number}/redemptions",
    response_model=GiftCardEntryRead,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def redeem(
    number: str,
    body: GiftCardAmount,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> GiftCardEntry:
    """Take money from a card; refused beyond its balance."""
    return service.redeem(
        session,
        actor=principal.actor,
        number=number,
        amount=body.amount,
        pin=body.pin,
        reference=body.reference,
    )


@router.get(
    "/giftcards/{number}/entries",
    response_model=list[GiftCardEntryRead],
    responses=problem_responses(404, 422),
)
def ledger(
    number: str,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_READ)],
) -> list[GiftCardEntry]:
    """List a card's ledger, oldest first."""
    card = service.find(session, tenant_id=principal.tenant_id, number=service.clean_number(number))
    return list(
        session.scalars(service.entries_query(tenant_id=principal.tenant_id, card_id=card.id))
    )


@router.patch(
    "/giftcards/{number}",
    response_model=GiftCardRead,
    responses=problem_responses(404, 422),
)
def set_limits(
    number: str,
    body: GiftCardLimits,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_WRITE)],
) -> dict[str, Any]:
    """Set a card's own offline limit, or block or unblock it."""
    card = service.set_limits(
        session,
        actor=principal.actor,
        number=number,
        offline_limit=body.offline_limit,
        status=body.status,
    )
    return service.read(session, card)
