"""stockpilot-server api-key …: issue and revoke keys for online stores."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from common.cli import Subcommands, usage_error
from sync_server.cli_support import find_tenant, refuse_missing_database, sessions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync_server.config import Settings


def _tenant_id(session: Session, name: str | None) -> int:
    return find_tenant(session, name).id


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.apikeys import service
    from sync_server.apikeys.schemas import ApiKeyCreate
    from sync_server.db import transaction

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    try:
        branch_ids = (
            [int(b) for b in args.branch_ids.split(",") if b.strip()] if args.branch_ids else []
        )
    except ValueError:
        raise usage_error(
            f"--branch-ids takes numbers separated by commas, not {args.branch_ids!r}"
        ) from None
    data = ApiKeyCreate(name=args.name, scopes=scopes, branch_ids=branch_ids)
    with transaction(sessions(settings)) as session:
        tenant_id = _tenant_id(session, args.tenant)
        key, secret = service.create_key(session, actor=None, tenant_id=tenant_id, data=data)
        print(f"Created API key {key.id} '{key.name}' with scopes {','.join(key.scopes)}.")
        print(f"  key: {secret}   (shown once; store it now)")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sync_server.apikeys import service
    from sync_server.db import transaction

    with transaction(sessions(settings)) as session:
        tenant_id = _tenant_id(session, args.tenant)
        key = service.revoke_key(session, actor=None, tenant_id=tenant_id, key_id=args.key_id)
        print(f"Revoked API key {key.id} ({key.prefix}…).")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sqlalchemy import select

    from sync_server.apikeys.models import ApiKey
    from sync_server.db import transaction

    with transaction(sessions(settings), readonly=True) as session:
        tenant_id = _tenant_id(session, args.tenant)
        for key in session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        ):
            state = "revoked" if key.revoked_at else "active"
            print(f"{key.id}\t{key.prefix}…\t{state}\t{','.join(key.scopes)}\t{key.name}")
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the api-key commands."""
    group = subparsers.add_parser("api-key", help="API keys for online stores")
    sub = group.add_subparsers(dest="api_key_command", required=True, metavar="ACTION")

    p = sub.add_parser("create", help="issue a key (printed once)")
    p.add_argument("--scopes", required=True, help="e.g. orders:write,catalog:read")
    p.add_argument("--name", default="online store")
    p.add_argument("--branch-ids", help="comma-separated branches it may fulfil from")
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser("revoke", help="revoke a key at once")
    p.add_argument("key_id", type=int)
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_revoke)

    p = sub.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_list)
