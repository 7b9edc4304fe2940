"""Someone with database access tampers with the audit log: verify catches each kind.

Each test edits the tables the way an attacker with a SQL prompt and this source would
(but without the audit key), on SQLite and PostgreSQL, and checks what verify says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync_server.audit import checkpoints
from sync_server.audit import service as audit
from sync_server.audit.keys import Keyring
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.sync.keeper import keep_once

GENESIS = "0" * 64


def _record(stock, count: int, *, start: int = 0) -> None:
    for n in range(start, start + count):
        with stock.tx() as session:
            audit.record(
                session,
                actor=stock.actor,
                action="test.tamper",
                entity_type="thing",
                entity_id=n,
                after={"n": n},
            )


def _report(stock) -> audit.ChainReport:
    with stock.tx() as session:
        return audit.verify(session, tenant_id=stock.tenant_id)


def _sealed(stock, count: int = 5) -> int:
    """Record entries, seal them, and return the chain's length."""
    _record(stock, count)
    report = _report(stock)
    assert report.ok, report
    return report.entries


def _row(stock, seq: int) -> dict:
    with stock.engine.connect() as conn:
        row = conn.execute(
            select(AuditEntry.__table__).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq == seq
            )
        ).one()
    return dict(row._mapping)


def _head(stock) -> dict:
    with stock.engine.connect() as conn:
        row = conn.execute(
            select(AuditHead.__table__).where(AuditHead.tenant_id == stock.tenant_id)
        ).one()
    return dict(row._mapping)


def _set_head(stock, **values) -> None:
    with stock.engine.begin() as conn:
        conn.execute(
            update(AuditHead).where(AuditHead.tenant_id == stock.tenant_id).values(**values)
        )


def _forge(stock, **values) -> None:
    """Insert an entry the way an attacker would: straight into the table."""
    base = {
        "tenant_id": stock.tenant_id,
        "at": datetime.now(UTC),
        "actor": "manager",
        "action": "stock.receipt",
        "entity_type": "product",
        "entity_id": "1",
        "after": {"quantity": "500"},
    }
    with stock.engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(**{**base, **values}))


def test_a_clean_chain_verifies_and_the_sealer_keys_every_entry(stock):
    total = _sealed(stock, 4)
    report = _report(stock)
    assert (report.ok, report.reason, report.problems, report.pending) == (True, "", (), 0)
    assert _head(stock)["head_mac"] and _head(stock)["last_seq"] == total
    row = _row(stock, total)
    assert row["key_id"] and len(row["nonce"]) == 32 and len(row["record_mac"]) == 64
    # The link is an HMAC: the plain SHA-256 of the same content is not it.
    assert row["hash"] != audit.legacy_hash(AuditEntry(**row))


def test_an_edited_entry_is_named(stock):
    total = _sealed(stock)
    row = _row(stock, total - 2)
    with stock.engine.begin() as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.id == row["id"])
            .values(after={**row["after"], "n": 999})
        )
    report = _report(stock)
    assert not report.ok
    assert report.broken_at_seq == total - 2
    assert report.reason == f"entry {total - 2} was edited (its content does not match its MAC)"


def test_an_edit_with_the_chain_recomputed_without_the_key_is_caught(stock):
    """The attacker read the source: recomputes every MAC and the head with a guessed key."""
    total = _sealed(stock)
    guess = Keyring.from_keys(current="a guess at the key")
    target = total - 3
    prev = _row(stock, target - 1)["hash"]
    rows = [_row(stock, seq) for seq in range(target, total + 1)]
    with stock.engine.begin() as conn:
        for row in rows:
            seq = row["seq"]
            entry = AuditEntry(**row)
            if seq == target:
                entry.after = {**row["after"], "n": 999}
            entry.prev_hash = prev
            # Same key id as the real key, MACs from the guessed one.
            guess_as_real = Keyring(
                current_id=row["key_id"],
                secrets_by_id={row["key_id"]: guess.secrets_by_id[guess.current_id]},
            )
            entry.record_mac = guess_as_real.mac(audit._record_message(entry))
            entry.hash = audit.entry_hash(entry, keyring=guess_as_real)
            conn.execute(
                update(AuditEntry)
                .where(AuditEntry.id == row["id"])
                .values(
                    after=entry.after,
                    prev_hash=entry.prev_hash,
                    record_mac=entry.record_mac,
                    hash=entry.hash,
                )
            )
            prev = entry.hash
    _set_head(stock, last_hash=prev)
    report = _report(stock)
    assert not report.ok
    assert report.reason == f"entry {target} was edited (its content does not match its MAC)"
    assert any("chain head was reset, rewound or moved" in p for p in report.problems)


def test_a_row_inserted_with_seq_null_is_reported_and_never_chained(stock, backend):
    total = _sealed(stock)
    _forge(stock, seq=None)
    # Even with a record MAC copied from a genuine entry, the content does not match it.
    genuine = _row(stock, 2)
    _forge(stock, seq=None, key_id=genuine["key_id"], nonce="ab" * 16, record_mac="cd" * 32)
    keep_once(stock.factory)  # the PostgreSQL sealer's round
    report = _report(stock)
    assert not report.ok
    assert report.entries == total
    assert len(report.problems) == 2
    assert all("waiting to be chained was not written by the server" in p for p in report.problems)
    with stock.tx() as session:
        assert audit.seal_audit(session, tenant_id=stock.tenant_id) == 0
        assert audit.unsealed(session, tenant_id=stock.tenant_id) == 2
    # A genuine entry recorded after the forgeries is still chained right after the chain.
    _record(stock, 1, start=100)
    report = _report(stock)
    assert report.entries == total + 1 and not report.ok
    assert len(report.problems) == 2


def test_a_copy_of_a_recorded_entry_cannot_be_slipped_in(stock):
    _sealed(stock, 2)
    row = _row(stock, 2)
    copy = {k: v for k, v in row.items() if k != "id"}
    with pytest.raises(IntegrityError), stock.engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(**{**copy, "seq": None, "hash": None}))


@pytest.mark.parametrize("seq", [0, -3])
def test_rows_at_position_zero_or_below_are_reported(stock, seq):
    _sealed(stock, 2)
    _forge(stock, seq=seq, prev_hash=GENESIS, hash="f" * 64)
    report = _report(stock)
    assert not report.ok
    assert report.reason.endswith(f"was inserted at position {seq}")


def test_deleting_everything_and_resetting_the_head_is_caught(stock):
    _sealed(stock)
    with stock.engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.tenant_id == stock.tenant_id))
    _set_head(stock, last_seq=0, last_hash=GENESIS)
    report = _report(stock)
    assert not report.ok
    assert report.entries == 0
    assert report.reason == (
        "the chain head was reset, rewound or moved outside the server (it says 0 entries)"
    )


def test_deleting_the_head_row_is_caught(stock):
    _sealed(stock, 2)
    with stock.engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.tenant_id == stock.tenant_id))
        conn.execute(delete(AuditHead).where(AuditHead.tenant_id == stock.tenant_id))
    with stock.tx() as session:
        report = audit.verify(session, tenant_id=stock.tenant_id)
    assert (report.ok, report.reason) == (False, "the chain head was deleted")


def test_tail_deletion_with_the_head_rewound_is_caught(stock):
    total = _sealed(stock)
    keep = total - 2
    with stock.engine.begin() as conn:
        conn.execute(
            delete(AuditEntry).where(AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq > keep)
        )
    _set_head(stock, last_seq=keep, last_hash=_row(stock, keep)["hash"])
    report = _report(stock)
    assert not report.ok
    assert f"(it says {keep} entries)" in report.reason


def test_tail_deletion_without_touching_the_head_names_the_removed_entries(stock):
    total = _sealed(stock)
    with stock.engine.begin() as conn:
        conn.execute(
            delete(AuditEntry).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq > total - 2
            )
        )
    report = _report(stock)
    assert report.reason == f"entries {total - 1}-{total} were removed (newest)"


def test_a_forged_tail_entry_with_the_head_moved_is_caught(stock):
    total = _sealed(stock)
    last = _row(stock, total)
    forged = AuditEntry(**{**last, "id": None, "seq": total + 1, "prev_hash": last["hash"]})
    forged.key_id = forged.nonce = forged.record_mac = None
    forged.hash = audit.legacy_hash(forged)
    _forge(
        stock,
        seq=total + 1,
        at=last["at"],
        prev_hash=last["hash"],
        hash=forged.hash,
        entity_id=last["entity_id"],
        action=last["action"],
        entity_type=last["entity_type"],
        actor=last["actor"],
        after=last["after"],
    )
    _set_head(stock, last_seq=total + 1, last_hash=forged.hash)
    report = _report(stock)
    assert not report.ok
    assert report.broken_at_seq == total + 1
    assert report.reason == (
        f"entry {total + 1} was inserted or rewritten: it carries no MAC of the audit key"
    )
    assert report.problems[-1].startswith("the chain head was reset, rewound or moved")


def test_a_deleted_middle_entry_is_named(stock):
    total = _sealed(stock)
    gone = _row(stock, total - 2)["id"]
    with stock.engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.id == gone))
    report = _report(stock)
    assert report.reason == f"entry {total - 2} was removed"
    assert report.broken_at_seq == total - 2


def test_reordered_entries_are_named(stock):
    total = _sealed(stock)
    a, b = _row(stock, total - 2), _row(stock, total - 1)
    with stock.engine.begin() as conn:
        # Swap the two positions (through a free one: (tenant, seq) is unique).
        conn.execute(update(AuditEntry).where(AuditEntry.id == a["id"]).values(seq=10_000))
        conn.execute(update(AuditEntry).where(AuditEntry.id == b["id"]).values(seq=a["seq"]))
        conn.execute(update(AuditEntry).where(AuditEntry.id == a["id"]).values(seq=b["seq"]))
    report = _report(stock)
    assert not report.ok
    assert report.reason == (
        f"entry {total - 2} stands at a position it was not chained at (entries reordered)"
    )


def test_counts_agree_with_head_and_pending_on_a_clean_database(stock, backend):
    _record(stock, 3)
    with stock.tx() as session:
        waiting = audit.unsealed(session, tenant_id=stock.tenant_id)
        rows = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == stock.tenant_id)
        )
    # PostgreSQL: the 3 and the fixture's own entries wait for the sealer; SQLite chains at once.
    assert waiting >= 3 if backend == "postgresql" else waiting == 0
    report = _report(stock)
    assert report.ok and report.entries == rows


# --- checkpoints: the off-box proof ----------------------------------------------------------


def _checkpoint(stock) -> checkpoints.Checkpoint:
    with stock.tx() as session:
        point = checkpoints.make_checkpoint(
            session, tenant_id=stock.tenant_id, now=datetime.now(UTC)
        )
    assert point is not None
    return point


def _against(stock, text: str) -> audit.ChainReport:
    (point,) = checkpoints.parse(text)
    with stock.tx() as session:
        return checkpoints.verify_against(session, checkpoint=point)


def _restore_backup(stock, *, keep: int, head: dict) -> None:
    """Put the database back to an older, internally consistent state (a restored backup)."""
    with stock.engine.begin() as conn:
        conn.execute(
            delete(AuditEntry).where(AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq > keep)
        )
    _set_head(stock, **{k: head[k] for k in ("last_seq", "last_hash", "key_id", "head_mac")})


def test_a_checkpoint_holds_on_a_clean_chain_and_round_trips_as_text(stock):
    _sealed(stock)
    point = _checkpoint(stock)
    assert checkpoints.parse(f"Z report\nAudit: {point.text}\n") == [point]
    report = _against(stock, point.text)
    assert report.ok, report
    _record(stock, 2, start=50)
    assert _against(stock, point.text).ok


def test_truncation_to_an_older_backup_is_caught_only_by_the_checkpoint(stock):
    kept = _sealed(stock, 3)
    backup_head = _head(stock)
    _record(stock, 3, start=10)
    point = _checkpoint(stock)
    _restore_backup(stock, keep=kept, head=backup_head)
    assert _report(stock).ok  # internally consistent: only the off-box checkpoint knows
    report = _against(stock, point.text)
    assert not report.ok
    assert report.reason == (
        f"entries up to {point.seq} were removed since the checkpoint of {point.at} "
        f"(entry {point.seq}); the chain now ends at {kept} (truncated)"
    )


def test_a_rewritten_history_is_caught_by_the_checkpoint(stock):
    kept = _sealed(stock, 3)
    backup_head = _head(stock)
    _record(stock, 3, start=10)
    point = _checkpoint(stock)
    _restore_backup(stock, keep=kept, head=backup_head)
    _record(stock, 5, start=20)  # the server carries on over the restored backup
    assert _report(stock).ok
    report = _against(stock, point.text)
    assert not report.ok
    assert report.reason == (
        f"the history up to entry {point.seq} was rewritten since the checkpoint of "
        f"{point.at} (entry {point.seq})"
    )


def test_a_forged_or_garbled_checkpoint_is_refused(stock):
    _sealed(stock)
    point = _checkpoint(stock)
    forged = point.text.replace(f"sig={point.sig}", "sig=" + "0" * 32)
    with pytest.raises(checkpoints.CheckpointInvalid, match="does not carry this server"):
        _against(stock, forged)
    with pytest.raises(checkpoints.CheckpointInvalid, match="No audit checkpoint found"):
        checkpoints.parse("STOCKPILOT-AUDIT-CHECKPOINT tenant=x")
    other_key = point.text.replace(f"key={point.key_id}", "key=abcdef123456")
    with pytest.raises(checkpoints.CheckpointInvalid, match="which this server does not have"):
        _against(stock, other_key)


def test_no_checkpoint_is_signed_over_a_broken_chain(stock):
    total = _sealed(stock)
    gone = _row(stock, total - 1)["id"]
    with stock.engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.id == gone))
    from common.errors import InvalidState

    with pytest.raises(InvalidState, match="no checkpoint was signed"):
        _checkpoint(stock)


def test_the_api_verifies_against_a_checkpoint_and_refuses_garbage(shop):
    api = shop.api("admin")
    _record(shop, 3)
    made = api.post("audit/checkpoint")
    assert made.status_code == 200, made.text
    text = made.json()["text"]
    good = api.get("audit/verify", params={"checkpoint": text})
    assert good.status_code == 200 and good.json()["ok"] is True, good.text
    bad = api.get("audit/verify", params={"checkpoint": "not a checkpoint"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "No audit checkpoint found" in bad.json()["detail"]
    other = text.replace(f"tenant={shop.tenant_id} ", f"tenant={shop.other_tenant_id} ")
    assert api.get("audit/verify", params={"checkpoint": other}).status_code == 422
    cashier = shop.api("cashier")
    assert cashier.get("audit/verify").status_code == 403
