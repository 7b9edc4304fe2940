"""Keep the report summaries up to date in the background: no refresh step for anyone.

Every few seconds each tenant's summaries take the till sales and returns recorded since,
in steps of at most STEP sale ids per transaction, and its monthly stock snapshots take
the movements recorded since and then the next month, one month per transaction, and so do
its month-start product totals (reports/totals.py). So a bulk
load (an import, a restored backup, the benchmark's seeding) is backfilled in short
transactions that never hold writers off for long. Reports never wait for it: they read
the unsummarised tail live, so the keeper only bounds how long that tail grows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from sync_server import background
from sync_server.db import is_sqlite, transaction
from sync_server.org.models import Tenant
from sync_server.reports import snapshots, summary, totals

log = logging.getLogger("stockpilot.reports")

INTERVAL_SECONDS = 5.0
# Sale ids summed per transaction: ~1 s of work on a small machine.
STEP = 50_000


def keep_once(
    factory: sessionmaker[Session],
    *,
    step: int = STEP,
    tenants: Sequence[int] | None = None,
    wait: bool = False,
) -> int:
    """Bring every tenant's summaries (or `tenants`') up to date; return the steps taken.

    The keeper's thread leaves a tenant another process is refreshing to it; with `wait`
    (`stockpilot-server reports refresh`) each waits its turn instead.
    """
    if tenants is None:
        with transaction(factory, readonly=True) as session:
            tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    else:
        tenant_ids = list(tenants)
    steps = 0
    started = time.monotonic()
    backfilled = False
    for tenant_id in tenant_ids:
        taken = steps
        # Each server process runs a keeper: a tenant another one is refreshing is left to
        # it (wait=False) instead of queued behind it on a pooled connection.
        behind = True
        while behind:
            with transaction(factory) as session:
                done = summary.refresh(session, tenant_id=tenant_id, limit=step, wait=wait)
            behind = bool(done["behind"])
            steps += 1
            if behind:  # a backfill: its progress, one step at a time
                log.info(
                    "report summaries of tenant %s: sales through id %s, returns through id %s",
                    tenant_id,
                    done["sale_id_through"],
                    done["return_id_through"],
                )
        behind = True
        while behind:
            with transaction(factory) as session:
                behind = bool(snapshots.refresh(session, tenant_id=tenant_id, wait=wait)["behind"])
            steps += 1
        behind = True
        while behind:
            with transaction(factory) as session:
                state = summary.claimed_state(session, tenant_id=tenant_id, wait=wait)
                behind = state is not None and bool(totals.extend(session, state=state)["behind"])
            steps += 1
        backfilled = backfilled or steps - taken > 3
    if backfilled:
        analyze_summaries(factory)
        log.info(
            "report summaries backfilled in %d steps, %.1f s", steps, time.monotonic() - started
        )
    return steps


# The summary tables a backfill fills (most of their rows are then newer than the planner's
# statistics of them).
SUMMARY_TABLES = (
    "report_sales_daily",
    "report_product_daily",
    "report_product_totals",
    "report_product_last_day",
    "report_tender_daily",
    "report_stock_snapshots",
)


def analyze_summaries(factory: sessionmaker[Session]) -> None:
    """Refresh PostgreSQL's statistics of the summary tables after a backfill.

    Without it the first reports after a bulk load are planned from the statistics of
    (nearly) empty tables until autovacuum comes round to them (a minute or more after
    the backfill ends). A sample of each table, in a second or two. SQLite plans these
    queries by their keys and is left alone.
    """
    with transaction(factory) as session:
        if is_sqlite(session.get_bind()):
            return
        for table in SUMMARY_TABLES:
            session.execute(text(f"ANALYZE {table}"))


def run_forever(
    factory: sessionmaker[Session], *, stop: threading.Event, interval: float = INTERVAL_SECONDS
) -> None:
    """Keep the summaries until stop is set; a failed round is logged and retried."""
    background.repeat(
        lambda: keep_once(factory),
        stop=stop,
        interval=interval,
        log=log,
        failure="keeping the report summaries failed; retrying",
    )


def in_server_summaries(app: Any) -> Callable[[], None]:
    """Start the summary keeper in a thread of the server process; return its stop function."""
    return background.start("report-summary-keeper", run_forever, factory=app.state.sessions)
