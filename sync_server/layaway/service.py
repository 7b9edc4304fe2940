"""Deposits and layaway: reserve goods against a deposit, take the rest in parts, hand the
goods over when paid (the reservation becomes a sale), or cancel: the stock is released and
what was paid is refunded, kept as store credit, or kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidState, NotFound, ValidationFailed
from common.money import format_money, round_money
from common.schemas.layaway import LayawayCreate, LayawayPaymentCreate
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Principal
from sync_server.giftcards import service as giftcards
from sync_server.inventory import reservations
from sync_server.layaway.models import Layaway, LayawayPayment
from sync_server.org.service import get_setting
from sync_server.partners.models import Customer

REFERENCE = "layaway"
# Well inside NUMERIC(14,4): a total and its payments never overflow the columns.
MAX_TOTAL = Decimal("1000000000")


def _branch(principal: Principal, branch_id: int | None) -> int:
    if principal.kind == "device":
        return next(iter(principal.branch_ids))
    if branch_id is None:
        raise ValidationFailed("Name the branch (branch_id) that holds the goods.")
    if not principal.may_use_branch(branch_id):
        raise NotFound("There is no such branch.")
    return branch_id


def _money(session: Session, tenant_id: int, amount: Decimal) -> str:
    return format_money(amount, str(get_setting(session, tenant_id=tenant_id, key="currency")))


def _stock_lines(layaway: Layaway) -> list[tuple[int, Decimal]]:
    return [(int(ln["product_id"]), Decimal(ln["quantity"])) for ln in layaway.lines]


def start(session: Session, *, principal: Principal, data: LayawayCreate) -> Layaway:
    """Reserve the goods for the customer and take the deposit."""
    branch_id = _branch(principal, data.branch_id)
    customer = session.get(Customer, data.customer_id)
    if customer is None or customer.tenant_id != principal.tenant_id:
        raise NotFound(f"There is no customer with id {data.customer_id}.")
    if session.scalar(
        select(Layaway.id).where(
            Layaway.tenant_id == principal.tenant_id, Layaway.uuid == data.layaway_id
        )
    ):
        raise Conflict("This layaway was already started.")
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(
                Product.tenant_id == principal.tenant_id,
                Product.id.in_({ln.product_id for ln in data.lines}),
            )
        )
    }
    lines: list[dict[str, object]] = []
    total = Decimal(0)
    for ln in data.lines:
        product = products.get(ln.product_id)
        if product is None:
            raise NotFound(f"There is no product with id {ln.product_id}.")
        line_total = round_money(ln.quantity * ln.unit_price)
        total += line_total
        lines.append(
            {
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "quantity": str(ln.quantity),
                "unit_price": str(ln.unit_price),
                "line_total": str(line_total),
            }
        )
    if total > MAX_TOTAL:
        raise ValidationFailed(
            f"A layaway of {_money(session, principal.tenant_id, total)} is more than this "
            "server takes in one document."
        )
    if not 0 < data.deposit.amount < total:
        raise ValidationFailed(
            f"A deposit is more than nothing and less than the total "
            f"{_money(session, principal.tenant_id, total)}; take a full payment as a sale."
        )
    layaway = Layaway(
        tenant_id=principal.tenant_id,
        uuid=data.layaway_id,
        branch_id=branch_id,
        customer_id=customer.id,
        device_id=principal.device_id,
        total=total,
        paid=Decimal(0),
        lines=lines,
    )
    session.add(layaway)
    session.flush()
    reservations.reserve(
        session,
        actor=principal.actor,
        branch_id=branch_id,
        lines=_stock_lines(layaway),
        reference_type=REFERENCE,
        reference_id=layaway.uuid,
    )
    _pay(session, principal=principal, layaway=layaway, data=data.deposit)
    _audit(session, principal=principal, layaway=layaway, action="layaway.started")
    return layaway


def get(session: Session, *, principal: Principal, layaway_id: str, lock: bool = False) -> Layaway:
    """Return a layaway of the caller's branches."""
    stmt = select(Layaway).where(
        Layaway.tenant_id == principal.tenant_id, Layaway.uuid == layaway_id[:36]
    )
    layaway = session.scalar(lock_for_update(stmt, session) if lock else stmt)
    if layaway is None or not principal.may_use_branch(layaway.branch_id):
        raise NotFound("There is no such layaway.")
    return layaway


def _pay(
    session: Session, *, principal: Principal, layaway: Layaway, data: LayawayPaymentCreate
) -> None:
    due = layaway.total - layaway.paid
    if data.amount > due:
        raise ValidationFailed(
            f"Only {_money(session, layaway.tenant_id, due)} is left to pay on this layaway."
        )
    if session.scalar(
        select(LayawayPayment.id).where(
            LayawayPayment.tenant_id == layaway.tenant_id,
            LayawayPayment.payment_uuid == data.payment_id,
        )
    ):
        raise Conflict("This payment was already recorded.")
    session.add(
        LayawayPayment(
            tenant_id=layaway.tenant_id,
            layaway_id=layaway.id,
            payment_uuid=data.payment_id,
            amount=data.amount,
            method=data.method,
            reference=data.reference,
        )
    )
    layaway.paid += data.amount
    session.flush()


def pay(
    session: Session, *, principal: Principal, layaway_id: str, data: LayawayPaymentCreate
) -> Layaway:
    """Take a part payment; the last one hands the goods over (reservation → sale)."""
    layaway = get(session, principal=principal, layaway_id=layaway_id, lock=True)
    if layaway.status != "open":
        raise InvalidState(f"This layaway is {layaway.status}.")
    _pay(session, principal=principal, layaway=layaway, data=data)
    if layaway.paid == layaway.total:
        reservations.commit_reservation(
            session,
            actor=principal.actor,
            branch_id=layaway.branch_id,
            lines=_stock_lines(layaway),
            reference_type=REFERENCE,
            reference_id=layaway.uuid,
        )
        layaway.status = "completed"
        layaway.closed_at = utcnow()
    _audit(session, principal=principal, layaway=layaway, action="layaway.paid")
    return layaway


def cancel(session: Session, *, principal: Principal, layaway_id: str, outcome: str) -> Layaway:
    """Release the goods; refund what was paid, keep it as store credit, or keep it."""
    layaway = get(session, principal=principal, layaway_id=layaway_id, lock=True)
    if layaway.status != "open":
        raise InvalidState(f"This layaway is {layaway.status}.")
    reservations.release(
        session,
        actor=principal.actor,
        branch_id=layaway.branch_id,
        lines=_stock_lines(layaway),
        reference_type=REFERENCE,
        reference_id=layaway.uuid,
    )
    if outcome == "store_credit" and layaway.paid > 0:
        card = giftcards.issue(
            session,
            actor=principal.actor,
            amount=layaway.paid,
            kind="store_credit",
            customer_id=layaway.customer_id,
            method="layaway",
            reference=layaway.uuid,
            branch_id=layaway.branch_id,
        )
        layaway.credit_number = card.number
    layaway.outcome = outcome
    layaway.status = "cancelled"
    layaway.closed_at = utcnow()
    session.flush()
    _audit(session, principal=principal, layaway=layaway, action="layaway.cancelled")
    return layaway


def read(layaway: Layaway) -> dict[str, Any]:
    """Return a layaway as LayawayRead fields."""
    return {
        "id": layaway.uuid,
        "branch_id": layaway.branch_id,
        "customer_id": layaway.customer_id,
        "status": layaway.status,
        "total": layaway.total,
        "paid": layaway.paid,
        "due": layaway.total - layaway.paid if layaway.status == "open" else Decimal(0),
        "lines": layaway.lines,
        "outcome": layaway.outcome,
        "credit_number": layaway.credit_number,
        "created_at": layaway.created_at,
        "closed_at": layaway.closed_at,
    }


def _audit(session: Session, *, principal: Principal, layaway: Layaway, action: str) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        entity_type="layaway",
        entity_id=layaway.uuid,
        after={
            "status": layaway.status,
            "total": layaway.total,
            "paid": layaway.paid,
            "outcome": layaway.outcome,
        },
    )
