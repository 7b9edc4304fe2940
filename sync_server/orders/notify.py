"""Tell the customer and the store about an order, through the notification outbox.

The customer gets e-mails for the steps they care about; the store hears every state change
and every availability change through the tenant's webhook rules (e.g. event "order.*" or
"stock.available"), which the dispatcher signs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from common.money import format_money
from common.schemas.base import plain_str
from common.schemas.webhooks import OrderEventPayload, WebhookCustomer, WebhookOrderLine
from common.units import format_quantity
from sync_server.inventory import ledger
from sync_server.inventory.models import StockLevel
from sync_server.notifications import service as notifications
from sync_server.orders.models import Order
from sync_server.partners.models import Customer

_CUSTOMER_SUBJECTS = {
    "order.confirmed": "Your order {number} is confirmed",
    "order.shipped": "Your order {number} is on its way",
    "order.delivered": "Your order {number} was delivered",
    "order.cancelled": "Your order {number} was cancelled",
    "order.expired": "Your order {number} expired unpaid",
    "order.refunded": "A refund for your order {number}",
    # Click-and-collect (sync_server/pickup).
    "order.ready_for_pickup": "Your order {number} is ready for pickup",
    "order.collected": "You collected your order {number}",
}


# Steps that change what a branch can sell (payment and shipping do not).
_AVAILABILITY_EVENTS = {
    "order.created",
    "order.cancelled",
    "order.expired",
    "order.return_received",
}


def order_payload(order: Order, *, customer: Customer | None) -> dict[str, Any]:
    """Return the webhook payload of an order: its state, its customer and its lines."""
    return OrderEventPayload(
        order_id=order.id,
        external_number=order.external_number,
        status=order.status,
        branch_id=order.branch_id,
        currency=order.currency,
        total=order.total,
        paid_amount=order.paid_amount,
        refunded_amount=order.refunded_amount,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        shipping_address=order.shipping_address,
        customer=None
        if customer is None
        else WebhookCustomer(
            id=customer.id, name=customer.name, email=customer.email, phone=customer.phone
        ),
        lines=[
            WebhookOrderLine(
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
                returned_quantity=line.returned_quantity or Decimal("0"),
            )
            for line in order.lines
        ],
    ).model_dump(mode="json")


def order_event(session: Session, *, order: Order, event: str, availability: bool = True) -> None:
    """Queue the notifications of an order's state change, in the caller's transaction."""
    # Nobody to tell (no e-mail or SMS step for the customer, no rule): write nothing, as
    # notify would, without building the message first.
    if event in _CUSTOMER_SUBJECTS or notifications.listens(
        session, tenant_id=order.tenant_id, event=event, branch_id=order.branch_id
    ):
        _queue(session, order=order, event=event)
    if availability and event in _AVAILABILITY_EVENTS:
        _availability(session, order=order)


def _queue(session: Session, *, order: Order, event: str) -> None:
    """Queue the e-mail, SMS and rule notifications of an order's step."""
    customer = session.get(Customer, order.customer_id)
    payload = order_payload(order, customer=customer)
    subject = _CUSTOMER_SUBJECTS.get(event, "Order {number} is now {status}").format(
        number=order.external_number, status=order.status
    )
    email = customer.email if customer is not None and event in _CUSTOMER_SUBJECTS else None
    lines = "\n".join(f"  {format_quantity(ln.quantity)} x {ln.name}" for ln in order.lines)
    body = f"{subject}.\n\n{lines}\n\nTotal: {format_money(order.total, order.currency)}"
    if order.tracking_number:
        body += f"\nCarrier: {order.carrier}, tracking number {order.tracking_number}"
    notifications.notify(
        session,
        tenant_id=order.tenant_id,
        event=event,
        subject=subject,
        body=body,
        payload=payload,
        branch_id=order.branch_id,
        email=email,
        # Customers who opted in also get the steps they care about by SMS.
        customer_id=order.customer_id if event in _CUSTOMER_SUBJECTS else None,
    )


def stock_available(
    session: Session, *, order: Order, levels: dict[int, StockLevel] | None = None
) -> None:
    """Tell the store what it can now sell of the order's products (levels already read)."""
    _availability(session, order=order, levels=levels)


def _availability(
    session: Session,
    *,
    order: Order,
    levels: dict[int, StockLevel] | None = None,
) -> None:
    """Tell the store what it can now sell of each product the change touched."""
    if not notifications.listens(
        session, tenant_id=order.tenant_id, event="stock.available", branch_id=order.branch_id
    ):
        return  # no rule takes availability: notify would write nothing
    for product_id in sorted({ln.product_id for ln in order.lines}):
        level = (levels or {}).get(product_id) or ledger.level(
            session, tenant_id=order.tenant_id, branch_id=order.branch_id, product_id=product_id
        )
        notifications.notify(
            session,
            tenant_id=order.tenant_id,
            event="stock.available",
            subject=f"Availability of product {product_id} changed",
            body="",
            payload={
                "product_id": product_id,
                "branch_id": order.branch_id,
                "available": plain_str(max(level.on_hand - level.reserved, Decimal("0"))),
            },
            branch_id=order.branch_id,
        )
