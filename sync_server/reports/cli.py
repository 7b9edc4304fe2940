"""stockpilot-server reports …: bring the report summaries up to date now.

The server's keeper (reports/keeper.py) does this on its own every few seconds; the command
catches up at once, e.g. right after a bulk load and before the server starts.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands
from sync_server.cli_support import migrated_sessions

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from sync_server.db import transaction
    from sync_server.org.models import Tenant
    from sync_server.reports import snapshots
    from sync_server.reports.summary import refresh

    factory = migrated_sessions(settings)
    with transaction(factory, readonly=True) as session:
        tenants = [args.tenant] if args.tenant else list(session.scalars(select(Tenant.id)))
    for tenant_id in tenants:
        # One transaction per tenant: a big tenant never holds the others' refresh back.
        with transaction(factory) as session:
            done = refresh(session, tenant_id=tenant_id)
        behind = True
        while behind:
            with transaction(factory) as session:
                behind = bool(snapshots.refresh(session, tenant_id=tenant_id)["behind"])
        print(
            f"tenant {tenant_id}: {done['rows']} summary group(s) added, "
            f"sales through id {done['sale_id_through']}"
        )
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
