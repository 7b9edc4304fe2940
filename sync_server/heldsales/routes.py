"""Held sales over HTTP: the branch's parked carts, and recalling one at another till."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.errors import PermissionDenied, ValidationFailed
from common.roles import Permission
from common.schemas.base import Id, problem_responses
from common.schemas.heldsales import HeldSaleRead
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.heldsales import service
from sync_server.heldsales.models import HeldSale

router = APIRouter(tags=["held sales"])


def _branch(principal: Principal, branch_id: int | None) -> int:
    """Return the branch asked about: a till's own, or one the user works in."""
    if principal.kind == "device":
        return next(iter(principal.branch_ids))
    if branch_id is None:
        raise ValidationFailed("Name the branch (branch_id).")
    if not principal.may_use_branch(branch_id):
        raise PermissionDenied("You do not work at that branch.")
    return branch_id


@router.get("/held-sales", response_model=list[HeldSaleRead], responses=problem_responses(403, 422))
def list_held(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
    branch_id: Annotated[Id | None, Query()] = None,
) -> list[HeldSale]:
    """List the carts parked at the branch and not yet recalled, oldest first."""
    return service.list_held(
        session, tenant_id=principal.tenant_id, branch_id=_branch(principal, branch_id)
    )


@router.post(
    "/held-sales/{hold_id}/recall",
    response_model=HeldSaleRead,
    responses=problem_responses(403, 404, 409, 422),
)
def recall(
    hold_id: str,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.POS_SELL)],
    branch_id: Annotated[Id | None, Query()] = None,
) -> HeldSale:
    """Take a parked cart to this till; it leaves the branch's list (taken once)."""
    return service.take(
        session,
        actor=principal.actor,
        branch_id=_branch(principal, branch_id),
        hold_id=hold_id[:36],
    )
