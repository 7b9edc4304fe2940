"""A new tenant gets every head, the audit chain's signed from birth, whatever was imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync_server.audit.service import create_head
from sync_server.domains import load_receivers
from sync_server.foundation import tenant_lock

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_imported_only_the_heads_makes_the_audit_head_too(tmp_path: Path) -> None:
    """Nothing imports audit's service first: its registered maker still makes its head."""
    script = """
    import sys
    from sqlalchemy import select
    from sqlalchemy.orm import Session
    from sync_server.db import make_engine
    from sync_server.foundation.models import FeedHead
    from sync_server.foundation.tenant_lock import create_heads
    from sync_server.migrations.runner import upgrade
    from sync_server.org.models import Tenant

    engine = make_engine(sys.argv[1])
    upgrade(engine)
    assert "sync_server.audit.service" not in sys.modules, "imported before it was asked for"
    with Session(engine) as session, session.begin():
        tenant = Tenant(name="Heads", currency="INR")
        session.add(tenant)
        session.flush()
        create_heads(session, tenant_id=tenant.id)
        create_heads(session, tenant_id=tenant.id)  # twice: still one of each
        from sync_server.audit.models import AuditHead

        feeds = session.scalars(select(FeedHead).where(FeedHead.tenant_id == tenant.id)).all()
        audits = session.scalars(select(AuditHead).where(AuditHead.tenant_id == tenant.id)).all()
        print(len(feeds), feeds[0].last_seq, len(audits), audits[0].head_mac is not None)
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), f"sqlite:///{tmp_path / 'h.db'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "0", "1", "True"]


def test_a_head_has_one_maker() -> None:
    load_receivers()
    tenant_lock.register_head("audit", create_head)  # the same again: no change
    with pytest.raises(ValueError, match="already has a maker"):
        tenant_lock.register_head("audit", lambda session, *, tenant_id: None)
