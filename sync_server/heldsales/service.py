"""Park a till's cart on the server and hand it to another till of the same branch."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import Conflict, NotFound, ValidationFailed
from common.sync.programs import HeldSaleParked
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Actor
from sync_server.heldsales.models import HeldSale


def park(session: Session, *, actor: Actor, branch_id: int, payload: HeldSaleParked) -> HeldSale:
    """Keep a parked cart for the branch's tills."""
    if payload.branch_id != branch_id:
        raise ValidationFailed("The held sale names another branch than the till's own.")
    held = HeldSale(
        tenant_id=actor.tenant_id,
        hold_id=payload.hold_id,
        branch_id=branch_id,
        device_id=actor.device_id or "",
        label=payload.label,
        total=payload.total,
        cashier_id=actor.user_id,
        cart=payload.cart,
        status="held",
    )
    session.add(held)
    session.flush()
    return held


def _locked(session: Session, *, tenant_id: int, hold_id: str) -> HeldSale | None:
    return session.scalar(
        lock_for_update(
            select(HeldSale).where(HeldSale.tenant_id == tenant_id, HeldSale.hold_id == hold_id),
            session,
        )
    )


def mark_recalled(session: Session, *, actor: Actor, branch_id: int, hold_id: str) -> None:
    """Note that a till took its own parked cart back (pushed from its outbox)."""
    held = _locked(session, tenant_id=actor.tenant_id, hold_id=hold_id)
    if held is None or held.branch_id != branch_id or held.status != "held":
        # Recalled at another till already, or parked and recalled offline before any push:
        # nothing to release.
        return
    held.status = "recalled"
    held.recalled_at = utcnow()
    held.recalled_by = actor.device_id


def list_held(session: Session, *, tenant_id: int, branch_id: int) -> list[HeldSale]:
    """Return the branch's carts still waiting, oldest first."""
    return list(
        session.scalars(
            select(HeldSale)
            .where(
                HeldSale.tenant_id == tenant_id,
                HeldSale.branch_id == branch_id,
                HeldSale.status == "held",
            )
            .order_by(HeldSale.created_at, HeldSale.id)
        )
    )


def take(session: Session, *, actor: Actor, branch_id: int, hold_id: str) -> HeldSale:
    """Hand a parked cart to the calling till; a cart is taken once, by one till."""
    held = _locked(session, tenant_id=actor.tenant_id, hold_id=hold_id)
    if held is None or held.branch_id != branch_id:
        raise NotFound("There is no such held sale at this branch.")
    if held.status != "held":
        raise Conflict("This held sale was already recalled at another till.")
    held.status = "recalled"
    held.recalled_at = utcnow()
    held.recalled_by = actor.device_id
    session.flush()
    return held
