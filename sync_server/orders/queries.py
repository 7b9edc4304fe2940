"""Read-side queries of orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.foundation.principal import Principal
from sync_server.lookups import PageParams, in_caller_branches, paginate
from sync_server.orders.models import Order


def list_orders(
    session: Session,
    *,
    principal: Principal,
    params: PageParams,
    status: str | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    branch_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_since: datetime | None = None,
) -> dict[str, Any]:
    """Return a page of the caller's orders matching the filters."""
    stmt = select(Order).where(Order.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=Order.branch_id, principal=principal)
    if status:
        stmt = stmt.where(Order.status == status)
    if channel:
        stmt = stmt.where(Order.channel == channel)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if branch_id is not None:
        stmt = stmt.where(Order.branch_id == branch_id)
    if created_from is not None:
        stmt = stmt.where(Order.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Order.created_at < created_to)
    if updated_since is not None:
        stmt = stmt.where(Order.updated_at >= updated_since)
    return paginate(
        session,
        stmt,
        params=params,
        sortable={
            "created_at": Order.created_at,
            "updated_at": Order.updated_at,
            "total": Order.total,
            "status": Order.status,
        },
        default_sort="-created_at",
        tiebreak=Order.id,
    )
