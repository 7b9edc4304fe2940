"""Number the change feed and seal the audit chain in the background (PostgreSQL).

Pulls number what they need and audit reads seal first, so this loop only bounds how
long a change waits for its number and an entry for its seal when nobody reads them.
Every partition_check_seconds it also keeps the partitioned tables' ranges ahead of use
and drops the feed's expired ranges (sync/retention.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync_server import background
from sync_server.audit import service as audit
from sync_server.audit.models import AuditEntry
from sync_server.config import Settings
from sync_server.db import is_sqlite, transaction
from sync_server.foundation import feed
from sync_server.foundation.models import Change
from sync_server.sync import retention

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("stockpilot.keeper")

INTERVAL_SECONDS = 0.5


def pending_tenants(session: Session) -> tuple[list[int], list[int]]:
    """Return the tenants with changes to number and those with entries to seal.

    One query each over partial indexes that hold only waiting rows (migration
    0023_pending_work): a round costs the same for one tenant or thousands, and nothing for
    tenants that did nothing.
    """
    return list(session.scalars(_TO_NUMBER)), list(session.scalars(_TO_SEAL))


# Built once: the keeper asks twice a second in every worker.
_TO_NUMBER = (
    select(Change.tenant_id).where(Change.seq.is_(None)).distinct().order_by(Change.tenant_id)
)
_TO_SEAL = (
    select(AuditEntry.tenant_id)
    .where(AuditEntry.seq.is_(None))
    .distinct()
    .order_by(AuditEntry.tenant_id)
)


def keep_once(factory: sessionmaker[Session]) -> tuple[int, int]:
    """Number waiting changes and seal waiting entries of the tenants that have some."""
    with transaction(factory, readonly=True) as session:
        if is_sqlite(session.get_bind()):
            return 0, 0  # one writer at a time: writers number and chain in place
        to_number, to_seal = pending_tenants(session)
    numbered = sealed = 0
    # One short transaction per tenant and per head; a head another transaction holds is
    # skipped this round rather than waited for.
    for tenant_id in to_number:
        with transaction(factory) as session:
            numbered += feed.sequence_changes(session, tenant_id=tenant_id, wait=False)
    for tenant_id in to_seal:
        with transaction(factory) as session:
            sealed += audit.seal_audit(session, tenant_id=tenant_id, wait=False)
    return numbered, sealed


def run_forever(
    factory: sessionmaker[Session],
    *,
    stop: threading.Event,
    interval: float = INTERVAL_SECONDS,
    settings: Settings | None = None,
) -> None:
    """Keep numbering and sealing until stop is set; a failed round is logged and retried.

    Given settings, it also runs partition maintenance every partition_check_seconds.
    """
    due = 0.0

    def step() -> None:
        nonlocal due
        keep_once(factory)
        if settings is not None and time.monotonic() >= due:
            due = time.monotonic() + settings.partition_check_seconds
            retention.maintain(factory, retention_days=settings.feed_retention_days)

    background.repeat(
        step,
        stop=stop,
        interval=interval,
        log=log,
        failure="numbering the feed or sealing the audit log failed; retrying",
    )


def in_server_keeper(app: FastAPI) -> Callable[[], None]:
    """Start the keeper in a thread of the server process; return its stop function."""
    return background.start(
        "feed-and-audit-keeper",
        run_forever,
        factory=app.state.sessions,
        settings=app.state.settings,
    )
