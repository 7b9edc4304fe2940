"""Click-and-collect: an online order held at its branch until the customer collects it.

The order's stock is reserved at its branch when it is placed (orders domain); marking it for
pickup keeps the reservation until it is collected or cancelled (no payment deadline), "ready"
tells the customer, and collecting at a till takes what is still due, commits the reservation
and closes the order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidState, NotFound, ValidationFailed
from common.money import format_money
from common.schemas.orders import ALLOWED_FROM
from sync_server.audit import service as audit
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Principal
from sync_server.orders import lifecycle
from sync_server.orders.models import Order, OrderStatus
from sync_server.orders.notify import order_event
from sync_server.orders.schemas import PaymentCreate
from sync_server.orders.service import get_order
from sync_server.partners.models import Customer
from sync_server.pickup.models import OrderPickup

OPEN = ALLOWED_FROM["collect"]


def _pickup(session: Session, *, order: Order) -> OrderPickup:
    pickup = session.scalar(
        lock_for_update(
            select(OrderPickup).where(
                OrderPickup.tenant_id == order.tenant_id, OrderPickup.order_id == order.id
            ),
            session,
        )
    )
    if pickup is None:
        raise InvalidState(f"Order {order.external_number} is not for pickup.")
    return pickup


def mark_for_pickup(session: Session, *, principal: Principal, order_id: int) -> OrderPickup:
    """Make an order click-and-collect at its branch; its stock stays reserved there."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    if order.status not in OPEN:
        raise InvalidState(f"Order {order.external_number} is {order.status}.")
    existing = session.scalar(
        select(OrderPickup).where(
            OrderPickup.tenant_id == order.tenant_id, OrderPickup.order_id == order.id
        )
    )
    if existing is not None:
        return existing
    pickup = OrderPickup(tenant_id=order.tenant_id, order_id=order.id, branch_id=order.branch_id)
    # Collected and paid at the branch: no payment deadline releases the reservation.
    order.reserved_until = None
    session.add(pickup)
    session.flush()
    _audit(session, principal=principal, order=order, action="order.pickup", pickup=pickup)
    return pickup


def mark_ready(session: Session, *, principal: Principal, order_id: int) -> OrderPickup:
    """The goods are put aside at the branch: tell the customer to come."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    pickup = _pickup(session, order=order)
    if pickup.status != "awaiting":
        raise InvalidState(f"Order {order.external_number} is already {pickup.status}.")
    pickup.status = "ready"
    pickup.ready_at = utcnow()
    session.flush()
    _audit(
        session, principal=principal, order=order, action="order.ready_for_pickup", pickup=pickup
    )
    order_event(session, order=order, event="order.ready_for_pickup", availability=False)
    return pickup


def find(session: Session, *, principal: Principal, number: str) -> dict[str, Any]:
    """Return a pickup order of the caller's branch by its number (typed or scanned)."""
    order = session.scalar(
        select(Order).where(
            Order.tenant_id == principal.tenant_id, Order.external_number == number.strip()
        )
    )
    if order is None or not principal.may_use_branch(order.branch_id):
        raise NotFound(f"There is no order {number.strip()} to collect at this branch.")
    pickup = session.scalar(
        select(OrderPickup).where(
            OrderPickup.tenant_id == order.tenant_id, OrderPickup.order_id == order.id
        )
    )
    if pickup is None:
        raise InvalidState(f"Order {order.external_number} is to be shipped, not collected.")
    return read(session, order=order, pickup=pickup)


def read(session: Session, *, order: Order, pickup: OrderPickup) -> dict[str, Any]:
    """Return the order as the till shows it."""
    customer = session.get(Customer, order.customer_id)
    paid = order.paid_amount + (
        pickup.paid_at_till if order.status == OrderStatus.PENDING_PAYMENT else Decimal(0)
    )
    return {
        "order_id": order.id,
        "number": order.external_number,
        "branch_id": order.branch_id,
        "customer": customer.name if customer is not None else "",
        "status": order.status,
        "pickup_status": pickup.status,
        "total": order.total,
        "paid": order.paid_amount,
        "due": max(order.total - paid, Decimal(0)),
        "ready_at": pickup.ready_at,
        "collected_at": pickup.collected_at,
        "lines": [
            {"sku": ln.sku, "name": ln.name, "quantity": ln.quantity, "line_total": ln.line_total}
            for ln in order.lines
        ],
    }


def collect(
    session: Session,
    *,
    principal: Principal,
    number: str,
    amount: Decimal,
    method: str,
    reference: str,
) -> dict[str, Any]:
    """Hand the order over at the till: take what is due, commit the stock, close it."""
    found = find(session, principal=principal, number=number)
    order = get_order(session, principal=principal, order_id=found["order_id"], lock=True)
    pickup = _pickup(session, order=order)
    if pickup.status == "collected":
        raise InvalidState(f"Order {order.external_number} was already collected.")
    if pickup.status != "ready":
        raise InvalidState(f"Order {order.external_number} is not ready for pickup yet.")
    due = order.total - order.paid_amount if order.status == OrderStatus.PENDING_PAYMENT else 0
    if amount != due:
        raise ValidationFailed(
            f"Order {order.external_number} has {format_money(Decimal(due), order.currency)} "
            f"to pay, not {format_money(amount, order.currency)}."
        )
    if order.status == OrderStatus.PENDING_PAYMENT:
        # Paying commits the reservation: the stock leaves the branch now.
        lifecycle.pay(
            session,
            principal=principal,
            order_id=order.id,
            data=PaymentCreate(amount=order.total, reference=reference or f"till:{method}"),
        )
    before = {"status": order.status}
    order.status = OrderStatus.DELIVERED
    order.delivered_at = utcnow()
    pickup.status = "collected"
    pickup.collected_at = order.delivered_at
    pickup.collected_by = principal.label[:120]
    pickup.paid_at_till = amount
    pickup.payment_method = method
    pickup.payment_reference = reference
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="order.collected",
        entity_type="order",
        entity_id=order.id,
        before=before,
        after={"status": order.status, "paid_at_till": amount, "method": method},
    )
    order_event(session, order=order, event="order.collected", availability=False)
    return read(session, order=order, pickup=pickup)


def _audit(
    session: Session, *, principal: Principal, order: Order, action: str, pickup: OrderPickup
) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        entity_type="order",
        entity_id=order.id,
        after={"pickup_status": pickup.status, "branch_id": pickup.branch_id},
    )
