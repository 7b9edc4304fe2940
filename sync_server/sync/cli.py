"""stockpilot-server device …: enrolment codes for tills."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands, usage_error, whole_number
from sync_server.cli_support import refuse_missing_database, require_initialised, sessions

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_enrol_code(args: argparse.Namespace, settings: Settings) -> int:
    """Print a one-time enrolment code for a branch given by its code."""
    refuse_missing_database(settings)
    from sqlalchemy import select

    from sync_server.db import transaction
    from sync_server.foundation.principal import Actor
    from sync_server.org.models import Branch, Tenant
    from sync_server.sync import devices

    with transaction(sessions(settings)) as session:
        require_initialised(session)
        stmt = (
            select(Branch)
            .join(Tenant, Tenant.id == Branch.tenant_id)
            .where(Branch.code == args.branch)
        )
        if args.tenant:
            stmt = stmt.where(Tenant.name == args.tenant)
        branches = session.scalars(stmt).all()
        if not branches:
            raise usage_error(
                f"No branch with code '{args.branch}'; see 'stockpilot-server branch list' "
                "or add one with 'stockpilot-server branch add'."
            )
        if len(branches) > 1:
            raise usage_error(
                f"More than one business has a branch with code '{args.branch}'; use --tenant."
            )
        branch = branches[0]
        code, row = devices.create_enrolment_code(
            session,
            actor=Actor(tenant_id=branch.tenant_id, label="cli"),
            branch_id=branch.id,
            valid_minutes=args.valid_minutes,
        )
    print(f"Enrolment code for branch {branch.code}: {code}")
    print(f"Valid until {row.expires_at:%Y-%m-%d %H:%M} UTC, once.")
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the device subcommands."""
    device = subparsers.add_parser("device", help="till devices")
    sub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    p = sub.add_parser("enrol-code", help="print a one-time code that enrols a till at a branch")
    p.add_argument("--branch", required=True, help="branch code, e.g. AND")
    p.add_argument("--tenant", help="business name, when several share the server")
    p.add_argument(
        "--valid-minutes",
        type=whole_number(1, 30 * 24 * 60),
        default=24 * 60,
        help="how long the code may be used (default: a day; at most 30 days)",
    )
    p.set_defaults(handler=cmd_enrol_code)
