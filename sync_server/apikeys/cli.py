"""stockpilot-server api-key …: issue and revoke keys for online stores."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from common.errors import DomainError
from sync_server.config import Settings
from sync_server.db import make_engine, make_sessionmaker, transaction


def _factory(settings: Settings):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_sessionmaker(make_engine(settings.resolved_database_url))


def _tenant_id(session, name: str | None) -> int | None:
    from sync_server.org.models import Tenant

    stmt = select(Tenant.id).order_by(Tenant.id)
    if name:
        stmt = stmt.where(Tenant.name == name)
    return session.scalar(stmt)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.apikeys import service
    from sync_server.apikeys.schemas import ApiKeyCreate

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    branch_ids = (
        [int(b) for b in args.branch_ids.split(",") if b.strip()] if args.branch_ids else []
    )
    try:
        data = ApiKeyCreate(name=args.name, scopes=scopes, branch_ids=branch_ids)
    except ValueError as exc:
        print(f"Invalid key: {exc}", file=sys.stderr)
        return 2
    with transaction(_factory(settings)) as session:
        tenant_id = _tenant_id(session, args.tenant)
        if tenant_id is None:
            print("No such business; run 'stockpilot-server init' first.", file=sys.stderr)
            return 2
        try:
            key, secret = service.create_key(session, actor=None, tenant_id=tenant_id, data=data)
        except DomainError as exc:
            print(exc.detail, file=sys.stderr)
            return 2
        print(f"Created API key {key.id} '{key.name}' with scopes {','.join(key.scopes)}.")
        print(f"  key: {secret}   (shown once; store it now)")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.apikeys import service

    with transaction(_factory(settings)) as session:
        tenant_id = _tenant_id(session, args.tenant)
        try:
            key = service.revoke_key(
                session, actor=None, tenant_id=tenant_id or 0, key_id=args.key_id
            )
        except DomainError as exc:
            print(exc.detail, file=sys.stderr)
            return 2
        print(f"Revoked API key {key.id} ({key.prefix}…).")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.apikeys.models import ApiKey

    with transaction(_factory(settings), readonly=True) as session:
        tenant_id = _tenant_id(session, args.tenant)
        for key in session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
        ):
            state = "revoked" if key.revoked_at else "active"
            print(f"{key.id}\t{key.prefix}…\t{state}\t{','.join(key.scopes)}\t{key.name}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the api-key commands."""
    group = subparsers.add_parser("api-key", help="API keys for online stores")
    sub = group.add_subparsers(dest="api_key_command", required=True, metavar="ACTION")

    p = sub.add_parser("create", help="issue a key (printed once)")
    p.add_argument("--scopes", required=True, help="e.g. orders:write,catalog:read")
    p.add_argument("--name", default="online store")
    p.add_argument("--branch-ids", help="comma-separated branches it may fulfil from")
    p.add_argument("--tenant", help="business name (default: the first one)")
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser("revoke", help="revoke a key at once")
    p.add_argument("key_id", type=int)
    p.add_argument("--tenant", help="business name (default: the first one)")
    p.set_defaults(handler=cmd_revoke)

    p = sub.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--tenant", help="business name (default: the first one)")
    p.set_defaults(handler=cmd_list)
