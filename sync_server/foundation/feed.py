"""Publish changes of replicated data to the tenant's change feed, and number them.

On PostgreSQL a writer appends its change with no sequence number (seq NULL) and takes no
tenant-wide lock. The sequencer numbers committed changes later, in id order, under the
feed head's lock: it only ever sees committed rows, so a number is handed out only to a
change that is already visible, and a till that pulled up to N can never later meet a
change numbered at or below N. Two changes of the same entity keep their order: their
writers were serialised by the entity's own row lock, so the later writer inserted (and
got its id) after the earlier one committed. SQLite lets one writer in at a time, so
there publish numbers the change at once, as before.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, exists, select, text
from sqlalchemy.orm import Session

from sync_server.canonical import jsonable
from sync_server.db import append_row, is_sqlite
from sync_server.foundation.models import Change, FeedHead
from sync_server.foundation.tenant_lock import lock_head
from sync_server.replica import on_replica

# One statement numbers a batch in id order (PostgreSQL and SQLite both run it).
_NUMBER = text(
    """
    UPDATE change_feed SET seq = :base + numbered.n
    FROM (
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM change_feed
        WHERE tenant_id = :tenant_id AND seq IS NULL ORDER BY id LIMIT :batch
    ) AS numbered
    WHERE change_feed.id = numbered.id
    """
)


def publish(
    session: Session,
    *,
    tenant_id: int,
    entity: str,
    key: object,
    data: dict[str, Any] | None,
    branch_id: int | None = None,
) -> None:
    """Append a change in the caller's transaction; data None means the entity was deleted.

    On PostgreSQL its seq stays None until the sequencer numbers it after commit.
    """
    if not is_sqlite(session.get_bind()):
        # The entity's own pending UPDATE goes out first, taking its row lock before this
        # change gets its id; otherwise the flush could insert the change first (mappers
        # flush in name order) and a later writer's change could get the smaller id.
        session.flush()
    publish_locked(
        session, tenant_id=tenant_id, entity=entity, key=key, data=data, branch_id=branch_id
    )


def publish_locked(
    session: Session,
    *,
    tenant_id: int,
    entity: str,
    key: object,
    data: dict[str, Any] | None,
    branch_id: int | None = None,
) -> None:
    """Append a change of an entity whose row the caller already holds locked.

    The lock (a SELECT ... FOR UPDATE earlier in the transaction) already orders this
    writer after any earlier one, so nothing needs flushing first: a batch of changes then
    goes out in the caller's one flush.
    """
    # Its column values only: in a push's batch no ORM object is made for it (append_row).
    change = {
        "tenant_id": tenant_id,
        "seq": None,
        "branch_id": branch_id,
        "entity": entity,
        "entity_key": str(key),
        "op": "delete" if data is None else "upsert",
        "data": jsonable(data) if data is not None else None,
    }
    if is_sqlite(session.get_bind()):
        head = lock_head(session, FeedHead, tenant_id=tenant_id)
        head.last_seq += 1
        change["seq"] = head.last_seq
    append_row(session, Change, change)


def has_unsequenced(session: Session, *, tenant_id: int) -> bool:
    """Say whether committed changes of the tenant wait for a number."""
    return bool(session.scalar(_UNSEQUENCED, {"tenant_id": tenant_id}))


# Built once: every pull on the primary asks it first.
_UNSEQUENCED = select(
    exists().where(Change.tenant_id == bindparam("tenant_id"), Change.seq.is_(None))
)


def sequence_changes(
    session: Session, *, tenant_id: int, batch: int = 5000, wait: bool = True
) -> int:
    """Number the tenant's committed unnumbered changes in id order; return how many.

    The head stays locked to the caller's commit. wait=False gives up (0) when another
    transaction is numbering now.
    """
    head = lock_head(session, FeedHead, tenant_id=tenant_id, wait=wait)
    if head is None:
        return 0
    done = 0
    while True:
        # An UPDATE's result is a cursor result: it knows how many rows it numbered.
        result = session.execute(
            _NUMBER, {"base": head.last_seq, "tenant_id": tenant_id, "batch": batch}
        )
        count = cast("CursorResult[Any]", result).rowcount
        head.last_seq += count
        done += count
        session.flush()
        if count < batch:
            return done


def catch_up(session: Session, *, tenant_id: int) -> int:
    """Number waiting changes in the caller's transaction before it reads the feed.

    Every reader of the feed calls this first. It uses the caller's own connection (a
    second one per request could drain the pool under many pulls) and does not queue: when
    another transaction is numbering, the caller reads what is numbered, and the rest
    reaches it on its next pull. Numbers a reader sees are committed before its answer
    leaves (the request commits first). On SQLite nothing ever waits.
    """
    if is_sqlite(session.get_bind()) or on_replica(session):
        return 0  # a replica reads what the primary numbered (its keeper numbers the rest)
    if not has_unsequenced(session, tenant_id=tenant_id):
        return 0
    return sequence_changes(session, tenant_id=tenant_id, wait=False)
