"""A database whose chain and feed were numbered before 0014 upgrades with both intact."""

from __future__ import annotations

from alembic import command
from sqlalchemy import select

from sync_server.audit import service as audit
from sync_server.audit.models import AuditEntry
from sync_server.foundation import feed
from sync_server.foundation.models import Change
from sync_server.migrations.runner import alembic_config, current_heads, expected_heads, upgrade
from sync_server.sync.keeper import keep_once


def _chain(stock) -> list[tuple]:
    with stock.tx() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash)
                .where(AuditEntry.tenant_id == stock.tenant_id)
                .order_by(AuditEntry.id)
            )
        ]


def test_upgrading_a_database_with_a_numbered_chain_and_feed_keeps_both_valid(
    stock, engine, database_url
):
    with stock.tx() as session:
        audit.record(session, actor=stock.actor, action="test.old", entity_type="t", entity_id=1)
        feed.publish(session, tenant_id=stock.tenant_id, entity="category", key="old", data={})
    # Everything (every tenant) numbered and chained, as the database was before 0014.
    keep_once(stock.factory)
    with stock.tx() as session:
        assert audit.verify(session, tenant_id=stock.tenant_id).ok
    chain = _chain(stock)
    cfg = alembic_config(database_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        # Below 0015 too: the keyed chain's MAC columns go, so only its rows are compared
        # here (tests/server/test_audit_keys.py upgrades a pre-key chain and verifies it).
        command.downgrade(cfg, "0013_notification_attachments")
    assert "0014_feed_sequencer" not in current_heads(engine)

    upgrade(engine)
    assert current_heads(engine) == expected_heads()
    assert _chain(stock) == chain
    with stock.tx() as session:
        audit.record(session, actor=stock.actor, action="test.new", entity_type="t", entity_id=2)
        feed.publish(session, tenant_id=stock.tenant_id, entity="category", key="new", data={})
    with stock.tx() as session:
        audit.seal_now(session, tenant_id=stock.tenant_id)
        feed.catch_up(session, tenant_id=stock.tenant_id)
    assert _chain(stock)[: len(chain)] == chain
    assert [seq for _, seq, _ in _chain(stock)] == list(range(1, len(chain) + 2))
    with stock.tx() as session:
        seqs = session.scalars(
            select(Change.seq).where(Change.tenant_id == stock.tenant_id).order_by(Change.seq)
        ).all()
    assert seqs == list(range(1, len(seqs) + 1))
