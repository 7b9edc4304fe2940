"""Reservations: stock set aside for a document, then released or committed as a sale.

A reservation moves only ``reserved``; a commit lowers both reserved and on_hand (see ledger).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import Conflict, InsufficientStock
from common.units import format_quantity
from sync_server.catalog.models import Product
from sync_server.db import changes_with_appends
from sync_server.foundation.principal import Actor
from sync_server.inventory.ledger import (
    RESERVATION_CODES,
    Facts,
    MovementLine,
    _merged,
    held_levels,
    lock_levels,
    prepare_batch,
    record_movements,
    shortage,
)
from sync_server.inventory.lots import lotless
from sync_server.inventory.lots import note_batch as note_lots
from sync_server.inventory.models import StockMovement
from sync_server.lookups import get_owned


def reserve(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Set stock aside for a document: every line or none (InsufficientStock lists the short)."""
    merged = _merged(lines)
    short = []
    for product_id, _ in merged:
        get_owned(session, Product, id=product_id, tenant_id=actor.tenant_id, what="product")
    rows = lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, product_id) for product_id, _ in merged],
    )
    # Which of them keep lots here, read under the locks as a push's batch does, with no
    # pending change to flush yet: lotless products then skip the lot read (most do).
    note_lots(
        session,
        tenant_id=actor.tenant_id,
        branch_id=branch_id,
        product_ids=[product_id for product_id, _ in merged],
    )
    for product_id, quantity in merged:
        row = rows[(branch_id, product_id)]
        if row.available < quantity:
            short.append(
                shortage(product_id=product_id, requested=quantity, available=row.available)
            )
    if short:
        raise InsufficientStock(
            f"Not enough stock to reserve {len(short)} of {len(merged)} line(s); "
            "nothing was reserved.",
            lines=short,
        )
    record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[
            MovementLine(product_id, MovementCode.RESERVATION, quantity)
            for product_id, quantity in merged
        ],
        reference_type=reference_type,
        reference_id=reference_id,
    )
    session.flush()


def lock_for_reserve(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    facts: list[Facts] | None = None,
) -> bool:
    """Lock and check what reserve() would move, writing nothing; say if reserve needs no lots.

    For a caller that writes its own document rows first (the set-based order path):
    the levels are locked in the global order and read once with the products' facts and
    lots (ledger.prepare_batch), so the reserve() that follows reads none of them again.
    Raises InsufficientStock as reserve() would. False: some product keeps lots at the
    branch (reserve() then splits the reservation over them, and may refuse an expired
    lot), so the caller takes its long way.
    """
    merged = _merged(lines)
    ids = [product_id for product_id, _ in merged]
    prepare_batch(
        session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        product_ids=ids,
        facts=facts,
        with_companions=True,
    )
    rows = held_levels(session, tenant_id=tenant_id, keys=[(branch_id, p) for p in ids]) or {}
    short = []
    for product_id, quantity in merged:
        row = rows.get((branch_id, product_id))
        available = row.available if row is not None else Decimal("0")
        if available < quantity:
            short.append(shortage(product_id=product_id, requested=quantity, available=available))
    if short:
        raise InsufficientStock(
            f"Not enough stock to reserve {len(short)} of {len(merged)} line(s); "
            "nothing was reserved.",
            lines=short,
        )
    return lotless(session, tenant_id=tenant_id, branch_id=branch_id, product_ids=ids)


def reserve_locked(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """reserve() after lock_for_reserve() said yes: the same movements, nothing read again."""
    record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[
            MovementLine(product_id, MovementCode.RESERVATION, quantity)
            for product_id, quantity in _merged(lines)
        ],
        reference_type=reference_type,
        reference_id=reference_id,
    )
    # The levels' (and any cleared alert's) updates go out with the appended rows, in their
    # one statement, inside a buffered_appends block on PostgreSQL; the flush writes the rest.
    changes_with_appends(session)
    session.flush()


def open_reservation(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    product_id: int,
    reference_type: str,
    reference_id: str,
) -> Decimal:
    """Return what a document still holds reserved of a product in a branch."""
    total = session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.tenant_id == tenant_id,
            StockMovement.branch_id == branch_id,
            StockMovement.product_id == product_id,
            StockMovement.reference_type == reference_type,
            StockMovement.reference_id == str(reference_id),
            StockMovement.code.in_([code.value for code in RESERVATION_CODES]),
        )
    )
    return Decimal(total or 0)


def _settle(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
    code: MovementCode,
) -> None:
    merged = _merged(lines)
    lock_levels(
        session,
        tenant_id=actor.tenant_id,
        keys=[(branch_id, product_id) for product_id, _ in merged],
    )
    for product_id, quantity in merged:
        held = open_reservation(
            session,
            tenant_id=actor.tenant_id,
            branch_id=branch_id,
            product_id=product_id,
            reference_type=reference_type,
            reference_id=reference_id,
        )
        if held < quantity:
            raise Conflict(
                f"{reference_type} {reference_id} holds {format_quantity(held)} of product "
                f"{product_id} reserved; cannot {code.value} {format_quantity(quantity)}."
            )
    record_movements(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=[MovementLine(product_id, code, -quantity) for product_id, quantity in merged],
        reference_type=reference_type,
        reference_id=reference_id,
    )
    session.flush()


def release(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Give back stock a document had reserved (no more than it holds)."""
    _settle(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=lines,
        reference_type=reference_type,
        reference_id=reference_id,
        code=MovementCode.RELEASE,
    )


def commit_reservation(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    lines: list[tuple[int, Decimal]],
    reference_type: str,
    reference_id: str,
) -> None:
    """Turn reserved stock into a sale: one ``commit`` movement lowers reserved and on_hand."""
    _settle(
        session,
        actor=actor,
        branch_id=branch_id,
        lines=lines,
        reference_type=reference_type,
        reference_id=reference_id,
        code=MovementCode.COMMIT,
    )
