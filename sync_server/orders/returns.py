"""Returns of delivered orders: request, receive, restock or write off, refund."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import InvalidState, NotFound, ValidationFailed
from common.money import format_money
from common.schemas.orders import ALLOWED_FROM
from common.units import format_quantity
from sync_server.audit import service as audit
from sync_server.db import utcnow
from sync_server.foundation.principal import Principal
from sync_server.inventory import ledger
from sync_server.orders.models import Order, OrderReturn, OrderReturnLine
from sync_server.orders.notify import order_event
from sync_server.orders.schemas import ReturnCreate, ReturnReceive
from sync_server.orders.service import get_order
from sync_server.tax import service as tax

REFERENCE = "order_return"


def _return_data(ret: OrderReturn) -> dict[str, Any]:
    return {
        "id": ret.id,
        "order_id": ret.order_id,
        "status": ret.status,
        "refund_amount": ret.refund_amount,
        "lines": [
            {
                "order_line_id": ln.order_line_id,
                "quantity": ln.quantity,
                "restocked": ln.restocked_quantity,
                "written_off": ln.written_off_quantity,
                "reason": ln.write_off_reason,
            }
            for ln in ret.lines
        ],
    }


def request_return(
    session: Session, *, principal: Principal, order_id: int, data: ReturnCreate
) -> OrderReturn:
    """Open a return for delivered lines, up to what was not returned already."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    if order.status not in ALLOWED_FROM["return"]:
        raise InvalidState(
            f"Order {order.external_number} is {order.status}; only delivered orders take returns."
        )
    lines = {line.id: line for line in order.lines}
    ret = OrderReturn(tenant_id=order.tenant_id, order_id=order.id, reason=data.reason)
    seen: set[int] = set()
    for wanted in data.lines:
        line = lines.get(wanted.line_id)
        if line is None:
            raise ValidationFailed(f"Line {wanted.line_id} is not part of this order.")
        if wanted.line_id in seen:
            raise ValidationFailed(f"Line {wanted.line_id} is listed twice.")
        seen.add(wanted.line_id)
        left = line.quantity - line.returned_quantity
        if wanted.quantity > left:
            raise ValidationFailed(
                f"Only {format_quantity(left)} of {line.sku} can still be returned, "
                f"not {format_quantity(wanted.quantity)}."
            )
        if line.unit == "piece" and wanted.quantity != wanted.quantity.to_integral_value():
            raise ValidationFailed(f"{line.sku} is sold by the piece: return whole units.")
        credit = tax.order_line_credit(order=order, line=line, returned=wanted.quantity)
        line.returned_quantity += wanted.quantity
        ret.lines.append(
            OrderReturnLine(
                tenant_id=order.tenant_id,
                order_line_id=line.id,
                product_id=line.product_id,
                quantity=wanted.quantity,
                tax=-credit.tax if credit else Decimal(0),
                tax_detail=credit.to_wire() if credit else None,
            )
        )
    order.returns.append(ret)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="order.return_requested",
        entity_type="order_return",
        entity_id=ret.id,
        after=_return_data(ret),
    )
    order_event(session, order=order, event="order.return_requested")
    return ret


def _find_return(order: Order, return_id: int) -> OrderReturn:
    for ret in order.returns:
        if ret.id == return_id:
            return ret
    raise NotFound(f"Order {order.external_number} has no return with id {return_id}.")


def receive_return(
    session: Session,
    *,
    principal: Principal,
    order_id: int,
    return_id: int,
    data: ReturnReceive,
) -> OrderReturn:
    """Take returned goods in: resellable units are restocked, the rest written off."""
    order = get_order(session, principal=principal, order_id=order_id, lock=True)
    ret = _find_return(order, return_id)
    if ret.status != "requested":
        raise InvalidState(f"Return {ret.id} was already {ret.status}.")
    by_line = {ln.order_line_id: ln for ln in ret.lines}
    given = {ln.line_id: ln for ln in data.lines}
    if set(given) != set(by_line) or len(given) != len(data.lines):
        raise ValidationFailed("Account for every line of the return exactly once.")
    for line_id, received in given.items():
        expected = by_line[line_id].quantity
        if received.restock_quantity + received.write_off_quantity != expected:
            raise ValidationFailed(
                f"Line {line_id}: restocked plus written off must equal the "
                f"{format_quantity(expected)} returned."
            )
    refundable = order.paid_amount - order.refunded_amount
    if data.refund_amount > refundable:
        raise ValidationFailed(
            f"At most {format_money(refundable, order.currency)} can still be refunded "
            "on this order."
        )
    reference_id = str(ret.id)
    ledger.lock_levels(
        session,
        tenant_id=order.tenant_id,
        keys=[(order.branch_id, row.product_id) for row in ret.lines],
    )
    for line_id, received in sorted(given.items()):
        row = by_line[line_id]
        # Every unit comes back through the door first, so the ledger shows the return;
        # what cannot be sold again then leaves as an adjustment with its reason.
        ledger.record_movement(
            session,
            actor=principal.actor,
            branch_id=order.branch_id,
            product_id=row.product_id,
            code=MovementCode.RETURN,
            quantity=row.quantity,
            reference_type=REFERENCE,
            reference_id=reference_id,
        )
        if received.write_off_quantity > 0 and received.write_off_reason is not None:
            # (the schema refuses a write-off without its reason)
            ledger.adjust(
                session,
                actor=principal.actor,
                branch_id=order.branch_id,
                product_id=row.product_id,
                quantity=-received.write_off_quantity,
                reason=received.write_off_reason,
                reference_type=REFERENCE,
                reference_id=reference_id,
            )
        row.restocked_quantity = received.restock_quantity
        row.written_off_quantity = received.write_off_quantity
        row.write_off_reason = received.write_off_reason.value if received.write_off_reason else ""
    before = _return_data(ret)
    ret.status = "received"
    ret.received_at = utcnow()
    ret.refund_amount = data.refund_amount
    order.refunded_amount += data.refund_amount
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="order.return_received",
        entity_type="order_return",
        entity_id=ret.id,
        before=before,
        after=_return_data(ret),
    )
    order_event(session, order=order, event="order.return_received")
    if data.refund_amount > Decimal("0"):
        order_event(session, order=order, event="order.refunded")
    return ret
