"""One lock order for the business workflows, so they never deadlock with till sales."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.audit.models import AuditHead
from sync_server.db import lock_for_update


def lock_tenant_writes(session: Session, *, tenant_id: int) -> None:
    """Take the tenant's audit-chain lock before any row lock of a workflow.

    Every audited write takes this lock at its first audit entry and keeps it to commit, and
    a till sale takes it before it locks a customer or its later lines' stock. A workflow that
    locked a customer, PO or stock row first and then waited here could hold what such a sale
    needs next (a deadlock on PostgreSQL); taking it first keeps one order for everyone.
    On SQLite the write lock is already held (BEGIN IMMEDIATE), so this costs nothing there.
    """
    session.execute(
        lock_for_update(select(AuditHead.id).where(AuditHead.tenant_id == tenant_id), session)
    )
