"""Events the server acknowledged, kept a while so a server restored from a backup gets them again.

A server restored from last night's backup has lost what tills pushed since. The till keeps
every acknowledged event for RETENTION; when the server shows it went back in time (a pull
cursor beyond its feed), the till queues them all again. Push is idempotent, so the server
answers "duplicate" for what it still has and applies what it lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pos_client.store.models import LocalBase, OutboxEvent, utcnow

RETENTION = timedelta(days=7)


class SentEvent(LocalBase):
    """An event the server acknowledged: its body, its device order and when it was sent."""

    __tablename__ = "sent_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)  # the outbox order it left in
    type: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(index=True)


def keep(session: Session, *, event_ids: list[str], at: datetime | None = None) -> None:
    """Copy acknowledged events out of the outbox (call before they are deleted)."""
    if not event_ids:
        return
    at = at or utcnow()
    known = set(
        session.scalars(select(SentEvent.event_id).where(SentEvent.event_id.in_(event_ids)))
    )
    for row in session.scalars(select(OutboxEvent).where(OutboxEvent.event_id.in_(event_ids))):
        if row.event_id not in known:
            session.add(
                SentEvent(
                    event_id=row.event_id,
                    seq=row.seq,
                    type=row.type,
                    document_id=row.document_id,
                    body=row.body,
                    created_at=row.created_at,
                    sent_at=at,
                )
            )
    session.flush()
    session.execute(delete(SentEvent).where(SentEvent.sent_at < at - RETENTION))


def requeue(session: Session) -> int:
    """Queue every kept event again, ahead of what waits, in its first order; return how many."""
    waiting = set(session.scalars(select(OutboxEvent.event_id)))
    kept = [
        row
        for row in session.scalars(select(SentEvent).order_by(SentEvent.seq))
        if row.event_id not in waiting
    ]
    if not kept:
        return 0
    # Ahead of the queue: a lost shift opening must reach the server before its later sales.
    first = session.scalar(select(func.min(OutboxEvent.seq)))
    start = (first if first is not None else 1) - len(kept)
    for n, row in enumerate(kept):
        session.add(
            OutboxEvent(
                seq=start + n,
                event_id=row.event_id,
                type=row.type,
                document_id=row.document_id,
                body=row.body,
                created_at=row.created_at,
                attempts=0,
                rejected=False,
            )
        )
    session.flush()
    return len(kept)
