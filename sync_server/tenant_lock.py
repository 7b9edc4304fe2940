"""The one per-tenant lock every writer of shared sequences takes first.

The change feed and the audit chain each hand out a per-tenant sequence, so their head
rows are locked until commit by every writer that publishes or audits. Two locks taken in
different orders by different workflows deadlock on PostgreSQL; so everyone takes the feed
head first (here), and only then the audit head or any document, product or stock row.
SQLite needs none of it: BEGIN IMMEDIATE already lets one writer in at a time.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync_server.audit.models import AuditHead
from sync_server.db import is_sqlite
from sync_server.sync.models import FeedHead


def create_heads(session: Session, *, tenant_id: int) -> None:
    """Make the tenant's feed and audit heads exist (safe when two writers race to do it)."""
    dialect = sqlite if is_sqlite(session.get_bind()) else postgresql
    for model, values in (
        (FeedHead, {"last_seq": 0}),
        (AuditHead, {"last_seq": 0, "last_hash": "0" * 64}),
    ):
        session.execute(
            dialect.insert(model)
            .values(tenant_id=tenant_id, **values)
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )


def lock_tenant(session: Session, *, tenant_id: int) -> None:
    """Take the tenant's write turn (the feed head row) for the rest of the transaction."""
    if is_sqlite(session.get_bind()):
        return
    transaction = session.get_transaction()
    held = session.info.get("tenant_lock")
    if held is not None and held == (tenant_id, id(transaction)):
        return
    locked = session.execute(
        select(FeedHead.id).where(FeedHead.tenant_id == tenant_id).with_for_update()
    ).first()
    if locked is None:
        create_heads(session, tenant_id=tenant_id)
        session.execute(
            select(FeedHead.id).where(FeedHead.tenant_id == tenant_id).with_for_update()
        )
    session.info["tenant_lock"] = (tenant_id, id(transaction))
