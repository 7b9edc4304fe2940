"""In-app notifications for the desktop app, and the tenant's recipient rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy import select

from common.roles import Permission, Role
from common.schemas.alerts import NotificationRead
from common.schemas.base import Id, Page, ReadSchema, Schema, problem_responses
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.notifications import service
from sync_server.notifications.models import Notification, NotificationRule, SmsOptIn
from sync_server.paging import PageParams, SortedBy, paginate

router = APIRouter(tags=["notifications"])


class RuleCreate(Schema):
    event: str = Field(min_length=1, max_length=64, description="'alert.low_stock', 'alert.*', '*'")
    channel: Literal["email", "webhook", "in_app", "sms"]
    role: Role | None = None
    branch_id: Id | None = None
    address: str | None = Field(
        default=None, max_length=500, description="E-mail, URL or phone number"
    )
    secret: str | None = Field(default=None, min_length=16, max_length=200)


class SmsOptInCreate(Schema):
    phone: str | None = Field(
        default=None,
        max_length=40,
        description="The number to text; the customer's own if left out",
    )


class SmsOptInRead(ReadSchema):
    customer_id: int
    phone: str
    created_at: datetime


class RuleRead(ReadSchema):
    id: int
    event: str
    channel: str
    role: str | None
    branch_id: int | None
    address: str | None
    active: bool
    created_at: datetime


@router.get("/notifications", response_model=Page[NotificationRead])
def list_notifications(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.NOTIFICATIONS_READ)],
    page: Annotated[PageParams, SortedBy("created_at")],
    unread: Annotated[bool, Query(description="Only those not read yet")] = False,
) -> dict[str, Any]:
    """List the caller's in-app notifications (for their role and branches), newest first."""
    stmt = select(Notification).where(
        service.inbox_filter(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            role=principal.role,
            branch_ids=principal.branch_ids,
            all_branches=principal.all_branches,
        )
    )
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"created_at": Notification.created_at},
        default_sort="-created_at",
        tiebreak=Notification.id,
    )


@router.post(
    "/notifications/{notification_id}/read",
    response_model=NotificationRead,
    responses=problem_responses(404),
)
def read_notification(
    notification_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.NOTIFICATIONS_READ)],
) -> Notification:
    """Mark an in-app notification read."""
    return service.mark_read(session, principal=principal, notification_id=notification_id)


@router.get("/notification-rules", response_model=Page[RuleRead])
def list_rules(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.NOTIFICATIONS_ADMIN)],
    page: Annotated[PageParams, SortedBy("created_at", "event")],
) -> dict[str, Any]:
    """List who is told about which events."""
    stmt = select(NotificationRule).where(NotificationRule.tenant_id == principal.tenant_id)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"event": NotificationRule.event, "created_at": NotificationRule.created_at},
        default_sort="event",
        tiebreak=NotificationRule.id,
    )


@router.post(
    "/notification-rules",
    response_model=RuleRead,
    status_code=201,
    responses=problem_responses(404, 422),
)
def create_rule(
    body: RuleCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.NOTIFICATIONS_ADMIN)],
) -> NotificationRule:
    """Tell a role (in-app or e-mail), an address or a webhook about an event."""
    return service.create_rule(
        session,
        actor=principal.actor,
        event=body.event,
        channel=body.channel,
        role=body.role.value if body.role else None,
        branch_id=body.branch_id,
        address=body.address,
        secret=body.secret,
    )


@router.delete("/notification-rules/{rule_id}", status_code=204, responses=problem_responses(404))
def delete_rule(
    rule_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.NOTIFICATIONS_ADMIN)],
) -> Response:
    """Stop a rule."""
    service.delete_rule(session, actor=principal.actor, rule_id=rule_id)
    return Response(status_code=204)


@router.put(
    "/customers/{customer_id}/sms-opt-in",
    response_model=SmsOptInRead,
    responses=problem_responses(404, 422),
)
def opt_in_sms(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_WRITE)],
    body: SmsOptInCreate | None = None,
) -> SmsOptIn:
    """Record that a customer agreed to get order updates by SMS."""
    return service.opt_in_sms(
        session,
        actor=principal.actor,
        customer_id=customer_id,
        phone=body.phone if body is not None else None,
    )


@router.delete(
    "/customers/{customer_id}/sms-opt-in", status_code=204, responses=problem_responses(404)
)
def opt_out_sms(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CUSTOMERS_WRITE)],
) -> Response:
    """Stop text messages to a customer."""
    service.opt_out_sms(session, actor=principal.actor, customer_id=customer_id)
    return Response(status_code=204)
