"""Write, seal and verify the hash-chained audit log.

On PostgreSQL record() appends an entry with its content only (seq, prev_hash and hash
None) and takes no tenant-wide lock. seal_audit() then chains committed entries in id
order under the audit head's lock; the background keeper runs it about twice a second,
and GET /audit and every verify run it first (verify counts what is left as pending). The
trade-off: an entry is tamper-evident from the moment it is sealed (normally within a
second of its commit), not from its commit. SQLite has one writer at a time, so there
record() chains the entry at once, as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.canonical import json_default, jsonable
from sync_server.db import is_sqlite, utcnow
from sync_server.tenant_lock import lock_head

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


def _link(entry: AuditEntry, head: AuditHead) -> None:
    """Chain an entry after the head and move the head to it."""
    entry.seq = head.last_seq + 1
    entry.prev_hash = head.last_hash
    entry.hash = entry_hash(entry)
    head.last_seq = entry.seq
    head.last_hash = entry.hash


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
    """Append one entry in the caller's transaction; on PostgreSQL it is sealed after commit."""
    # Microseconds only: both engines store them exactly, so the hash re-computes.
    at = utcnow().replace(microsecond=utcnow().microsecond)
    entry = AuditEntry(
        tenant_id=actor.tenant_id,
        seq=None,
        at=at,
        actor_id=actor.user_id,
        actor=actor.label,
        device_id=actor.device_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=jsonable(before),
        after=jsonable(after),
        prev_hash=None,
        hash=None,
    )
    if is_sqlite(session.get_bind()):
        _link(entry, lock_head(session, AuditHead, tenant_id=actor.tenant_id))
    session.add(entry)
    return entry


def unsealed(session: Session, *, tenant_id: int) -> int:
    """Return how many committed entries of the tenant wait to be chained."""
    return session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_(None))
    )


def seal_audit(session: Session, *, tenant_id: int, batch: int = 1000, wait: bool = True) -> int:
    """Chain the tenant's committed unsealed entries in id order; return how many.

    The head stays locked to the caller's commit. wait=False gives up (0) when another
    transaction is sealing now.
    """
    head = lock_head(session, AuditHead, tenant_id=tenant_id, wait=wait)
    if head is None:
        return 0
    done = 0
    while True:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_(None))
            .order_by(AuditEntry.id)
            .limit(batch)
        ).all()
        for entry in entries:
            _link(entry, head)
        session.flush()
        done += len(entries)
        if len(entries) < batch:
            return done


def seal_now(session: Session, *, tenant_id: int) -> int:
    """Seal waiting entries in the caller's transaction before it reads (never queueing)."""
    waiting = session.scalar(
        select(exists().where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_(None)))
    )
    if is_sqlite(session.get_bind()) or not waiting:
        return 0
    return seal_audit(session, tenant_id=tenant_id, wait=False)


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant_id: int
    entries: int
    ok: bool
    broken_at_seq: int | None = None
    reason: str = ""
    # Entries committed after the sealing that ran first: not chained yet, not broken.
    pending: int = 0


def verify(session: Session, *, tenant_id: int, batch: int = 5000) -> ChainReport:
    """Seal what waits, then walk the chain and report the first edited, removed or forged entry."""
    seal_now(session, tenant_id=tenant_id)
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
    head = session.scalar(
        select(AuditHead)
        .where(AuditHead.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    if head is not None and (head.last_seq != count or head.last_hash != prev_hash):
        return ChainReport(tenant_id, count, False, count + 1, "latest entries were removed")
    del last_id
    return ChainReport(tenant_id, count, True, pending=unsealed(session, tenant_id=tenant_id))
