"""Write and verify the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.canonical import json_default, jsonable
from sync_server.db import lock_for_update, utcnow
from sync_server.tenant_lock import create_heads, lock_tenant

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a user, a device, an API key, or the system itself."""

    tenant_id: int
    user_id: int | None = None
    label: str = "system"
    device_id: str | None = None


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "tenant_id": entry.tenant_id,
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "device_id": entry.device_id,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=json_default).encode()


def entry_hash(entry: AuditEntry) -> str:
    """Return the SHA-256 of an entry's canonical form (which includes the previous hash)."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _head(session: Session, tenant_id: int) -> AuditHead:
    # Feed head first, audit head second: the server's one lock order (tenant_lock.py).
    lock_tenant(session, tenant_id=tenant_id)
    stmt = lock_for_update(select(AuditHead).where(AuditHead.tenant_id == tenant_id), session)
    head = session.scalar(stmt)
    if head is None:
        create_heads(session, tenant_id=tenant_id)
        head = session.scalar(stmt)
    return head


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry to the tenant's chain, in the caller's transaction."""
    head = _head(session, actor.tenant_id)
    # Microseconds only: both engines store them exactly, so the hash re-computes.
    at = utcnow().replace(microsecond=utcnow().microsecond)
    entry = AuditEntry(
        tenant_id=actor.tenant_id,
        seq=head.last_seq + 1,
        at=at,
        actor_id=actor.user_id,
        actor=actor.label,
        device_id=actor.device_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=jsonable(before),
        after=jsonable(after),
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry)
    head.last_seq = entry.seq
    head.last_hash = entry.hash
    session.add(entry)
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant_id: int
    entries: int
    ok: bool
    broken_at_seq: int | None = None
    reason: str = ""


def verify(session: Session, *, tenant_id: int, batch: int = 5000) -> ChainReport:
    """Walk a tenant's chain and report the first entry that was edited, removed or forged."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq >= expected_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return ChainReport(tenant_id, count, False, expected_seq, "entry missing")
            if entry.prev_hash != prev_hash:
                return ChainReport(tenant_id, count, False, entry.seq, "link to previous broken")
            if entry_hash(entry) != entry.hash:
                return ChainReport(tenant_id, count, False, entry.seq, "entry was altered")
            prev_hash = entry.hash
            expected_seq += 1
            count += 1
            last_id = entry.id
        session.expunge_all()
    head = session.scalar(select(AuditHead).where(AuditHead.tenant_id == tenant_id))
    if head is not None and (head.last_seq != count or head.last_hash != prev_hash):
        return ChainReport(tenant_id, count, False, count + 1, "latest entries were removed")
    del last_id
    return ChainReport(tenant_id, count, True)
