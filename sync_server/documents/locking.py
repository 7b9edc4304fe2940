"""One lock order for the business workflows, so they never deadlock with till sales."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync_server.tenant_lock import lock_tenant


def lock_tenant_writes(session: Session, *, tenant_id: int) -> None:
    """Take the tenant's write turn before any row lock of a workflow.

    Every audited or published write takes it at its first audit entry or feed change and
    keeps it to commit. A workflow that locked a customer, PO or stock row first and then
    waited for it could hold what a till sale needs next (a deadlock on PostgreSQL); taking
    it first keeps one order for everyone (see sync_server/tenant_lock.py).
    """
    lock_tenant(session, tenant_id=tenant_id)
