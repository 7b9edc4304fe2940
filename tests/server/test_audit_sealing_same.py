"""The sealer's row-by-row chaining gives byte for byte the links the entry-object way gives.

seal_audit() chains the rows as read (each one's content encoded once, its links spliced in);
the way before it made each row an object and chained it with _link(). Both seal the same
waiting entries (varied content: nested, non-ASCII, Decimals, text that looks like the
spliced keys) from the same head, and write the same seq, prev_hash and hash; the chain then
verifies.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from sync_server.audit import service as audit
from sync_server.audit.keys import keyring_for
from sync_server.audit.models import AuditEntry, AuditHead
from sync_server.db import update_rows
from sync_server.foundation.tenant_lock import lock_head
from sync_server.sync.keeper import keep_once

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

CONTENTS: list[dict[str, Any]] = [
    {"after": {"n": 1}},
    {"before": {"on_hand": Decimal("3.500"), "branch_id": 2}, "after": {"reason": None}},
    {"after": {"tenant_id": 9, "z": ',"tenant_id":1}', "nested": [{"tenant_id": "x"}]}},
    {"after": {"name": 'caf\u00e9 \u202e\U0001f600 "quoted" \\', "list": [1, 2.5, True]}},
    {"before": None, "after": None},
]


def _entry_object_way(session: Any, *, tenant_id: int) -> list[tuple[int, int, str, str]]:
    """Seal as the sealer did before: every row made an object and chained by _link()."""
    head = lock_head(session, AuditHead, tenant_id=tenant_id)
    keyring = keyring_for(session)
    links = []
    rows = session.execute(
        audit._UNSEALED, {"tenant_id": tenant_id, "after_id": 0, "batch": 1000}
    ).all()
    for row in rows:
        entry = SimpleNamespace(**row._mapping)
        message = audit._server_record_message(entry, keyring=keyring, head=head)
        assert message is not None
        audit._link(entry, head, keyring, record_message=message or None, sign_head=False)
        links.append({name: getattr(entry, name) for name in audit._LINKS})
    audit._sign_head(head, keyring)
    update_rows(session, audit._ENTRIES, audit._LINKS, links)
    return [(link["id"], link["seq"], link["prev_hash"], link["hash"]) for link in links]


def _links(session: Any, *, tenant_id: int) -> list[tuple[int, int, str, str]]:
    return [
        tuple(row)
        for row in session.execute(
            select(AuditEntry.id, AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq.is_not(None))
            .order_by(AuditEntry.seq)
        )
    ]


def test_the_sealer_writes_the_links_the_entry_object_way_writes(stock, backend):
    keep_once(stock.factory)  # the fixture's own entries, sealed first
    for n, content in enumerate(CONTENTS):
        with stock.tx() as session:
            audit.record(
                session,
                actor=stock.actor,
                action="test.same",
                entity_type="thing",
                entity_id=f',"tenant_id":{n}',
                **content,
            )
    with stock.factory() as session:
        before = set(_links(session, tenant_id=stock.tenant_id))
        expected = _entry_object_way(session, tenant_id=stock.tenant_id)
        session.rollback()
    assert len(expected) == len(CONTENTS)
    with stock.tx() as session:
        assert audit.seal_audit(session, tenant_id=stock.tenant_id) == len(CONTENTS)
    with stock.factory() as session:
        sealed = [link for link in _links(session, tenant_id=stock.tenant_id) if link not in before]
        session.rollback()
    assert sealed == expected
    with stock.tx() as session:
        report = audit.verify(session, tenant_id=stock.tenant_id)
    assert report.ok, report.reason
    assert report.pending == 0
