"""The audit chain is sealed after commit: concurrent writers still give one verified chain."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import func, select, update

from sync_server.audit import service as audit
from sync_server.audit.keys import keyring_for
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.foundation import feed
from sync_server.foundation.models import Change
from sync_server.sync.keeper import keep_once


def _record(stock, n: int, *, hold: float = 0.0) -> None:
    with stock.tx() as session:
        audit.record(
            session,
            actor=stock.actor,
            action="test.sealed",
            entity_type="thing",
            entity_id=n,
            after={"n": n},
        )
        session.flush()
        if hold:
            time.sleep(hold)


def _verify(stock) -> audit.ChainReport:
    with stock.tx() as session:
        return audit.verify(session, tenant_id=stock.tenant_id)


def test_concurrent_writers_end_in_one_gapless_chain_that_verifies(stock, backend):
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(15):
                _record(stock, w * 100 + i, hold=random.uniform(0, 0.004))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with stock.tx() as session:
        waiting = audit.unsealed(session, tenant_id=stock.tenant_id)
        total = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == stock.tenant_id)
        )
    # On PostgreSQL writers took no head lock, so their entries wait for the sealer.
    assert waiting == (total if backend == "postgresql" else 0)
    assert total >= 60
    report = _verify(stock)
    assert report.ok, report
    assert report.entries == total
    assert report.pending == 0
    with stock.tx() as session:
        seqs = session.scalars(
            select(AuditEntry.seq)
            .where(AuditEntry.tenant_id == stock.tenant_id)
            .order_by(AuditEntry.seq)
        ).all()
        head = session.scalar(select(AuditHead).where(AuditHead.tenant_id == stock.tenant_id))
    assert seqs == list(range(1, total + 1))
    assert head.last_seq == total


def test_tampering_with_a_sealed_entry_is_detected(stock):
    for n in range(3):
        _record(stock, n)
    assert _verify(stock).ok
    with stock.tx() as session:
        seq, after = session.execute(
            select(AuditEntry.seq, AuditEntry.after).where(
                AuditEntry.tenant_id == stock.tenant_id,
                AuditEntry.action == "test.sealed",
                AuditEntry.entity_id == "1",
            )
        ).one()
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq == seq)
            .values(after={**after, "n": 99})
        )
    report = _verify(stock)
    assert not report.ok
    assert report.broken_at_seq == seq
    assert report.reason == f"entry {seq} was edited (its content does not match its MAC)"


def test_an_entry_is_chained_once_sealed_and_reads_seal_first(stock, backend):
    keep_once(stock.factory)  # every tenant's earlier entries
    _record(stock, 7)
    with stock.tx() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.action == "test.sealed"
            )
        ).one()
        if backend == "postgresql":
            assert (entry.seq, entry.prev_hash, entry.hash) == (None, None, None)
        else:
            assert entry.seq is not None and entry.hash == audit.entry_hash(
                entry, keyring=keyring_for(session)
            )
    sealed = keep_once(stock.factory)[1]
    assert sealed == (1 if backend == "postgresql" else 0)
    with stock.tx() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.action == "test.sealed"
            )
        ).one()
        before = session.scalars(
            select(AuditEntry).where(
                AuditEntry.tenant_id == stock.tenant_id, AuditEntry.seq == entry.seq - 1
            )
        ).one()
        total = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == stock.tenant_id)
        )
    assert entry.seq == total
    assert entry.prev_hash == before.hash
    assert entry.hash == audit.entry_hash(entry, keyring=keyring_for(session))


def test_the_audit_list_shows_entries_written_just_before_it_sealed(shop):
    _record(shop, 1)
    api = shop.api("admin")
    page = api.get("audit", params={"action": "test.sealed"}).json()
    assert [item["entity_id"] for item in page["items"]] == ["1"]
    assert page["items"][0]["seq"] is not None and page["items"][0]["hash"]
    report = api.get("audit/verify").json()
    assert report["ok"] is True and report["pending"] == 0


def test_a_rolled_back_savepoint_leaves_no_gap_in_the_chain_or_the_feed(stock):
    with stock.tx() as session:
        audit.record(session, actor=stock.actor, action="test.kept", entity_type="t", entity_id=1)
        feed.publish(session, tenant_id=stock.tenant_id, entity="category", key="a", data={})
        session.flush()
        try:
            with session.begin_nested():
                audit.record(
                    session, actor=stock.actor, action="test.lost", entity_type="t", entity_id=2
                )
                feed.publish(
                    session, tenant_id=stock.tenant_id, entity="category", key="b", data={}
                )
                session.flush()
                raise RuntimeError("the event is rejected")
        except RuntimeError:
            pass
        audit.record(session, actor=stock.actor, action="test.kept", entity_type="t", entity_id=3)
        feed.publish(session, tenant_id=stock.tenant_id, entity="category", key="c", data={})
    report = _verify(stock)
    assert report.ok, report
    with stock.tx() as session:
        feed.catch_up(session, tenant_id=stock.tenant_id)
    with stock.tx() as session:
        seqs = session.scalars(
            select(Change.seq).where(Change.tenant_id == stock.tenant_id).order_by(Change.seq)
        ).all()
        keys = session.scalars(
            select(Change.entity_key).where(Change.entity == "category").order_by(Change.seq)
        ).all()
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("test.%"))
        ).all()
    assert seqs == list(range(1, len(seqs) + 1))
    assert keys == ["a", "c"]
    assert actions == ["test.kept", "test.kept"]
