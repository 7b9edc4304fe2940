"""Release the reservations of orders left unpaid too long."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync_server.db import is_sqlite, transaction, utcnow
from sync_server.inventory import ledger
from sync_server.orders import lifecycle
from sync_server.orders.models import Order, OrderStatus


def expire_due(
    session_factory: sessionmaker[Session], now: datetime | None = None, *, batch: int = 100
) -> int:
    """Expire every unpaid order due by now, a batch per transaction; return how many.

    One tenant at a time: no row lock ever spans tenants (a database sharded by tenant
    allows locks only within one shard).
    """
    now = now or utcnow()
    due = (Order.status == OrderStatus.PENDING_PAYMENT, Order.reserved_until <= now)
    with transaction(session_factory, readonly=True) as session:
        tenants = list(
            session.scalars(
                select(Order.tenant_id)
                .where(*due)
                .group_by(Order.tenant_id)
                .order_by(Order.tenant_id)
            )
        )
    expired = 0
    for tenant_id in tenants:
        while True:
            with transaction(session_factory) as session:
                stmt = (
                    select(Order)
                    .where(Order.tenant_id == tenant_id, *due)
                    .order_by(Order.reserved_until, Order.id)
                    .limit(batch)
                )
                if not is_sqlite(session.get_bind()):
                    # Several workers share the queue: each takes rows the others have not
                    # locked.
                    stmt = stmt.with_for_update(skip_locked=True)
                orders = session.scalars(stmt).all()
                # The batch releases several orders in one transaction: lock all their levels
                # first in (branch, product) order, the order every stock writer keeps.
                ledger.lock_levels(
                    session,
                    tenant_id=tenant_id,
                    keys={
                        (order.branch_id, line.product_id)
                        for order in orders
                        for line in order.lines
                    },
                )
                for order in orders:
                    # A payment may have won the race for this row; expire re-checks the status.
                    expired += lifecycle.expire(session, order=order, now=now)
            if len(orders) < batch:
                break
    return expired
