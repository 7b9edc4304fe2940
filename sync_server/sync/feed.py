"""Publish changes of replicated data to the tenant's change feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.canonical import jsonable
from sync_server.db import lock_for_update
from sync_server.sync.models import Change, FeedHead
from sync_server.tenant_lock import create_heads, lock_tenant


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
    lock_tenant(session, tenant_id=tenant_id)
    head = session.scalar(
        lock_for_update(select(FeedHead).where(FeedHead.tenant_id == tenant_id), session)
    )
    if head is None:
        create_heads(session, tenant_id=tenant_id)
        head = session.scalar(select(FeedHead).where(FeedHead.tenant_id == tenant_id))
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
