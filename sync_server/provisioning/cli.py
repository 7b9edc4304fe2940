"""stockpilot-server tenant … and branch …: provision businesses and their branches."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands
from common.codes import BranchKind
from sync_server.cli_support import (
    add_business_options,
    engine_for,
    find_tenant,
    print_business,
    refuse_missing_database,
    require_initialised,
    sessions,
)

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.db import make_sessionmaker, transaction
    from sync_server.migrations.heads import upgrade_if_behind
    from sync_server.provisioning.service import provision_tenant, tenant_form

    data, generated = tenant_form(
        name=args.name,
        admin_username=args.admin_username,
        admin_password=args.admin_password,
        admin_pin=args.admin_pin,
        currency=args.currency,
        branch_name=None if args.no_branch else args.branch_name,
        branch_code=args.branch_code,
    )
    engine = engine_for(settings, create=True)
    upgrade_if_behind(engine)
    with transaction(make_sessionmaker(engine)) as session:
        made = provision_tenant(session, data=data)
        print(f"Created business '{made.tenant.name}' (id {made.tenant.id}, {data.currency})")
        print_business(
            name=made.tenant.name, admin=made.admin.username, password=generated, branch=made.branch
        )
    return 0


def cmd_tenant_list(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sqlalchemy import func, select

    from sync_server.auth.models import User
    from sync_server.db import transaction
    from sync_server.org.models import Branch, Tenant

    with transaction(sessions(settings), readonly=True) as session:
        require_initialised(session)
        users = dict(
            session.execute(select(User.tenant_id, func.count()).group_by(User.tenant_id)).all()
        )
        branches = dict(
            session.execute(select(Branch.tenant_id, func.count()).group_by(Branch.tenant_id)).all()
        )
        print("id\tname\tcurrency\tbranches\tusers")
        for tenant in session.scalars(select(Tenant).order_by(Tenant.id)):
            print(
                f"{tenant.id}\t{tenant.name}\t{tenant.currency}\t"
                f"{branches.get(tenant.id, 0)}\t{users.get(tenant.id, 0)}"
            )
    return 0


def cmd_branch_add(args: argparse.Namespace, settings: Settings) -> int:
    from common.schemas.org import BranchCreate
    from sync_server.db import transaction
    from sync_server.org import service

    data = BranchCreate(
        name=args.name,
        code=args.code.upper(),
        kind=BranchKind(args.kind),
        address=args.address or "",
        city=args.city or "",
        phone=args.phone or "",
    )
    with transaction(sessions(settings)) as session:
        tenant = find_tenant(session, args.tenant)
        branch = service.create_branch(session, actor=None, tenant_id=tenant.id, data=data)
        print(
            f"Added {branch.kind} '{branch.name}' (code {branch.code}, id {branch.id}) "
            f"to {tenant.name}."
        )
    return 0


def cmd_branch_list(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sqlalchemy import select

    from sync_server.db import transaction
    from sync_server.org.models import Branch

    with transaction(sessions(settings), readonly=True) as session:
        tenant = find_tenant(session, args.tenant)
        print("id\tcode\tkind\tname")
        for branch in session.scalars(
            select(Branch).where(Branch.tenant_id == tenant.id).order_by(Branch.code)
        ):
            state = "" if branch.active else "\t(inactive)"
            print(f"{branch.id}\t{branch.code}\t{branch.kind}\t{branch.name}{state}")
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the tenant and branch commands."""
    group = subparsers.add_parser("tenant", help="businesses sharing this server (operator)")
    sub = group.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")
    p = sub.add_parser("create", help="add a business with its admin and first branch")
    p.add_argument("name", help="the business's name, unique on this server")
    add_business_options(p)
    p.set_defaults(handler=cmd_tenant_create)
    p = sub.add_parser("list", help="list the businesses")
    p.set_defaults(handler=cmd_tenant_list)

    group = subparsers.add_parser("branch", help="a business's stores and warehouses")
    sub = group.add_subparsers(dest="branch_command", required=True, metavar="ACTION")
    p = sub.add_parser("add", help="add a store or warehouse")
    p.add_argument("--code", required=True, help="short code, e.g. AND (letters, digits, -)")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", choices=[k.value for k in BranchKind], default=BranchKind.STORE.value)
    p.add_argument("--address")
    p.add_argument("--city")
    p.add_argument("--phone")
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_branch_add)
    p = sub.add_parser("list", help="list a business's branches")
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_branch_list)
