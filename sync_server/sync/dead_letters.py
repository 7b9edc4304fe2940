"""Rejected events kept for managers: list, retry, resolve."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from common.errors import Conflict, DomainError, NotFound, ValidationFailed
from common.sync.protocol import Event
from sync_server.audit import service as audit
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Principal
from sync_server.lookups import in_caller_branches
from sync_server.pricing.coupons import OVER_LIMIT
from sync_server.sync import programs_intake, push
from sync_server.sync.models import DeadLetter, Device, ReceivedEvent


def list_query(*, principal: Principal, resolved: bool | None) -> Select[DeadLetter]:
    """Return the query of the caller's dead letters (branches they may see)."""
    stmt = select(DeadLetter).where(DeadLetter.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=DeadLetter.branch_id, principal=principal)
    if resolved is not None:
        stmt = stmt.where(
            DeadLetter.resolved_at.is_not(None) if resolved else DeadLetter.resolved_at.is_(None)
        )
    return stmt


def get(session: Session, *, principal: Principal, letter_id: int) -> DeadLetter:
    """Return one dead letter the caller may see, locked for resolving."""
    letter = session.scalar(
        lock_for_update(select(DeadLetter).where(DeadLetter.id == letter_id), session)
    )
    if (
        letter is None
        or letter.tenant_id != principal.tenant_id
        or (letter.branch_id is not None and not principal.may_use_branch(letter.branch_id))
    ):
        raise NotFound("There is no such dead letter.")
    return letter


def resolve(
    session: Session, *, principal: Principal, letter: DeadLetter, note: str, retry: bool
) -> DeadLetter:
    """Close a dead letter; with retry, apply the event now (after fixing its cause)."""
    if letter.resolved_at is not None:
        raise Conflict("This dead letter is already resolved.")
    if retry and letter.type == OVER_LIMIT:
        raise Conflict(
            "The sale is already recorded; only the coupon's use needs a decision. "
            "Resolve it without retrying, with a note on what was done."
        )
    if retry and letter.type in programs_intake.NOT_RETRYABLE:
        raise Conflict(
            "This letter records a sale already booked (a card overdrawn offline): there is "
            "nothing to apply again. Settle the card, then resolve the letter with a note."
        )
    if retry:
        device = session.get(Device, letter.device_id)
        if device is None:
            raise NotFound("The device that sent this event no longer exists.")
        try:
            event = Event.model_validate(letter.payload)
            with session.begin_nested():
                push.apply_event(session, device=device, event=event)
        except DomainError as exc:
            raise Conflict(f"The event still cannot be applied: {exc.detail}") from exc
        except ValidationError as exc:
            # The stored payload itself is bad: retrying can never apply it, so say what is
            # wrong and change nothing (the savepoint dropped whatever the try wrote).
            raise ValidationFailed(
                "The event's payload is not valid, so it cannot be applied; dismiss the dead "
                f"letter instead. {_first_errors(exc)}",
                errors=[
                    {"field": ".".join(str(p) for p in e["loc"]) or "payload", "message": e["msg"]}
                    for e in exc.errors()[:10]
                ],
            ) from exc
        except (ValueError, TypeError, ArithmeticError, KeyError) as exc:
            # Push rejects the same unusable data this way (sync/push.py push_one).
            raise ValidationFailed(
                f"The event's data cannot be used, so it cannot be applied: {exc}"
            ) from exc
        received = session.scalar(
            select(ReceivedEvent).where(
                ReceivedEvent.tenant_id == letter.tenant_id,
                ReceivedEvent.event_id == letter.event_id,
            )
        )
        if received is not None:
            received.status, received.reason = "applied", None
    letter.resolved_at = utcnow()
    letter.resolved_by = principal.user_id
    letter.resolved_note = note or ("applied on retry" if retry else "dismissed")
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="sync.dead_letter_resolved",
        entity_type="dead_letter",
        entity_id=letter.id,
        before={"resolved": False},
        after={"resolved": True, "retried": retry, "note": letter.resolved_note},
    )
    return letter


def _first_errors(exc: ValidationError) -> str:
    """Return the first few problems of a payload as one readable sentence."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()[:3]
    ]
    return "; ".join(parts) + "."
