"""The tenant's two heads (change feed, audit chain) and how their keepers take them.

Writers never lock these rows: they append changes without a sequence number and audit
entries without a link, so till pushes, orders and workflows of one tenant run side by
side. Only the feed sequencer (sync/feed.py) and the audit sealer (audit/service.py) lock
a head, and they touch nothing else but rows already committed, so the heads cannot take
part in a deadlock. Readers (pulls, audit reads) number and seal in their own transaction
when the head is free and skip it when another is at work, never waiting in line. SQLite
has one writer at a time anyway (BEGIN IMMEDIATE), so there writers number and chain in
place, as they always did.
"""

from __future__ import annotations

from typing import Literal, TypeVar, overload

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync_server.audit.keys import head_message, keyring_for
from sync_server.audit.models import AuditHead
from sync_server.db import is_sqlite
from sync_server.sync.models import FeedHead

Head = TypeVar("Head", FeedHead, AuditHead)


def create_heads(session: Session, *, tenant_id: int) -> None:
    """Make the tenant's feed and audit heads exist (safe when two writers race to do it)."""
    dialect = sqlite if is_sqlite(session.get_bind()) else postgresql
    for model, values in (
        (FeedHead, {"last_seq": 0}),
        (AuditHead, {"last_seq": 0, "last_hash": "0" * 64, "keyed_from_seq": 1}),
    ):
        session.execute(
            dialect.insert(model)
            .values(tenant_id=tenant_id, **values)
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
    # A new chain head is signed from birth, so a head reset to empty later is caught.
    keyring = keyring_for(session)
    empty = head_message(
        tenant_id=tenant_id, last_seq=0, last_hash="0" * 64, keyed_from_seq=1, legacy_max_id=0
    )
    session.execute(
        update(AuditHead)
        .where(
            AuditHead.tenant_id == tenant_id,
            AuditHead.head_mac.is_(None),
            AuditHead.last_seq == 0,
            AuditHead.keyed_from_seq == 1,
            AuditHead.legacy_max_id == 0,
        )
        .values(key_id=keyring.current_id, head_mac=keyring.mac(empty))
        .execution_options(synchronize_session=False)
    )


@overload
def lock_head(
    session: Session, model: type[Head], *, tenant_id: int, wait: Literal[True] = True
) -> Head: ...
@overload
def lock_head(
    session: Session, model: type[Head], *, tenant_id: int, wait: bool
) -> Head | None: ...
def lock_head(
    session: Session, model: type[Head], *, tenant_id: int, wait: bool = True
) -> Head | None:
    """Return the tenant's head row of a model locked to commit, creating it if missing.

    With wait=False it returns None at once when another transaction holds the head (it is
    numbering or sealing right now; what it leaves over is done next time). Read once per
    transaction: the lock (SQLite: the write lock) keeps it current until commit, and a
    rolled-back savepoint expires it, so its next use reloads it.
    """
    key = ("head", model.__tablename__, tenant_id)
    transaction = session.get_transaction()
    cached: tuple[object, Head] | None = session.info.get(key)
    if cached is not None and cached[0] is transaction and cached[1] in session:
        return cached[1]
    stmt = (
        select(model).where(model.tenant_id == tenant_id).execution_options(populate_existing=True)
    )
    if not is_sqlite(session.get_bind()):
        stmt = stmt.with_for_update(skip_locked=not wait)
    head = session.scalar(stmt)
    if head is None:
        exists_ = session.scalar(select(model.id).where(model.tenant_id == tenant_id))
        if exists_ is not None:
            return None  # skipped: another transaction holds it (inserting would wait)
        create_heads(session, tenant_id=tenant_id)
        head = session.scalar(stmt)
    if head is None and wait:
        # Waiting skips no locked row and the head was just created: only a broken
        # database gets here.
        raise RuntimeError(f"the {model.__tablename__} row of tenant {tenant_id} is missing")
    if head is not None:
        session.info[key] = (transaction, head)
    return head
