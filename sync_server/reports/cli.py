"""stockpilot-server reports …: bring the report summaries up to date now.

The server's keeper (reports/keeper.py) does this on its own every few seconds; the command
runs the keeper's round at once, e.g. right after a restore or an import and before the
server takes requests (reports over a long range read what is not summed yet live, so they
are slow until the summaries have caught up).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands
from sync_server.cli_support import migrated_sessions

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from sqlalchemy import select

    from sync_server.db import transaction
    from sync_server.reports import keeper
    from sync_server.reports.models import SummaryState

    factory = migrated_sessions(settings)
    started = time.monotonic()
    # The keeper's own round (sales and returns in steps of keeper.STEP ids, the monthly
    # stock snapshots and product totals, then the planner's statistics after a backfill),
    # waiting for a server's keeper that is refreshing the same tenant rather than skipping.
    steps = keeper.keep_once(factory, tenants=[args.tenant] if args.tenant else None, wait=True)
    with transaction(factory, readonly=True) as session:
        states = session.scalars(select(SummaryState).order_by(SummaryState.tenant_id))
        for state in states:
            if args.tenant and state.tenant_id != args.tenant:
                continue
            print(
                f"tenant {state.tenant_id}: summaries up to date, sales through id "
                f"{state.sale_id_through}, returns through id {state.return_id_through}"
            )
    print(f"{steps} step(s) in {time.monotonic() - started:.1f} s")
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the reports commands."""
    group = subparsers.add_parser("reports", help="report chores")
    sub = group.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "refresh", help="add recent till sales and stock movements to the report summaries now"
    )
    p.add_argument("--tenant", type=int, default=None, help="only this tenant id")
    p.set_defaults(handler=cmd_refresh)
