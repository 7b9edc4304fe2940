"""Read and verify the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from common.roles import Permission
from common.schemas.audit import AuditEntryRead, ChainReportRead, CheckpointRead
from common.schemas.base import Page
from sync_server.audit import checkpoints, service
from sync_server.audit.models import AuditEntry
from sync_server.db import utcnow
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, paginate

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditEntryRead])
def list_audit(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.AUDIT_READ)],
    page: Annotated[PageParams, SortedBy("seq")],
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    entity_type: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """List audit entries, newest first, with filters."""
    service.seal_now(session, tenant_id=principal.tenant_id)
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == principal.tenant_id)
    if action:
        # "product." matches every product action.
        stmt = stmt.where(
            AuditEntry.action.startswith(action)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={"seq": AuditEntry.seq},
        default_sort="-seq",
        tiebreak=AuditEntry.id,
    )


@router.get("/audit/verify", response_model=ChainReportRead)
def verify_audit(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.AUDIT_READ)],
    checkpoint: Annotated[str | None, Query(max_length=400)] = None,
) -> Any:
    """Check the keyed chain (and that it still holds a checkpoint's entry); list what is wrong."""
    report = service.verify(session, tenant_id=principal.tenant_id)
    if checkpoint is None:
        return report
    for point in checkpoints.parse(checkpoint):
        if point.tenant_id != principal.tenant_id:
            raise checkpoints.CheckpointInvalid("That checkpoint belongs to another business.")
        report = checkpoints.verify_against(session, checkpoint=point, report=report)
    return report


@router.post("/audit/checkpoint", response_model=CheckpointRead | None)
def sign_checkpoint(
    session: SessionDep, principal: Annotated[Principal, Requires(Permission.AUDIT_READ)]
) -> Any:
    """Sign the chain head as it is now (null while the chain is empty) to keep off the box."""
    point = checkpoints.make_checkpoint(session, tenant_id=principal.tenant_id, now=utcnow())
    if point is None:
        return None
    return CheckpointRead(tenant_id=point.tenant_id, seq=point.seq, at=point.at, text=point.text)
