"""Signed checkpoints of a chain head, kept off the box to prove nothing before them changed.

A checkpoint is one line of text: the tenant, a position in its chain, the start of the
entry's hash there, the time, the key id and an HMAC over all of it with the entry's full
hash. Printed on a Z report, written to a file or e-mailed, it later proves that the chain
still holds that entry unchanged, so nothing up to it was removed or rewritten, even by
someone who reset the database to an older, internally consistent state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidState, ValidationFailed
from sync_server.audit.keys import Keyring, keyring_for
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.audit.service import ChainReport, seal_now, verify

PREFIX = "STOCKPILOT-AUDIT-CHECKPOINT"
HEAD_CHARS = 32
SIG_CHARS = 32
_PATTERN = re.compile(
    rf"{PREFIX} tenant=(?P<tenant>\d{{1,18}}) seq=(?P<seq>\d{{1,18}}) "
    rf"head=(?P<head>[0-9a-f]{{{HEAD_CHARS}}}) at=(?P<at>\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ) "
    rf"key=(?P<key>[0-9a-f]{{1,16}}) sig=(?P<sig>[0-9a-f]{{{SIG_CHARS}}})"
)


class CheckpointInvalid(ValidationFailed):
    """The text is not a checkpoint, or not one this server's keys signed."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    tenant_id: int
    seq: int
    head: str  # the first HEAD_CHARS of the entry's hash
    at: str  # UTC, "2026-12-04T03:00:00Z"
    key_id: str
    sig: str

    @property
    def text(self) -> str:
        """Return the one-line form that is printed, filed and mailed."""
        return (
            f"{PREFIX} tenant={self.tenant_id} seq={self.seq} head={self.head} "
            f"at={self.at} key={self.key_id} sig={self.sig}"
        )


def _message(*, tenant_id: int, seq: int, full_hash: str, at: str) -> bytes:
    return f"checkpoint|{tenant_id}|{seq}|{full_hash}|{at}".encode()


def _sign(keyring: Keyring, *, tenant_id: int, seq: int, full_hash: str, at: str) -> str:
    return keyring.mac(_message(tenant_id=tenant_id, seq=seq, full_hash=full_hash, at=at))[
        :SIG_CHARS
    ]


def parse(text: str) -> list[Checkpoint]:
    """Return every checkpoint in a text (a file may hold many); refuse a text with none."""
    found = [
        Checkpoint(
            tenant_id=int(m["tenant"]),
            seq=int(m["seq"]),
            head=m["head"],
            at=m["at"],
            key_id=m["key"],
            sig=m["sig"],
        )
        for m in _PATTERN.finditer(text)
    ]
    if not found:
        raise CheckpointInvalid(
            f"No audit checkpoint found: expected a line starting '{PREFIX} tenant=…' "
            "as printed on a Z report or written by the server."
        )
    return found


def make_checkpoint(session: Session, *, tenant_id: int, now: datetime) -> Checkpoint | None:
    """Sign the tenant's chain head as it is now (None while the chain is empty)."""
    seal_now(session, tenant_id=tenant_id)
    head = session.scalar(select(AuditHead).where(AuditHead.tenant_id == tenant_id))
    if head is None or head.last_seq == 0:
        return None
    report = verify(session, tenant_id=tenant_id)
    if not report.ok:
        # Signing a broken chain would vouch for the tampering.
        raise InvalidState(
            f"The audit chain is broken, so no checkpoint was signed: {report.reason}"
        )
    keyring = keyring_for(session)
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    seq, full_hash = report.entries, _hash_at(session, tenant_id=tenant_id, seq=report.entries)
    if full_hash is None:
        # verify() has just walked this entry: only a row deleted since then gets here.
        raise InvalidState(f"Audit entry {seq} vanished while its checkpoint was being signed.")
    return Checkpoint(
        tenant_id=tenant_id,
        seq=seq,
        head=full_hash[:HEAD_CHARS],
        at=at,
        key_id=keyring.current_id,
        sig=_sign(keyring, tenant_id=tenant_id, seq=seq, full_hash=full_hash, at=at),
    )


def _hash_at(session: Session, *, tenant_id: int, seq: int) -> str | None:
    """Return the hash of the chain's entry at seq (None: there is no such entry)."""
    found: str | None = session.scalar(
        select(AuditEntry.hash).where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq == seq)
    )
    return found


def verify_against(
    session: Session, *, checkpoint: Checkpoint, report: ChainReport | None = None
) -> ChainReport:
    """Verify the chain, then that it still holds the checkpointed entry unchanged."""
    report = report or verify(session, tenant_id=checkpoint.tenant_id)
    keyring = keyring_for(session)
    if not keyring.knows(checkpoint.key_id):
        raise CheckpointInvalid(
            f"The checkpoint is signed with key {checkpoint.key_id}, which this server does not "
            "have (another server's checkpoint, or a retired key missing from the keyring)."
        )
    where = f"the checkpoint of {checkpoint.at} (entry {checkpoint.seq})"
    full_hash = _hash_at(session, tenant_id=checkpoint.tenant_id, seq=checkpoint.seq)
    last = session.scalar(
        select(AuditHead.last_seq).where(AuditHead.tenant_id == checkpoint.tenant_id)
    )
    problem = None
    if full_hash is None:
        problem = (
            f"entries up to {checkpoint.seq} were removed since {where}; "
            f"the chain now ends at {last or 0} (truncated)"
        )
    elif full_hash[:HEAD_CHARS] != checkpoint.head:
        problem = f"the history up to entry {checkpoint.seq} was rewritten since {where}"
    else:
        expected = keyring.mac(
            _message(
                tenant_id=checkpoint.tenant_id,
                seq=checkpoint.seq,
                full_hash=full_hash,
                at=checkpoint.at,
            ),
            kid=checkpoint.key_id,
        )[:SIG_CHARS]
        if expected != checkpoint.sig:
            raise CheckpointInvalid(
                f"The checkpoint for entry {checkpoint.seq} does not carry this server's "
                "signature: it was altered or made elsewhere."
            )
    if problem is None:
        return report
    problems = (problem, *report.problems)
    return ChainReport(
        report.tenant_id,
        report.entries,
        False,
        checkpoint.seq,
        problem,
        report.pending,
        problems,
    )
