"""Remember the answer to each Idempotency-Key so a retried request gets the same one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from common.errors import DomainError, ValidationFailed
from sync_server.db import (
    in_appends_block,
    insert_row_plainly,
    is_sqlite,
    update_with_appends,
    utcnow,
)
from sync_server.orders.models import IdempotencyRecord

PROBLEM_BASE = "https://stockpilot.dev/problems/"


class Outcome:
    """The answer to an idempotent request: HTTP status, JSON body, and whether it is a replay.

    Given as the body (a dict) or as its JSON text already made (text: what the route sends
    and settle() stores, so an order's answer is serialised once); each is made from the
    other only when asked for. The text of a body is what Starlette's JSONResponse renders.
    """

    __slots__ = ("_body", "_text", "replayed", "status")

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        replayed: bool = False,
        *,
        text: bytes | None = None,
    ) -> None:
        if (body is None) == (text is None):
            raise TypeError("an outcome is given by its body or by its JSON text")
        self.status = status
        self.replayed = replayed
        self._body = body
        self._text = text

    @property
    def body(self) -> dict[str, Any]:
        if self._body is None:
            assert self._text is not None
            self._body = json.loads(self._text)
        return self._body

    @property
    def text(self) -> bytes:
        if self._text is None:
            self._text = json.dumps(
                self._body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode()
        return self._text

    def __repr__(self) -> str:
        return f"Outcome(status={self.status}, replayed={self.replayed})"


def request_hash(payload: Any) -> str:
    """Return a stable fingerprint of a request body."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def problem_body(exc: DomainError, *, instance: str) -> dict[str, Any]:
    """Return the problem document of a refusal, as sync_server.errors would render it."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.type,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "instance": instance,
    }
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    return body


# Built once per engine (every order runs one): take the key unless it is taken. Plain
# statements on the table, run on the session's connection: nothing of the ORM's execution
# (no entity, nothing pending to flush at these two points) is needed for them.
_RECORDS = IdempotencyRecord.__table__
_CLAIM_SQLITE = (
    sqlite_insert(_RECORDS)
    .values(
        tenant_id=bindparam("tenant_id"),
        key=bindparam("key"),
        request_hash=bindparam("request_hash"),
        status_code=bindparam("status_code"),
        created_at=bindparam("created_at"),
    )
    .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
    .returning(_RECORDS.c.id)
)
# What PostgreSQL's claim adds to its plain INSERT (the Core statement's own clauses).
_CLAIM_THEN = " ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id"


def claim(
    session: Session, *, tenant_id: int, key: str, fingerprint: str
) -> tuple[int, Outcome | None]:
    """Take the key for this request, or return the answer already given under it.

    INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a concurrent request with the same key
    waits on the unique index until the first one commits, then reads its stored answer.
    """
    row = {
        "tenant_id": tenant_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": 0,
        "created_at": utcnow(),
    }
    if is_sqlite(session.get_bind()):
        taken = session.connection().scalar(_CLAIM_SQLITE, row)
    else:  # the same statement as plain SQL, its text made once (db.insert_row_plainly)
        taken = insert_row_plainly(session, _RECORDS, row, then=_CLAIM_THEN).scalar()
    if taken is not None:
        return taken, None
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
        )
    )
    assert record is not None  # the conflicting row is committed, so it is visible
    if record.request_hash != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new order."
        )
    return record.id, Outcome(status=record.status_code, body=record.response or {}, replayed=True)


def settle(
    session: Session, *, record_id: int, outcome: Outcome, tenant_id: int | None = None
) -> None:
    """Store the answer given under a key (its JSON text as made once: outcome.text).

    Given the key's tenant, inside a buffered_appends block on PostgreSQL, the record's
    update goes out with the block's rows, in their one statement (db.update_with_appends).
    """
    if tenant_id is not None and in_appends_block(session) and not is_sqlite(session.get_bind()):
        update_with_appends(
            session,
            _RECORDS,
            ("id", "tenant_id", "status_code", "response"),
            [[record_id, tenant_id, outcome.status, outcome.text.decode()]],
            as_given=frozenset({"response"}),
        )
        return
    stmt = _SETTLE_SQLITE if is_sqlite(session.get_bind()) else _SETTLE_PG
    session.connection().execute(
        stmt,
        {"record_id": record_id, "answer_status": outcome.status, "answer": outcome.text.decode()},
    )


# The answer goes in as the JSON text already made (the column's own type would serialise
# the body again): cast to json on PostgreSQL; SQLite keeps JSON as text, as given.
_ANSWER = bindparam("answer", type_=Text)
_SETTLE_SQLITE, _SETTLE_PG = (
    update(_RECORDS)
    .where(_RECORDS.c.id == bindparam("record_id"))
    .values(status_code=bindparam("answer_status"), response=answer)
    for answer in (_ANSWER, cast(_ANSWER, JSON))
)
