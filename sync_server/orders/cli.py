"""stockpilot-server orders …: background chores of online orders."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands
from sync_server.cli_support import migrated_sessions

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_expire(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.orders.expiry import expire_due

    factory = migrated_sessions(settings)
    count = expire_due(factory)
    print(f"Expired {count} unpaid order(s); their reservations were released.")
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the orders commands."""
    group = subparsers.add_parser("orders", help="online order chores")
    sub = group.add_subparsers(dest="orders_command", required=True, metavar="ACTION")
    p = sub.add_parser("expire", help="expire unpaid orders whose reservation time ran out")
    p.set_defaults(handler=cmd_expire)
