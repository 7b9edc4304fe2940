"""The tenant's heads (change feed here, audit chain in audit/) and how their keepers take them.

Writers never lock these rows: they append changes without a sequence number and audit
entries without a link, so till pushes, orders and workflows of one tenant run side by
side. Only the feed sequencer (foundation/feed.py) and the audit sealer (audit/service.py) lock
a head, and they touch nothing else but rows already committed, so the heads cannot take
part in a deadlock. Readers (pulls, audit reads) number and seal in their own transaction
when the head is free and skip it when another is at work, never waiting in line. SQLite
has one writer at a time anyway (BEGIN IMMEDIATE), so there writers number and chain in
place, as they always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeVar, overload

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sync_server.db import TenantScoped, is_sqlite
from sync_server.domains import load_receivers
from sync_server.foundation.models import FeedHead

Head = TypeVar("Head", bound=TenantScoped)


class HeadMaker(Protocol):
    """Make a tenant's head row of one kind exist (safe when two writers race)."""

    def __call__(self, session: Session, *, tenant_id: int) -> None: ...


_MAKERS: dict[str, HeadMaker] = {}


def register_head(name: str, maker: HeadMaker) -> None:
    """Have create_heads make a head of another kind too (the audit chain registers its own)."""
    known = _MAKERS.setdefault(name, maker)
    if known is not maker:
        raise ValueError(f"The head {name!r} already has a maker: {known}.")


def insert_head(
    session: Session, model: type[TenantScoped], *, tenant_id: int, values: Mapping[str, Any]
) -> None:
    """Insert the tenant's head row of a model unless it exists (one statement, race-safe)."""
    dialect = sqlite if is_sqlite(session.get_bind()) else postgresql
    session.execute(
        dialect.insert(model)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )


def create_heads(session: Session, *, tenant_id: int) -> None:
    """Make every head of the tenant exist: the feed's here, the others' their owners' makers."""
    load_receivers()  # the owners of the other heads register their makers there
    insert_head(session, FeedHead, tenant_id=tenant_id, values={"last_seq": 0})
    for maker in _MAKERS.values():
        maker(session, tenant_id=tenant_id)


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
    key = ("head", model.__name__, tenant_id)
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
        exists_ = session.scalar(select(model.tenant_id).where(model.tenant_id == tenant_id))
        if exists_ is not None:
            return None  # skipped: another transaction holds it (inserting would wait)
        create_heads(session, tenant_id=tenant_id)
        head = session.scalar(stmt)
    if head is None and wait:
        # Waiting skips no locked row and the head was just created: only a broken
        # database gets here.
        raise RuntimeError(f"the {model.__name__} head of tenant {tenant_id} is missing")
    if head is not None:
        session.info[key] = (transaction, head)
    return head
