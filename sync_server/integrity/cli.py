"""stockpilot-server ledger verify: check levels, reservations and balances against ledgers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands
from sync_server.cli_support import refuse_missing_database

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_ledger_verify(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sqlalchemy import select

    from sync_server.cli_support import migrated_sessions
    from sync_server.db import transaction
    from sync_server.integrity.ledger import verify_ledgers
    from sync_server.org.models import Tenant

    differences = 0
    with transaction(migrated_sessions(settings), readonly=True) as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.id)).all():
            found = verify_ledgers(session, tenant_id=tenant.id)
            differences += len(found)
            if not found:
                print(f"{tenant.name}: books agree with their ledgers")
                continue
            print(f"{tenant.name}: {len(found)} difference(s)")
            for difference in found:
                print(f"  {difference.text}")
    return 1 if differences else 0


def register(subparsers: Subcommands) -> None:
    """Add the ledger command."""
    ledger = subparsers.add_parser("ledger", help="stock and money ledger tools")
    sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    p = sub.add_parser(
        "verify",
        help="check every stock level, reservation and customer/supplier balance against its "
        "ledger; exit 1 with the list of differences",
    )
    p.set_defaults(handler=cmd_ledger_verify)
