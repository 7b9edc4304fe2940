"""Write, seal and verify the keyed, hash-chained audit log.

Each entry is linked to the one before it by an HMAC-SHA256 under the audit key, which
lives outside the database (audit/keys.py): someone who can edit the database and has
read this code still cannot recompute the chain. record() signs what it writes (a random
nonce and a record MAC), and the sealer chains only entries whose record MAC holds, so a
row slipped in with seq NULL is never adopted. The head carries a MAC too, so resetting,
rewinding or moving it outside the server shows.

On PostgreSQL record() appends an entry with its content only (seq, prev_hash and hash
None) and takes no tenant-wide lock. seal_audit() then chains committed entries in id
order under the audit head's lock; the background keeper runs it about twice a second,
and GET /audit and every verify run it first (verify counts what is left as pending). An
entry is chain-protected from its seal (normally within a second of its commit) and
MAC-protected from its commit. SQLite has one writer at a time, so there record() chains
the entry at once.

Entries chained before the database had a key (an upgraded database) keep their plain
SHA-256 links up to the head's keyed_from_seq; everything from there on is keyed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from sync_server.audit.keys import Keyring, head_message, keyring_for
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.canonical import json_default, jsonable
from sync_server.db import append_row, is_sqlite, update_rows, utcnow
from sync_server.foundation.principal import Actor
from sync_server.foundation.tenant_lock import insert_head, lock_head

__all__ = ["ChainReport", "create_head", "jsonable", "record", "seal_audit", "verify"]

log = logging.getLogger("stockpilot.audit")

GENESIS = "0" * 64
_REPORTED_HEADS: set[str | None] = set()


def create_head(session: Session, *, tenant_id: int) -> None:
    """Make the tenant's chain head exist, signed from birth (so a head reset to empty is caught).

    tenant_lock.create_heads calls it (registered in receivers.py) with the feed's head.
    """
    insert_head(
        session,
        AuditHead,
        tenant_id=tenant_id,
        values={"last_seq": 0, "last_hash": GENESIS, "keyed_from_seq": 1},
    )
    keyring = keyring_for(session)
    empty = head_message(
        tenant_id=tenant_id, last_seq=0, last_hash=GENESIS, keyed_from_seq=1, legacy_max_id=0
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


def _content(entry: AuditEntry) -> dict[str, Any]:
    # An aware UTC time from either engine; naive would mean local time to astimezone().
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    return {
        "tenant_id": entry.tenant_id,
        "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "device_id": entry.device_id,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
    }


# json.dumps with these options makes this encoder on every call: made once, the same bytes.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=json_default).encode


def _dump(body: dict[str, Any]) -> bytes:
    return _ENCODE(body).encode()


def legacy_hash(entry: AuditEntry) -> str:
    """Return the plain SHA-256 link of an entry chained before the audit key existed."""
    body = {**_content(entry), "seq": entry.seq, "prev_hash": entry.prev_hash}
    return hashlib.sha256(_dump(body)).hexdigest()


def _record_message(entry: AuditEntry) -> bytes:
    return b"record|" + _dump({**_content(entry), "nonce": entry.nonce, "key_id": entry.key_id})


def _chain_message(entry: AuditEntry) -> bytes:
    body = {
        **_content(entry),
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "nonce": entry.nonce,
        "key_id": entry.key_id,
        "record_mac": entry.record_mac,
    }
    return b"entry|" + _dump(body)


_LAST_KEY = b',"tenant_id":'


def _chain_message_from(record_message: bytes, entry: AuditEntry) -> bytes:
    """Return _chain_message(entry), byte for byte, from its record message.

    Both are the entry's sorted JSON; the chain's prev_hash, record_mac and seq sort between
    nonce and tenant_id (the last key, an integer), so they are spliced in before it rather
    than the whole content encoded again (tests/server/test_audit_messages.py).
    """
    return _chain_message_from_links(
        record_message, prev_hash=entry.prev_hash, record_mac=entry.record_mac, seq=entry.seq
    )


def _chain_message_from_links(
    record_message: bytes, *, prev_hash: str | None, record_mac: str | None, seq: int | None
) -> bytes:
    """_chain_message_from() given the links themselves (the sealer's rows are not entries)."""
    body = record_message.removeprefix(b"record|")
    cut = body.rindex(_LAST_KEY)
    links = _dump({"prev_hash": prev_hash, "record_mac": record_mac, "seq": seq})
    return b"entry|" + body[:cut] + b"," + links[1:-1] + body[cut:]


def entry_hash(entry: AuditEntry, *, keyring: Keyring) -> str:
    """Return the link an entry must carry: its HMAC (keyed) or SHA-256 (before the key)."""
    if entry.key_id is None:
        return legacy_hash(entry)
    return keyring.mac(_chain_message(entry), kid=entry.key_id)


def _sign_record(entry: AuditEntry, keyring: Keyring) -> bytes:
    """Sign the entry's content; return the record message (its chain message reuses it)."""
    entry.nonce = secrets.token_hex(16)
    entry.key_id = keyring.current_id
    message = _record_message(entry)
    entry.record_mac = keyring.mac(message)
    return message


def _head_message(head: AuditHead) -> bytes:
    return head_message(
        tenant_id=head.tenant_id,
        last_seq=head.last_seq,
        last_hash=head.last_hash,
        keyed_from_seq=head.keyed_from_seq,
        legacy_max_id=head.legacy_max_id,
    )


def _sign_head(head: AuditHead, keyring: Keyring) -> None:
    head.key_id = keyring.current_id
    head.head_mac = keyring.mac(_head_message(head))


def _has_keyed_chain(session: Session, *, tenant_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    AuditEntry.tenant_id == tenant_id,
                    AuditEntry.key_id.is_not(None),
                    AuditEntry.seq.is_not(None),
                )
            )
        )
    )


def _head_trusted(session: Session, head: AuditHead, keyring: Keyring) -> bool:
    """Say whether the server may move this head: signed by it, or legacy and unkeyed."""
    if head.head_mac is None:
        # An upgraded database's head before its first keyed entry (the key signs it then).
        return head.key_id is None and not _has_keyed_chain(session, tenant_id=head.tenant_id)
    return keyring.check(_head_message(head), head.head_mac, kid=head.key_id)


def recorded_by_server(entry: AuditEntry, *, keyring: Keyring, head: AuditHead) -> bool:
    """Say whether record() wrote this entry (its record MAC holds, or it predates the key)."""
    if entry.key_id is None and entry.record_mac is None and entry.nonce is None:
        return entry.id is not None and entry.id <= head.legacy_max_id
    return keyring.check(_record_message(entry), entry.record_mac, kid=entry.key_id)


def _link(
    entry: AuditEntry,
    head: AuditHead,
    keyring: Keyring,
    *,
    record_message: bytes | None = None,
    sign_head: bool = True,
) -> None:
    """Chain an entry after the head and move (and re-sign, unless told not to) the head to it."""
    if entry.key_id is None:
        # Written before the key but sealed after it: the sealer vouches for it now.
        record_message = _sign_record(entry, keyring)
    entry.seq = head.last_seq + 1
    entry.prev_hash = head.last_hash
    if record_message is None:
        entry.hash = entry_hash(entry, keyring=keyring)
    else:
        entry.hash = keyring.mac(_chain_message_from(record_message, entry), kid=entry.key_id)
    head.last_seq = entry.seq
    head.last_hash = entry.hash
    if sign_head:
        _sign_head(head, keyring)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one signed entry in the caller's transaction (PostgreSQL seals it after commit)."""
    keyring = keyring_for(session)
    # Its columns, signed and (on SQLite) chained as the entry they become; the row itself
    # goes out with the unit of work's other appends (no ORM object in a push's batch).
    entry = SimpleNamespace(
        tenant_id=actor.tenant_id,
        seq=None,
        # One clock read; microseconds, which both engines store exactly, so the MAC re-computes.
        at=utcnow(),
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
    message = _sign_record(entry, keyring)  # type: ignore[arg-type]  # the columns, duck-typed
    if is_sqlite(session.get_bind()):
        head = lock_head(session, AuditHead, tenant_id=actor.tenant_id)
        # A head changed behind the server is never re-signed over: the entry waits unsealed
        # and verify reports the head, so the business keeps running meanwhile.
        if _head_trusted(session, head, keyring):
            _link(entry, head, keyring, record_message=message)  # type: ignore[arg-type]
        else:
            log.error("audit head of tenant %s fails its MAC; not chaining", actor.tenant_id)
    append_row(session, AuditEntry, vars(entry))


def unsealed(session: Session, *, tenant_id: int) -> int:
    """Return how many committed entries of the tenant wait to be chained."""
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_(None))
        )
        or 0
    )


def seal_audit(session: Session, *, tenant_id: int, batch: int = 1000, wait: bool = True) -> int:
    """Chain the tenant's committed unsealed entries that record() wrote, in id order.

    Returns how many were chained. The head stays locked to the caller's commit. wait=False
    gives up (0) when another transaction is sealing now. Rows the server did not write, and
    every row while the head fails its MAC, are left for verify to report.
    """
    head = lock_head(session, AuditHead, tenant_id=tenant_id, wait=wait)
    if head is None:
        return 0
    keyring = keyring_for(session)
    if not _head_trusted(session, head, keyring):
        # Said once per head state: the keeper comes back twice a second, and the watch
        # raises an audit_broken alert for people to act on.
        if head.head_mac not in _REPORTED_HEADS:
            _REPORTED_HEADS.add(head.head_mac)
            log.error("audit head of tenant %s fails its MAC; not sealing", tenant_id)
        return 0
    done = 0
    after_id = 0
    while True:
        # Plain rows, not ORM objects: the sealer reads each entry once and writes back
        # only its links (one executemany), so the unit of work would be pure overhead.
        rows = session.execute(
            _UNSEALED, {"tenant_id": tenant_id, "after_id": after_id, "batch": batch}
        ).all()
        links = []
        for row in rows:
            after_id = row.id
            message = _server_record_message(row, keyring=keyring, head=head)
            if message is None:
                log.error("audit entry id %s was not written by the server; not sealing", row.id)
                continue
            if not message:  # written before the key: signed as it is chained (rare)
                entry = SimpleNamespace(**row._mapping)
                _link(entry, head, keyring, sign_head=False)  # type: ignore[arg-type]
                links.append({name: getattr(entry, name) for name in _LINKS})
                continue
            # _link() for an entry record() signed, from the row as read: its content is
            # encoded once (checked and chained from the same message); the head is signed
            # once for the batch below (the MAC of where it ends).
            seq = head.last_seq + 1
            prev_hash = head.last_hash
            chained = _chain_message_from_links(
                message, prev_hash=prev_hash, record_mac=row.record_mac, seq=seq
            )
            link = keyring.mac(chained, kid=row.key_id)
            head.last_seq = seq
            head.last_hash = link
            links.append(
                {
                    "id": row.id,
                    "tenant_id": row.tenant_id,
                    "seq": seq,
                    "prev_hash": prev_hash,
                    "hash": link,
                    "key_id": row.key_id,
                    "nonce": row.nonce,
                    "record_mac": row.record_mac,
                }
            )
        if links:
            _sign_head(head, keyring)
            update_rows(session, _ENTRIES, _LINKS, links)
            _expire_loaded(session, ids={link["id"] for link in links})
            done += len(links)
        session.flush()
        if len(rows) < batch:
            return done


_ENTRIES = AuditEntry.__table__
# What sealing writes into an entry (nonce, key_id and record_mac change only for an entry
# written before the audit key, which the sealer signs as it chains it).
_LINKS = ("id", "tenant_id", "seq", "prev_hash", "hash", "key_id", "nonce", "record_mac")
_UNSEALED = (
    select(_ENTRIES)
    .where(
        _ENTRIES.c.tenant_id == bindparam("tenant_id"),
        _ENTRIES.c.seq.is_(None),
        _ENTRIES.c.id > bindparam("after_id"),
    )
    .order_by(_ENTRIES.c.id)
    .limit(bindparam("batch"))
)


def _server_record_message(entry: Any, *, keyring: Keyring, head: AuditHead) -> bytes | None:
    """Return the record message of an entry record() wrote (b"" for one before the key).

    None when the server did not write it: what recorded_by_server() says, with the
    message kept so that chaining the entry does not encode its content again.
    """
    if entry.key_id is None and entry.record_mac is None and entry.nonce is None:
        return b"" if entry.id is not None and entry.id <= head.legacy_max_id else None
    message = _record_message(entry)
    if keyring.check(message, entry.record_mac, kid=entry.key_id):
        return message
    return None


def _expire_loaded(session: Session, *, ids: set[int]) -> None:
    """Expire the sealed entries this session holds as objects, so they reload their links."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, AuditEntry) and obj.id in ids:
            session.expire(obj)


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
    # What was found and where ("entry 7 was edited ..."); "" when intact.
    reason: str = ""
    # Entries the server wrote after the sealing that ran first: not chained yet, not broken.
    pending: int = 0
    # Every problem found, the first one also in reason.
    problems: tuple[str, ...] = field(default=())


def _removed(first: int, last: int) -> str:
    return f"entry {first} was removed" if first == last else f"entries {first}-{last} were removed"


def _relinked(seq: int) -> str:
    return f"entry {seq - 1} was replaced or entries reordered (entry {seq} links elsewhere)"


def _check_entry(
    entry: AuditEntry, *, seq: int, prev_hash: str, keyed_from_seq: int, keyring: Keyring
) -> str | None:
    """Return what is wrong with the entry at this position (seq) of the chain, if anything."""
    if entry.key_id is None:
        if seq >= keyed_from_seq:
            return f"entry {seq} was inserted or rewritten: it carries no MAC of the audit key"
        if legacy_hash(entry) != entry.hash:
            return f"entry {seq} was edited (its content does not match its hash)"
        if entry.prev_hash != prev_hash:
            return _relinked(seq)
        return None
    if not keyring.knows(entry.key_id):
        return (
            f"entry {seq} was inserted: it is signed with key {entry.key_id}, "
            "which is not in the audit keyring"
        )
    if seq < keyed_from_seq:
        return f"entry {seq} was inserted into the history that predates the audit key"
    if not keyring.check(_record_message(entry), entry.record_mac, kid=entry.key_id):
        return f"entry {seq} was edited (its content does not match its MAC)"
    if entry_hash(entry, keyring=keyring) != entry.hash:
        return f"entry {seq} stands at a position it was not chained at (entries reordered)"
    if entry.prev_hash != prev_hash:
        return _relinked(seq)
    return None


def verify(session: Session, *, tenant_id: int, batch: int = 5000) -> ChainReport:
    """Seal what waits, then check every entry, the head and the rows outside the chain."""
    seal_now(session, tenant_id=tenant_id)
    keyring = keyring_for(session)
    head = session.scalar(
        select(AuditHead)
        .where(AuditHead.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
    problems: list[tuple[int | None, str]] = []
    if head is None:
        return ChainReport(tenant_id, 0, False, None, "the chain head was deleted", 0)
    head_ok = _head_trusted(session, head, keyring)
    # Session-independent copies: the walk expunges what it has read.
    legacy_max_id, keyed_from_seq = head.legacy_max_id, head.keyed_from_seq
    last_seq, last_hash = head.last_seq, head.last_hash
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
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
            seq = entry.seq
            assert seq is not None  # the query selects seq >= expected_seq
            if seq != expected_seq:
                problems.append((expected_seq, _removed(expected_seq, seq - 1)))
                expected_seq = seq
            problem = _check_entry(
                entry,
                seq=seq,
                prev_hash=prev_hash,
                keyed_from_seq=keyed_from_seq,
                keyring=keyring,
            )
            if problem:
                problems.append((seq, problem))
            prev_hash = entry.hash or ""
            expected_seq += 1
            count += 1
        session.expunge_all()
    if not head_ok:
        problems.append(
            (
                last_seq,
                f"the chain head was reset, rewound or moved outside the server "
                f"(it says {last_seq} entries)",
            )
        )
    last_in_chain = expected_seq - 1
    if last_in_chain > last_seq:
        problems.append(
            (
                last_seq + 1,
                f"entries {last_seq + 1}-{last_in_chain} were added after the chain head "
                f"(inserted; the head says {last_seq})",
            )
        )
    elif last_in_chain < last_seq:
        problems.append((last_in_chain + 1, _removed(last_in_chain + 1, last_seq) + " (newest)"))
    elif prev_hash != (last_hash if last_seq else GENESIS) and head_ok:
        problems.append((last_seq, f"entry {last_seq} does not match the chain head (rewritten)"))
    for entry_id, seq in session.execute(
        select(AuditEntry.id, AuditEntry.seq)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq < 1)
        .order_by(AuditEntry.id)
    ):
        problems.append((None, f"entry id {entry_id} was inserted at position {seq}"))
    pending = 0
    waiting = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_(None))
        .order_by(AuditEntry.id)
    ).all()
    # recorded_by_server() reads legacy_max_id only; a detached head would refuse it.
    probe = AuditHead(tenant_id=tenant_id, legacy_max_id=legacy_max_id)
    for entry in waiting:
        if recorded_by_server(entry, keyring=keyring, head=probe):
            pending += 1
        else:
            problems.append(
                (None, f"entry id {entry.id} waiting to be chained was not written by the server")
            )
    if problems:
        first_seq, reason = problems[0]
        return ChainReport(
            tenant_id, count, False, first_seq, reason, pending, tuple(p for _, p in problems)
        )
    return ChainReport(tenant_id, count, True, pending=pending)


def utc_text(moment: datetime) -> str:
    """Return a time as the checkpoint writes it (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
