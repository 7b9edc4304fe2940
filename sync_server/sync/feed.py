"""Publish changes of replicated data to the tenant's change feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.audit.service import jsonable
from sync_server.db import lock_for_update
from sync_server.sync.models import Change, FeedHead


def publish(
    session: Session,
    *,
    tenant_id: int,
    entity: str,
    key: object,
    data: dict[str, Any] | None,
    branch_id: int | None = None,
) -> Change:
    """Append a change in the caller's transaction; data None means the entity was deleted."""
    head = session.scalar(
        lock_for_update(select(FeedHead).where(FeedHead.tenant_id == tenant_id), session)
    )
    if head is None:
        head = FeedHead(tenant_id=tenant_id, last_seq=0)
        session.add(head)
        session.flush()
    head.last_seq += 1
    change = Change(
        tenant_id=tenant_id,
        seq=head.last_seq,
        branch_id=branch_id,
        entity=entity,
        entity_key=str(key),
        op="delete" if data is None else "upsert",
        data=jsonable(data) if data is not None else None,
    )
    session.add(change)
    return change
