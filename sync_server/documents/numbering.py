"""Hand out the next number of a document series from a locked counter row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sync_server.db import lock_for_update
from sync_server.documents.models import DocumentSequence


def next_number(session: Session, *, tenant_id: int, scope: str) -> int:
    """Return the next number of a series; it is used only if the caller's transaction commits.

    The counter row stays locked until commit, so concurrent callers queue up and a rolled
    back transaction gives its number back: numbers have no gaps (unlike max()+1 or a
    database sequence).
    """
    stmt = lock_for_update(
        select(DocumentSequence).where(
            DocumentSequence.tenant_id == tenant_id, DocumentSequence.scope == scope
        ),
        session,
    ).execution_options(populate_existing=True)
    row = session.scalar(stmt)
    if row is None:
        try:
            # A savepoint: if another transaction created the row first, only this insert
            # is undone and we lock theirs instead.
            with session.begin_nested():
                session.add(DocumentSequence(tenant_id=tenant_id, scope=scope, last_value=0))
        except IntegrityError:
            pass
        row = session.scalar(stmt)
    assert row is not None
    row.last_value += 1
    session.flush()
    return row.last_value
