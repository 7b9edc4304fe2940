"""Click-and-collect over HTTP: mark an order for pickup, ready, find and collect it at a till."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from common.roles import Permission
from common.schemas.base import Id, problem_responses
from common.schemas.pickup import PickupCollect, PickupRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.orders.service import get_order
from sync_server.pickup import service

router = APIRouter(tags=["click and collect"])


@router.post(
    "/orders/{order_id}/pickup", response_model=PickupRead, responses=problem_responses(404, 409)
)
def mark_for_pickup(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> dict[str, Any]:
    """Collect the order at its branch instead of shipping it; its stock stays reserved there."""
    pickup = service.mark_for_pickup(session, principal=principal, order_id=order_id)
    order = get_order(session, principal=principal, order_id=order_id)
    return service.read(session, order=order, pickup=pickup)


@router.post(
    "/orders/{order_id}/ready-for-pickup",
    response_model=PickupRead,
    responses=problem_responses(404, 409),
)
def mark_ready(
    order_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ORDERS_WRITE)],
) -> dict[str, Any]:
    """The goods are put aside: the customer is told the order is ready for pickup."""
    pickup = service.mark_ready(session, principal=principal, order_id=order_id)
    order = get_order(session, principal=principal, order_id=order_id)
    return service.read(session, order=order, pickup=pickup)


@router.get("/pickups/{number}", response_model=PickupRead, responses=problem_responses(404, 409))
def find(
    number: str, session: SessionDep, principal: Annotated[Principal, Requires(Permission.POS_SELL)]
) -> dict[str, Any]:
    """Find an order to collect at the caller's branch by its number (typed or scanned)."""
    return service.find(session, principal=principal, number=number[:64])


@router.post(
    "/pickups/{number}/collect",
    response_model=PickupRead,
    responses=problem_responses(404, 409, 422),
)
def collect(
    number: str,
    body: PickupCollect,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Hand the order over: take what is due, commit its stock, close it."""
    return service.collect(
        session,
        principal=principal,
        number=number[:64],
        amount=body.amount,
        method=body.method,
        reference=body.reference,
    )
