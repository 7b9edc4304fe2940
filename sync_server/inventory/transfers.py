"""Transfers between branches: created, dispatched (stock out), received (stock in), closed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import (
    Conflict,
    InsufficientStock,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from common.units import format_quantity
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.foundation.principal import Actor
from sync_server.inventory.ledger import (
    ZERO,
    _merged,
    lock_levels,
    record_movement,
    shortage,
)
from sync_server.inventory.models import Transfer, TransferLine
from sync_server.lookups import get_owned
from sync_server.org.models import Branch

REFERENCE = "transfer"

# FOR NO KEY UPDATE on PostgreSQL (see sync_server.db.lock_for_update); SQLite ignores it.
_NO_KEY = {"key_share": True}


def _snapshot(transfer: Transfer) -> dict[str, Any]:
    return {
        "status": transfer.status,
        "lines": [
            {
                "product_id": line.product_id,
                "quantity": line.quantity,
                "received": line.received_quantity,
                "discrepancy": line.discrepancy,
            }
            for line in transfer.lines
        ],
    }


def get_transfer(
    session: Session, *, tenant_id: int, transfer_id: int, lock: bool = False
) -> Transfer:
    """Return a transfer of the tenant (locked for this transaction when asked)."""
    transfer = session.get(
        Transfer, transfer_id, with_for_update=_NO_KEY if lock else None, populate_existing=lock
    )
    if transfer is None or transfer.tenant_id != tenant_id:
        raise NotFound(f"There is no transfer with id {transfer_id}.")
    return transfer


def create_transfer(
    session: Session,
    *,
    actor: Actor,
    source_branch_id: int,
    destination_branch_id: int,
    lines: list[tuple[int, Decimal]],
    note: str = "",
) -> Transfer:
    """Plan a transfer; nothing moves until it is dispatched."""
    if source_branch_id == destination_branch_id:
        raise ValidationFailed("A transfer goes between two different branches.")
    for branch_id in (source_branch_id, destination_branch_id):
        get_owned(session, Branch, id=branch_id, tenant_id=actor.tenant_id, what="branch")
    merged = _merged(lines)
    for product_id, _ in merged:
        get_owned(session, Product, id=product_id, tenant_id=actor.tenant_id, what="product")
    transfer = Transfer(
        tenant_id=actor.tenant_id,
        source_branch_id=source_branch_id,
        destination_branch_id=destination_branch_id,
        status="created",
        note=note,
        created_by=actor.user_id,
        lines=[
            TransferLine(
                tenant_id=actor.tenant_id,
                product_id=product_id,
                quantity=quantity,
                received_quantity=ZERO,
                discrepancy=ZERO,
            )
            for product_id, quantity in merged
        ],
    )
    session.add(transfer)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="transfer.create",
        entity_type="transfer",
        entity_id=transfer.id,
        after={
            "source_branch_id": source_branch_id,
            "destination_branch_id": destination_branch_id,
            **_snapshot(transfer),
        },
    )
    return transfer


def dispatch(session: Session, *, actor: Actor, transfer_id: int) -> Transfer:
    """Take every line out of the source branch, or nothing if any line is short."""
    transfer = get_transfer(session, tenant_id=actor.tenant_id, transfer_id=transfer_id, lock=True)
    if transfer.status != "created":
        raise InvalidState(
            f"Transfer {transfer_id} is {transfer.status}; it was dispatched already."
        )
    short = []
    levels = lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(transfer.source_branch_id, line.product_id) for line in transfer.lines],
    )
    for line in sorted(transfer.lines, key=lambda line: line.product_id):
        level = levels[(transfer.source_branch_id, line.product_id)]
        if level.available < line.quantity:
            short.append(
                shortage(
                    product_id=line.product_id, requested=line.quantity, available=level.available
                )
            )
    if short:
        raise InsufficientStock(
            f"The source branch lacks stock for {len(short)} line(s); nothing was dispatched.",
            lines=short,
        )
    before = _snapshot(transfer)
    for line in transfer.lines:
        record_movement(
            session,
            actor=actor,
            branch_id=transfer.source_branch_id,
            product_id=line.product_id,
            code=MovementCode.TRANSFER_OUT,
            quantity=-line.quantity,
            reference_type=REFERENCE,
            reference_id=str(transfer.id),
        )
    transfer.status = "dispatched"
    transfer.dispatched_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="transfer.dispatch",
        entity_type="transfer",
        entity_id=transfer.id,
        before=before,
        after=_snapshot(transfer),
    )
    return transfer


def receive(
    session: Session,
    *,
    actor: Actor,
    transfer_id: int,
    lines: list[tuple[int, Decimal]],
    close: bool = False,
) -> Transfer:
    """Book what arrived at the destination; close records the rest as discrepancy."""
    transfer = get_transfer(session, tenant_id=actor.tenant_id, transfer_id=transfer_id, lock=True)
    if transfer.status not in ("dispatched", "partially_received"):
        raise InvalidState(
            f"Transfer {transfer_id} is {transfer.status}; only a dispatched transfer is received."
        )
    if not lines and not close:
        raise ValidationFailed("Give the lines that arrived, or close the transfer.")
    by_product = {line.product_id: line for line in transfer.lines}
    merged = _merged(lines) if lines else []
    for product_id, quantity in merged:
        line = by_product.get(product_id)
        if line is None:
            raise ValidationFailed(f"Product {product_id} is not on transfer {transfer_id}.")
        outstanding = line.quantity - line.received_quantity
        if quantity > outstanding:
            raise Conflict(
                f"Only {format_quantity(outstanding)} of product {product_id} is still in "
                f"transit; {format_quantity(quantity)} cannot be received."
            )
    before = _snapshot(transfer)
    lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(transfer.destination_branch_id, product_id) for product_id, _ in merged],
    )
    for product_id, quantity in merged:
        record_movement(
            session,
            actor=actor,
            branch_id=transfer.destination_branch_id,
            product_id=product_id,
            code=MovementCode.TRANSFER_IN,
            quantity=quantity,
            reference_type=REFERENCE,
            reference_id=str(transfer.id),
        )
        by_product[product_id].received_quantity += quantity
    complete = all(line.received_quantity == line.quantity for line in transfer.lines)
    now = utcnow()
    if merged:
        transfer.received_at = now
    if complete or close:
        for line in transfer.lines:
            line.discrepancy = line.quantity - line.received_quantity
        transfer.status = "closed"
        transfer.closed_at = now
    else:
        transfer.status = "partially_received"
    audit.record(
        session,
        actor=actor,
        action="transfer.close" if transfer.status == "closed" else "transfer.receive",
        entity_type="transfer",
        entity_id=transfer.id,
        before=before,
        after=_snapshot(transfer),
    )
    return transfer
