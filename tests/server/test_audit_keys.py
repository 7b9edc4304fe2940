"""The audit key: a database chained before it upgrades and keeps verifying; keys rotate."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import command
from sqlalchemy import select, update

from sync_server.audit import checkpoints
from sync_server.audit import service as audit
from sync_server.audit.keys import Keyring, attach
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.db import make_sessionmaker, transaction
from sync_server.foundation.principal import Actor
from sync_server.migrations.runner import alembic_config, upgrade

GENESIS = "0" * 64


def test_the_unkeyed_link_is_byte_for_byte_the_one_released_before_the_key():
    # Computed with the released (pre-key) entry_hash for this entry.
    entry = SimpleNamespace(
        tenant_id=7,
        seq=2,
        at=datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        actor_id=3,
        actor="asha",
        device_id=None,
        action="stock.receipt",
        entity_type="product",
        entity_id="11",
        before=None,
        after={"quantity": "5"},
        prev_hash="ab" * 32,
    )
    assert audit.legacy_hash(entry) == (
        "8c528412db63e3db97b68aa2c3ea02496aef4ac48b225e19938b92fb0b482426"
    )


def _old_database(engine, database_url: str) -> tuple[int, list[int]]:
    """Write a tenant and its chain as the release before the key did (schema 0014).

    Four chained entries and, as PostgreSQL left them, one committed but not yet sealed.
    """
    cfg = alembic_config(database_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014_feed_sequencer")
    meta = sa.MetaData()
    tenants = sa.Table("tenants", meta, autoload_with=engine)
    entries = sa.Table("audit_entries", meta, autoload_with=engine)
    heads = sa.Table("audit_heads", meta, autoload_with=engine)
    assert "key_id" not in entries.c and "head_mac" not in heads.c
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        tenant_id = conn.execute(
            tenants.insert()
            .values(name="Old Shop", currency="INR", created_at=start)
            .returning(tenants.c.id)
        ).scalar_one()
        prev, ids = GENESIS, []
        for n in range(1, 6):
            row = SimpleNamespace(
                tenant_id=tenant_id,
                seq=n if n < 5 else None,
                at=start + timedelta(minutes=n, microseconds=n * 7),
                actor_id=None,
                actor="system",
                device_id=None,
                action="stock.receipt",
                entity_type="product",
                entity_id=str(n),
                before=None,
                after={"quantity": str(n)},
                prev_hash=prev if n < 5 else None,
            )
            digest = audit.legacy_hash(row) if n < 5 else None
            ids.append(
                conn.execute(
                    entries.insert().values(**{**vars(row), "hash": digest}).returning(entries.c.id)
                ).scalar_one()
            )
            prev = digest or prev
        conn.execute(heads.insert().values(tenant_id=tenant_id, last_seq=4, last_hash=prev))
    upgrade(engine)
    return tenant_id, ids


def _verify(factory, tenant_id: int) -> audit.ChainReport:
    with transaction(factory) as session:
        return audit.verify(session, tenant_id=tenant_id)


def test_a_chain_made_before_the_key_upgrades_verifies_and_continues_keyed(
    engine, database_url, backend
):
    tenant_id, ids = _old_database(engine, database_url)
    factory = make_sessionmaker(engine)
    with engine.connect() as conn:
        head = conn.execute(select(AuditHead.__table__).where(AuditHead.tenant_id == tenant_id))
        head = dict(head.one()._mapping)
    assert (head["keyed_from_seq"], head["legacy_max_id"], head["head_mac"]) == (5, ids[-1], None)
    report = _verify(factory, tenant_id)
    # PostgreSQL's verify seals first: the entry committed before the upgrade is chained
    # (it predates the key); SQLite never leaves one waiting, and verify leaves it as found.
    assert report.ok, report
    assert (report.entries, report.pending) == ((5, 0) if backend == "postgresql" else (4, 1))
    with transaction(factory) as session:
        audit.record(
            session,
            actor=Actor(tenant_id=tenant_id),
            action="test.after_upgrade",
            entity_type="t",
            entity_id=1,
        )
        audit.seal_audit(session, tenant_id=tenant_id)
    report = _verify(factory, tenant_id)
    assert report.ok, report
    assert report.entries == 6 and report.pending == 0
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.seq, AuditEntry.key_id)
            .where(AuditEntry.tenant_id == tenant_id)
            .order_by(AuditEntry.seq)
        ).all()
        head_mac = conn.scalar(select(AuditHead.head_mac).where(AuditHead.tenant_id == tenant_id))
    assert [seq for seq, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert [key is None for _, key in rows[:4]] == [True] * 4
    assert all(key for _, key in rows[4:])
    assert head_mac is not None

    # The pre-key part is as tamper-evident as it was...
    with engine.begin() as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq == 2)
            .values(after={"quantity": "200"})
        )
    assert _verify(factory, tenant_id).reason == (
        "entry 2 was edited (its content does not match its hash)"
    )


def test_a_keyed_entry_cannot_pass_as_one_from_before_the_key(engine, database_url):
    tenant_id, _ = _old_database(engine, database_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        for n in range(2):
            audit.record(
                session,
                actor=Actor(tenant_id=tenant_id),
                action="test.keyed",
                entity_type="t",
                entity_id=n,
            )
        audit.seal_audit(session, tenant_id=tenant_id)
    assert _verify(factory, tenant_id).ok
    last = _verify(factory, tenant_id).entries
    with transaction(factory) as session:
        entry = session.scalar(
            select(AuditEntry).where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq == last)
        )
        entry.after = {"forged": True}
        entry.key_id = entry.nonce = entry.record_mac = None
        entry.hash = audit.legacy_hash(entry)
        session.execute(
            update(AuditHead).where(AuditHead.tenant_id == tenant_id).values(last_hash=entry.hash)
        )
    report = _verify(factory, tenant_id)
    assert report.reason == (
        f"entry {last} was inserted or rewritten: it carries no MAC of the audit key"
    )


def test_a_rotated_key_keeps_old_entries_and_checkpoints_verifying(stock, engine):
    # The fixture's own entries were signed with the test run's key: keep it as the oldest.
    first = os.environ["STOCKPILOT_AUDIT_KEY"]
    old = Keyring.from_keys(current="the first audit key", retired=(first,))
    attach(engine, old)
    for n in range(3):
        with stock.tx() as session:
            audit.record(session, actor=stock.actor, action="test.k1", entity_type="t", entity_id=n)
    with stock.tx() as session:
        point = checkpoints.make_checkpoint(
            session, tenant_id=stock.tenant_id, now=datetime.now(UTC)
        )
    # Rotation: a new current key, the old one kept as retired.
    attach(
        engine,
        Keyring.from_keys(current="the second audit key", retired=("the first audit key", first)),
    )
    for n in range(2):
        with stock.tx() as session:
            audit.record(session, actor=stock.actor, action="test.k2", entity_type="t", entity_id=n)
    with stock.tx() as session:
        report = audit.verify(session, tenant_id=stock.tenant_id)
        assert report.ok, report
        assert checkpoints.verify_against(session, checkpoint=point).ok
        keys = set(session.scalars(select(AuditEntry.key_id).where(AuditEntry.seq.is_not(None))))
    assert {old.current_id, Keyring.from_keys(current="the second audit key").current_id} <= keys
    # Dropping the retired key loses the proof, loudly.
    attach(engine, Keyring.from_keys(current="the second audit key", retired=(first,)))
    with stock.tx() as session:
        report = audit.verify(session, tenant_id=stock.tenant_id)
    assert not report.ok
    assert "which is not in the audit keyring" in report.reason
    attach(
        engine,
        Keyring.from_keys(current="the second audit key", retired=("the first audit key", first)),
    )
