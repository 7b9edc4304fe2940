"""A customer's loyalty points over HTTP: balance, value and statement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from common.roles import Permission
from common.schemas.base import Id, problem_responses
from common.schemas.loyalty import LoyaltyRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.loyalty import service

router = APIRouter(tags=["loyalty"])


@router.get(
    "/customers/{customer_id}/loyalty",
    response_model=LoyaltyRead,
    responses=problem_responses(404),
)
def loyalty(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
) -> dict[str, Any]:
    """Return a customer's points, what they are worth, and every earn and burn."""
    return service.summary(session, tenant_id=principal.tenant_id, customer_id=customer_id)
