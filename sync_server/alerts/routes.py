"""Alerts for managers: list with filters, acknowledge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from common.errors import PermissionDenied
from common.roles import Permission
from common.schemas.alerts import AlertRead
from common.schemas.base import Id, Page, problem_responses
from sync_server.alerts import service
from sync_server.alerts.models import Alert
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, get_owned, paginate

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=Page[AlertRead], responses=problem_responses(403))
def list_alerts(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ALERTS_READ)],
    page: Annotated[PageParams, SortedBy("kind", "opened_at")],
    kind: Annotated[str | None, Query(max_length=32)] = None,
    status: Literal["open", "acknowledged", "cleared", "active"] | None = Query(
        default=None, description="'active' means open or acknowledged"
    ),
    branch_id: Id | None = None,
    product_id: Id | None = None,
) -> dict[str, Any]:
    """List alerts of the caller's branches (and those of no branch)."""
    stmt = select(Alert).where(Alert.tenant_id == principal.tenant_id)
    if branch_id is not None:
        if not principal.may_use_branch(branch_id):
            raise PermissionDenied(f"You may not see branch {branch_id}.")
        stmt = stmt.where(Alert.branch_id == branch_id)
    elif not principal.all_branches:
        stmt = stmt.where(
            or_(Alert.branch_id.is_(None), Alert.branch_id.in_(sorted(principal.branch_ids)))
        )
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    if status == "active":
        stmt = stmt.where(Alert.status != "cleared")
    elif status is not None:
        stmt = stmt.where(Alert.status == status)
    if product_id is not None:
        stmt = stmt.where(Alert.product_id == product_id)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"opened_at": Alert.opened_at, "kind": Alert.kind},
        default_sort="-opened_at",
        tiebreak=Alert.id,
    )


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertRead,
    responses=problem_responses(403, 404, 409),
)
def acknowledge_alert(
    alert_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.ALERTS_WRITE)],
) -> Alert:
    """Acknowledge an open alert; it still clears by itself when the cause goes away."""
    alert = get_owned(session, Alert, id=alert_id, tenant_id=principal.tenant_id, what="alert")
    if alert.branch_id is not None and not principal.may_use_branch(alert.branch_id):
        raise PermissionDenied(f"Alert {alert_id} belongs to a branch you may not act in.")
    return service.acknowledge(
        session, actor=principal.actor, tenant_id=principal.tenant_id, alert_id=alert_id
    )
