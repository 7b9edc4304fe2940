"""Keep the large tables' ranges ahead of use and drop the change feed's expired ranges.

PostgreSQL only (sync_server/partitions.py); on SQLite nothing is partitioned or dropped.
The feed keeps every change newer than the retention window: a range goes only when every
change in it is older, numbered, and below the newest id. Before a range goes, each
tenant's floor (feed_floors.dropped_through) rises to the highest seq it held, in the same
transaction, so a pull whose cursor is below the floor answers a full snapshot instead of
skipping what was dropped (pull.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sync_server import partitions
from sync_server.db import is_sqlite, transaction, utcnow
from sync_server.sync.models import FeedFloor

log = logging.getLogger("stockpilot.partitions")

FEED = "change_feed"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout that ran out


@dataclass
class Maintenance:
    """What one round did; skipped when another process held the maintenance lock."""

    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: bool = False


# Built once: every pull past a snapshot reads it.
_FLOOR = select(FeedFloor.dropped_through).where(FeedFloor.tenant_id == bindparam("tenant_id"))


def floor(session: Session, *, tenant_id: int) -> int:
    """Return the highest seq of the tenant's changes that retention dropped (0: none)."""
    if is_sqlite(session.get_bind()):
        return 0
    return session.scalar(_FLOOR, {"tenant_id": tenant_id}) or 0


def _wait_briefly(session: Session) -> None:
    """Give up on a lock after 2 s: waiting DDL would queue every reader of the table behind it."""
    session.execute(text("SET LOCAL lock_timeout = '2s'"))


def drop_expired_feed(session: Session, *, before: datetime) -> list[str]:
    """Drop the feed's oldest ranges whose changes are all older than before; return them."""
    dropped = []
    for part in partitions.expired_prefix(session, FEED, before=before):
        session.execute(text(f"LOCK TABLE {part.name} IN ACCESS EXCLUSIVE MODE"))
        waiting, latest = session.execute(
            text(f"SELECT count(*) FILTER (WHERE seq IS NULL), max(at) FROM {part.name}")
        ).one()
        if waiting or (latest is not None and latest >= before):
            break  # a change waits for its number, or one in the range is newer after all
        session.execute(
            text(
                "INSERT INTO feed_floors (tenant_id, dropped_through, dropped_at) "
                f"SELECT tenant_id, max(seq), :now FROM {part.name} GROUP BY tenant_id "
                "ON CONFLICT (tenant_id) DO UPDATE SET dropped_through = "
                "greatest(feed_floors.dropped_through, excluded.dropped_through), "
                "dropped_at = excluded.dropped_at"
            ),
            {"now": utcnow()},
        )
        session.execute(text(f"DROP TABLE {part.name}"))
        dropped.append(part.name)
    return dropped


def maintain(
    factory: sessionmaker[Session],
    *,
    retention_days: int,
    now: datetime | None = None,
    widths: dict[str, int] | None = None,
) -> Maintenance:
    """Add the ranges each partitioned table needs next and drop the feed's expired ones.

    Safe with many callers at once: each step runs under the advisory maintenance lock,
    and a caller that does not get it skips the round. retention_days 0 keeps the feed whole.
    """
    done = Maintenance()
    try:
        with transaction(factory) as session:
            if is_sqlite(session.get_bind()):
                return done
            if not partitions.lock_maintenance(session):
                done.skipped = True
                return done
            _wait_briefly(session)
            for table, width in partitions.PARTITIONED.items():
                width = (widths or {}).get(table, width)
                done.added += partitions.ensure_ahead(session, table, width=width)
        if retention_days > 0:
            before = (now or utcnow()) - timedelta(days=retention_days)
            with transaction(factory) as session:
                if not partitions.lock_maintenance(session):
                    done.skipped = True
                    return done
                _wait_briefly(session)
                done.dropped = drop_expired_feed(session, before=before)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        # A long reader held a table: the ranges ahead leave time to try again next round.
        log.info("partition maintenance waited too long for a lock; it runs again next round")
        done.skipped = True
        return done
    if done.added or done.dropped:
        log.info("partitions added %s, feed ranges dropped %s", done.added, done.dropped)
    return done
