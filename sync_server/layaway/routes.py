"""Deposits and layaway over HTTP (a till calls these online: the goods are held on the server)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from common.roles import Permission
from common.schemas.base import problem_responses
from common.schemas.layaway import (
    LayawayCancel,
    LayawayCreate,
    LayawayPaymentCreate,
    LayawayRead,
)
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.layaway import service

router = APIRouter(tags=["layaway"])


@router.post(
    "/layaways",
    response_model=LayawayRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def start(
    body: LayawayCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Reserve goods for a customer against a deposit."""
    return service.read(service.start(session, principal=principal, data=body))


@router.get("/layaways/{layaway_id}", response_model=LayawayRead, responses=problem_responses(404))
def get(
    layaway_id: str,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Return a layaway: what is held, paid and still due."""
    return service.read(service.get(session, principal=principal, layaway_id=layaway_id))


@router.post(
    "/layaways/{layaway_id}/payments",
    response_model=LayawayRead,
    responses=problem_responses(404, 409, 422),
)
def pay(
    layaway_id: str,
    body: LayawayPaymentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Take a part payment; the last one hands the goods over."""
    return service.read(service.pay(session, principal=principal, layaway_id=layaway_id, data=body))


@router.post(
    "/layaways/{layaway_id}/cancel",
    response_model=LayawayRead,
    responses=problem_responses(404, 409, 422),
)
def cancel(
    layaway_id: str,
    body: LayawayCancel,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_REFUND)],
) -> dict[str, Any]:
    """Release the goods; refund the payments, keep them as store credit, or keep them."""
    return service.read(
        service.cancel(session, principal=principal, layaway_id=layaway_id, outcome=body.outcome)
    )
