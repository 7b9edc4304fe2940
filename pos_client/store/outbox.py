"""The outbox: events waiting for the server, in the device's order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from common.sync.protocol import Event, PushResult, PushStatus
from pos_client.store import sent_log
from pos_client.store.models import OutboxEvent, Return, Sale, utcnow
from pos_client.store.plain_sql import PreparedWrite

# On every sale's critical path: prepared once, bound by column type (see plain_sql).
_ENQUEUE = PreparedWrite(
    OutboxEvent.__table__,
    columns=("event_id", "type", "document_id", "body", "created_at", "attempts", "rejected"),
)


def enqueue(session: Session, *, event: Event, document_id: str | None = None) -> None:
    """Add an event in the caller's transaction, so it commits with its document."""
    _ENQUEUE.run(
        session.connection(),
        [
            {
                "event_id": event.id,
                "type": str(event.type),
                "document_id": document_id,
                "body": event.model_dump_json(),
                "created_at": event.occurred_at,
                "attempts": 0,
                "rejected": False,
            }
        ],
    )


def pending_count(session: Session) -> int:
    """Return how many events still wait for the server (rejected ones included)."""
    return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0


def waiting_for(session: Session, *, document_id: str) -> bool:
    """Say whether a document (sale, return, shift…) still has events waiting to sync."""
    return (
        session.scalar(
            select(OutboxEvent.seq).where(OutboxEvent.document_id == document_id).limit(1)
        )
        is not None
    )


def next_batch(session: Session, *, limit: int, rejected: bool = False) -> list[OutboxEvent]:
    """Return the oldest events (not yet rejected, or only rejected ones), in device order."""
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.rejected.is_(rejected))
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
    )


def acknowledge(session: Session, *, results: list[PushResult], at: datetime | None = None) -> int:
    """Drop events the server applied or already had; mark rejected ones. Return dropped."""
    at = at or utcnow()
    done = [r.id for r in results if r.status in (PushStatus.APPLIED, PushStatus.DUPLICATE)]
    rejected = {r.id: r.reason for r in results if r.status == PushStatus.REJECTED}
    if done:
        sent_log.keep(session, event_ids=done, at=at)
        session.execute(update(Sale).where(Sale.event_id.in_(done)).values(synced_at=at))
        session.execute(update(Return).where(Return.event_id.in_(done)).values(synced_at=at))
        session.execute(delete(OutboxEvent).where(OutboxEvent.event_id.in_(done)))
    for event_id, reason in rejected.items():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.event_id == event_id)
            .values(rejected=True, last_error=reason)
        )
    return len(done)


def note_failure(session: Session, *, event_ids: list[str], error: str) -> None:
    """Count a failed attempt on events that will be sent again."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id.in_(event_ids))
        .values(attempts=OutboxEvent.attempts + 1, last_error=error[:500])
    )
