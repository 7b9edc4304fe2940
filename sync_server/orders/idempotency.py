"""Remember the answer to each Idempotency-Key so a retried request gets the same one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.errors import DomainError, ValidationFailed
from sync_server.orders.models import IdempotencyRecord

PROBLEM_BASE = "https://stockpilot.dev/problems/"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to an idempotent request: HTTP status, JSON body, and whether it is a replay."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


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


def claim(
    session: Session, *, tenant_id: int, key: str, fingerprint: str
) -> tuple[IdempotencyRecord, Outcome | None]:
    """Take the key for this request, or return the answer already given under it.

    The insert runs in a savepoint: on PostgreSQL a concurrent request with the same key waits
    on the unique index until the first one commits, then reads its stored answer.
    """
    record = _find(session, tenant_id=tenant_id, key=key)
    if record is None:
        try:
            with session.begin_nested():
                record = IdempotencyRecord(
                    tenant_id=tenant_id, key=key, request_hash=fingerprint, status_code=0
                )
                session.add(record)
                session.flush()
            return record, None
        except IntegrityError:
            record = _find(session, tenant_id=tenant_id, key=key)
            if record is None:  # pragma: no cover - the winner rolled back in between
                raise
    if record.request_hash != fingerprint:
        raise ValidationFailed(
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new order."
        )
    return record, Outcome(status=record.status_code, body=record.response or {}, replayed=True)


def _find(session: Session, *, tenant_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
        )
    )


def settle(record: IdempotencyRecord, outcome: Outcome) -> None:
    """Store the answer given under a key."""
    record.status_code = outcome.status
    record.response = outcome.body
