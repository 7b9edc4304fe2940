"""The server's integrity watch: signed audit checkpoints on a schedule, ledger check nightly.

Every audit_checkpoint_minutes, each tenant whose chain head moved gets a signed checkpoint:
appended to <data_dir>/checkpoints/audit-tenant-<id>.txt, published to the tills (the Z
report prints the latest) and, when audit_checkpoint_email is set, e-mailed. Once a day at
ledger_verify_hour (UTC) the ledger check runs and a difference raises an alert.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.errors import InvalidState
from sync_server import background
from sync_server.alerts import service as alerts
from sync_server.audit.checkpoints import Checkpoint, make_checkpoint, parse
from sync_server.config import Settings
from sync_server.db import transaction, utcnow
from sync_server.foundation import feed
from sync_server.integrity.ledger import verify_ledgers
from sync_server.notifications import service as notifications
from sync_server.org.models import Tenant

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("stockpilot.integrity")

CHECKPOINT_ENTITY = "audit_checkpoint"
AUDIT_BROKEN = "audit_broken"
LEDGER_MISMATCH = "ledger_mismatch"
POLL_SECONDS = 30


def checkpoint_file(settings: Settings, *, tenant_id: int) -> Path:
    """Return the file a tenant's checkpoints are appended to."""
    return settings.checkpoint_dir / f"audit-tenant-{tenant_id}.txt"


def _last_filed(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return parse(lines[-1])[-1] if lines else None


def _tenant_ids(factory: sessionmaker[Session]) -> list[int]:
    with transaction(factory, readonly=True) as session:
        return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))


def checkpoint_tenant(
    factory: sessionmaker[Session], *, settings: Settings, tenant_id: int, now: datetime
) -> Checkpoint | None:
    """Sign, file, publish and mail a checkpoint of a tenant whose head moved; return it."""
    path = checkpoint_file(settings, tenant_id=tenant_id)
    last = _last_filed(path)
    with transaction(factory) as session:
        try:
            checkpoint = make_checkpoint(session, tenant_id=tenant_id, now=now)
        except InvalidState as exc:
            alerts.raise_alert(
                session,
                tenant_id=tenant_id,
                kind=AUDIT_BROKEN,
                details={"message": str(exc)},
            )
            log.error("tenant %s: %s", tenant_id, exc)
            return None
        if checkpoint is None or (last is not None and last.seq == checkpoint.seq):
            return None
        feed.publish(
            session,
            tenant_id=tenant_id,
            entity=CHECKPOINT_ENTITY,
            key="latest",
            data={"text": checkpoint.text, "seq": checkpoint.seq, "at": checkpoint.at},
        )
        if settings.audit_checkpoint_email:
            notifications.notify(
                session,
                tenant_id=tenant_id,
                event="audit.checkpoint",
                subject=f"Audit checkpoint at entry {checkpoint.seq}",
                body="Keep this line; `stockpilot-server audit verify --checkpoint` proves "
                f"nothing up to it was removed or rewritten:\n\n{checkpoint.text}\n",
                payload={"text": checkpoint.text},
                email=settings.audit_checkpoint_email,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # Filed inside the transaction: a failed commit leaves at most an extra line.
        with path.open("a") as out:
            out.write(checkpoint.text + "\n")
    return checkpoint


def verify_ledgers_and_alert(factory: sessionmaker[Session], *, tenant_id: int) -> int:
    """Run the ledger check for a tenant and raise an alert on a difference; return how many."""
    with transaction(factory) as session:
        found = verify_ledgers(session, tenant_id=tenant_id)
        if found:
            alerts.raise_alert(
                session,
                tenant_id=tenant_id,
                kind=LEDGER_MISMATCH,
                details={
                    "message": f"{len(found)} figure(s) disagree with their ledgers: "
                    + "; ".join(d.text for d in found[:5]),
                    "differences": [d.text for d in found[:200]],
                },
            )
            log.error("tenant %s: %d ledger difference(s)", tenant_id, len(found))
        else:
            alerts.clear_alert(session, tenant_id=tenant_id, kind=LEDGER_MISMATCH)
    return len(found)


@dataclass
class Watch:
    """What the watch did last, so each job runs on its own schedule."""

    settings: Settings
    next_checkpoint: datetime | None = None
    ledger_day: date | None = None

    def due_ledger(self, now: datetime) -> bool:
        """Say whether tonight's ledger check is due (once a day, at or after its hour)."""
        hour = self.settings.ledger_verify_hour
        return 0 <= hour <= 23 and now.hour >= hour and self.ledger_day != now.date()

    def run_once(self, factory: sessionmaker[Session], *, now: datetime) -> None:
        """Do whatever is due at this moment."""
        if self.next_checkpoint is None or now >= self.next_checkpoint:
            for tenant_id in _tenant_ids(factory):
                checkpoint_tenant(factory, settings=self.settings, tenant_id=tenant_id, now=now)
            self.next_checkpoint = now + timedelta(minutes=self.settings.audit_checkpoint_minutes)
        if self.due_ledger(now):
            for tenant_id in _tenant_ids(factory):
                verify_ledgers_and_alert(factory, tenant_id=tenant_id)
            self.ledger_day = now.date()


def run_forever(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    stop: threading.Event,
    clock: Callable[[], datetime] = utcnow,
    interval: float = POLL_SECONDS,
) -> None:
    """Watch until stopped; a failed round is logged and retried."""
    watch = Watch(settings)
    background.repeat(
        lambda: watch.run_once(factory, now=clock()),
        stop=stop,
        interval=interval,
        log=log,
        failure="integrity watch round failed; retrying",
    )


def in_server_watch(app: FastAPI) -> Callable[[], None]:
    """Start the watch in a thread of the server process; return its stop function."""
    return background.start(
        "integrity-watch", run_forever, factory=app.state.sessions, settings=app.state.settings
    )
