"""Move an order through its life: payment, picking, packing, shipping, delivery, cancel, expiry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import InvalidState, ValidationFailed
from common.loyalty import EarningLine
from common.money import format_money
from common.schemas.orders import ALLOWED_FROM, in_life_order
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.foundation.principal import Actor, Principal
from sync_server.inventory import ledger, reservations
from sync_server.loyalty import service as loyalty
from sync_server.orders.models import Order, OrderStatus
from sync_server.orders.notify import order_event
from sync_server.orders.schemas import CancelCreate, PaymentCreate, ShipmentCreate
from sync_server.orders.service import REFERENCE, get_order, snapshot

S = OrderStatus


def _move(*, order: Order, step: str, to: str) -> dict[str, Any]:
    """Change the status if the step may start from it; return the order's state before."""
    if order.status not in ALLOWED_FROM[step]:
        raise InvalidState(
            f"Order {order.external_number} is {order.status}; it must be "
            f"{' or '.join(in_life_order(ALLOWED_FROM[step]))} to become {to}."
        )
    before = snapshot(order)
    order.status = to
    return before


def _finish(
    session: Session, *, principal: Principal, order: Order, before: dict[str, Any], event: str
) -> Order:
    """Audit the change and queue its notifications."""
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action=event,
        entity_type="order",
        entity_id=order.id,
        before=before,
        after=snapshot(order),
    )
    order_event(session, order=order, event=event)
    return order


def _stock_lines(order: Order) -> list[tuple[int, Decimal]]:
    return [(line.product_id, line.quantity) for line in order.lines]


def pay(session: Session, *, principal: Principal, order_id: int, data: PaymentCreate) -> Order:
    """Record the payment of a pending order and turn its reservation into a sale."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    if order.status == S.PENDING_PAYMENT and data.amount != order.total:
        raise ValidationFailed(
            f"The payment must be the order total {format_money(order.total, order.currency)}, "
            f"not {format_money(data.amount, order.currency)}."
        )
    before = _move(order=order, step="pay", to=S.CONFIRMED)
    reservations.commit_reservation(
        session,
        actor=principal.actor,
        branch_id=order.branch_id,
        lines=_stock_lines(order),
        reference_type=REFERENCE,
        reference_id=str(order.id),
    )
    order.paid_amount = data.amount
    order.payment_reference = data.reference
    order.confirmed_at = utcnow()
    order.reserved_until = None
    _earn_points(session, principal=principal, order=order)
    return _finish(
        session, principal=principal, order=order, before=before, event="order.confirmed"
    )


def _earn_points(session: Session, *, principal: Principal, order: Order) -> None:
    """A paid order earns the customer loyalty points under the business's rules."""
    categories = dict(
        session.execute(
            select(Product.id, Product.category_id).where(
                Product.tenant_id == order.tenant_id,
                Product.id.in_({line.product_id for line in order.lines}),
            )
        ).all()
    )
    loyalty.earn_for_order(
        session,
        actor=principal.actor,
        order_id=order.id,
        customer_id=order.customer_id,
        lines=[
            EarningLine(
                amount=line.line_total, sku=line.sku, category_id=categories.get(line.product_id)
            )
            for line in order.lines
        ],
    )


def start_picking(session: Session, *, principal: Principal, order_id: int) -> Order:
    """Start picking a confirmed order."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    before = _move(order=order, step="pick", to=S.PICKING)
    return _finish(session, principal=principal, order=order, before=before, event="order.picking")


def pack(session: Session, *, principal: Principal, order_id: int) -> Order:
    """Mark a picked order packed."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    before = _move(order=order, step="pack", to=S.PACKED)
    return _finish(session, principal=principal, order=order, before=before, event="order.packed")


def ship(session: Session, *, principal: Principal, order_id: int, data: ShipmentCreate) -> Order:
    """Hand a packed order to a carrier."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    before = _move(order=order, step="ship", to=S.SHIPPED)
    order.carrier = data.carrier
    order.tracking_number = data.tracking_number
    order.shipped_at = utcnow()
    return _finish(session, principal=principal, order=order, before=before, event="order.shipped")


def deliver(session: Session, *, principal: Principal, order_id: int) -> Order:
    """Record that the customer received a shipped order."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    before = _move(order=order, step="deliver", to=S.DELIVERED)
    order.delivered_at = utcnow()
    return _finish(
        session, principal=principal, order=order, before=before, event="order.delivered"
    )


def cancel(session: Session, *, principal: Principal, order_id: int, data: CancelCreate) -> Order:
    """Cancel a pending order (release its reservation) or a confirmed one (stock comes back)."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    was = order.status
    before = _move(order=order, step="cancel", to=S.CANCELLED)
    if was == S.PENDING_PAYMENT:
        reservations.release(
            session,
            actor=principal.actor,
            branch_id=order.branch_id,
            lines=_stock_lines(order),
            reference_type=REFERENCE,
            reference_id=str(order.id),
        )
    else:
        # The sale was committed at payment, so the goods come back as a return. Every
        # level first, in one statement: the lines may name the products in any order.
        ledger.lock_levels(
            session,
            tenant_id=order.tenant_id,
            keys=[(order.branch_id, line.product_id) for line in order.lines],
        )
        for line in order.lines:
            ledger.record_movement(
                session,
                actor=principal.actor,
                branch_id=order.branch_id,
                product_id=line.product_id,
                code=MovementCode.RETURN,
                quantity=line.quantity,
                reference_type=REFERENCE,
                reference_id=str(order.id),
            )
        order.refunded_amount = order.paid_amount
    order.cancel_reason = data.reason
    order.reserved_until = None
    order.closed_at = utcnow()
    return _finish(
        session, principal=principal, order=order, before=before, event="order.cancelled"
    )


def expire(session: Session, *, order: Order, now: datetime) -> bool:
    """Expire one unpaid order whose reservation ran out; False if it is no longer due."""
    if order.status not in ALLOWED_FROM["expire"] or order.reserved_until is None:
        return False
    if order.reserved_until > now:
        return False
    actor = Actor(tenant_id=order.tenant_id, label="reservation-expiry")
    reservations.release(
        session,
        actor=actor,
        branch_id=order.branch_id,
        lines=_stock_lines(order),
        reference_type=REFERENCE,
        reference_id=str(order.id),
    )
    before = snapshot(order)
    order.status = S.EXPIRED
    order.reserved_until = None
    order.closed_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="order.expired",
        entity_type="order",
        entity_id=order.id,
        before=before,
        after=snapshot(order),
    )
    order_event(session, order=order, event="order.expired")
    return True
