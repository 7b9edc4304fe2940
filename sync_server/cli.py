"""stockpilot-server: set up, run and look after a StockPilot sync server."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable

from sqlalchemy import select

from common.roles import Role
from common.schemas.auth import UserCreate
from sync_server.config import Settings
from sync_server.db import make_engine, make_sessionmaker, transaction

Handler = Callable[[argparse.Namespace, Settings], int]


def _engine(settings: Settings):
    from sync_server.audit.keys import Keyring, attach

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    attach(engine, Keyring.from_settings(settings))
    return engine


def _migrated_engine(settings: Settings):
    """Return the engine if the database has this version's schema, else None (said why)."""
    from sync_server.migrations.runner import is_up_to_date

    engine = _engine(settings)
    if is_up_to_date(engine):
        return engine
    _fail(
        "the database is not initialised or has an older schema; run 'stockpilot-server init' "
        "(a new database) or 'stockpilot-server serve' once (it migrates) first.",
        code=1,
    )
    return None


def _fail(message: str, *, code: int = 2) -> int:
    print(f"stockpilot-server: {message}", file=sys.stderr)
    return code


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.bootstrap import init

    result = init(
        _engine(settings),
        tenant=args.tenant,
        admin_username=args.admin_username,
        admin_password=args.admin_password,
        admin_pin=args.admin_pin,
    )
    if not result.created:
        print(f"Already initialised (admin user: {result.admin_username}); nothing changed.")
        return 0
    print(f"Initialised {settings.resolved_database_url}")
    print(f"  business: {args.tenant}")
    print(f"  admin:    {result.admin_username}")
    if result.admin_password:
        print(f"  password: {result.admin_password}   (shown once)")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from sync_server.migrations.runner import upgrade

    upgrade(_engine(settings))
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(
        f"StockPilot server on http://{args.host}:{args.port}  (API docs: "
        f"http://{args.host}:{args.port}/docs)",
        flush=True,
    )
    uvicorn.run(
        "sync_server.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        access_log=args.access_log,
    )
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.auth import service
    from sync_server.org.models import Tenant

    password = args.password or getpass.getpass(f"Password for {args.username}: ")
    factory = make_sessionmaker(_engine(settings))
    with transaction(factory) as session:
        tenant = session.scalar(select(Tenant).order_by(Tenant.id))
        if tenant is None:
            print(
                "The database is not initialised; run 'stockpilot-server init' first.",
                file=sys.stderr,
            )
            return 2
        user = service.create_user(
            session,
            actor=None,
            tenant_id=tenant.id,
            data=UserCreate(
                username=args.username,
                full_name=args.full_name or "",
                password=password,
                pin=args.pin,
                role=Role(args.role),
            ),
        )
        print(f"Created {user.role} '{user.username}' (id {user.id}).")
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.demo import load_demo_data

    summary = load_demo_data(_engine(settings))
    print(summary)
    return 0


def _read_checkpoints(values: list[str]):
    """Return the checkpoints named on the command line (files or the text itself)."""
    from pathlib import Path

    from sync_server.audit.checkpoints import PREFIX, parse

    found = []
    for value in values:
        if value.lstrip().startswith(PREFIX):
            found += parse(value)
            continue
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"--checkpoint {value!r} is neither a file nor a checkpoint line.")
        try:
            found += parse(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from exc
    return found


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from common.errors import ValidationFailed
    from sync_server.audit.checkpoints import verify_against
    from sync_server.audit.service import verify
    from sync_server.org.models import Tenant

    try:
        points = _read_checkpoints(args.checkpoint or [])
    except (ValueError, ValidationFailed) as exc:
        return _fail(str(exc))
    engine = _migrated_engine(settings)
    if engine is None:
        return 1
    factory = make_sessionmaker(engine)
    broken = 0
    with transaction(factory, readonly=True) as session:
        tenants = session.scalars(select(Tenant).order_by(Tenant.id)).all()
        unknown = {p.tenant_id for p in points} - {t.id for t in tenants}
        if unknown:
            return _fail(f"the checkpoint names business {min(unknown)}, which is not here.")
        for tenant in tenants:
            report = verify(session, tenant_id=tenant.id)
            mine = [p for p in points if p.tenant_id == tenant.id]
            try:
                for point in mine:
                    report = verify_against(session, checkpoint=point, report=report)
            except ValidationFailed as exc:
                return _fail(str(exc))
            if report.ok:
                waiting = f", {report.pending} not chained yet" if report.pending else ""
                proved = (
                    f"; holds {len(mine)} checkpoint(s), the latest at entry "
                    f"{max(p.seq for p in mine)}"
                    if mine
                    else ""
                )
                print(f"{tenant.name}: chain intact ({report.entries} entries{waiting}){proved}")
            else:
                broken += 1
                print(f"{tenant.name}: BROKEN: {report.reason}")
                for problem in report.problems[1:20]:
                    print(f"  also: {problem}")
    return 1 if broken else 0


def cmd_audit_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from common.errors import InvalidState
    from sync_server.audit.checkpoints import make_checkpoint
    from sync_server.db import utcnow
    from sync_server.org.models import Tenant

    engine = _migrated_engine(settings)
    if engine is None:
        return 1
    factory = make_sessionmaker(engine)
    lines = []
    with transaction(factory) as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.id)).all():
            try:
                point = make_checkpoint(session, tenant_id=tenant.id, now=utcnow())
            except InvalidState as exc:
                return _fail(f"{tenant.name}: {exc}", code=1)
            if point is not None:
                lines.append(point.text)
    if args.out:
        try:
            with open(args.out, "a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines)
        except OSError as exc:
            return _fail(f"cannot write {args.out}: {exc.strerror}", code=1)
    for line in lines:
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="stockpilot-server",
        description="Run and look after a StockPilot sync server. Settings come from "
        "STOCKPILOT_* environment variables (STOCKPILOT_DATABASE_URL, STOCKPILOT_DATA_DIR, "
        "STOCKPILOT_SECRET_KEY); with none, a SQLite file in ./var is used.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create the database schema, the business and its admin")
    p.add_argument("--tenant", default="My Shop", help="business name (default: My Shop)")
    p.add_argument("--admin-username", default="admin", help="admin login (default: admin)")
    p.add_argument("--admin-password", help="admin password; omit to generate and print one")
    p.add_argument("--admin-pin", help="4-8 digit PIN for the admin at the till")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("serve", help="run the HTTP API (migrates first)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("create-user", help="add a user to the business")
    p.add_argument("username")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.CASHIER.value)
    p.add_argument("--password", help="omit to be asked")
    p.add_argument("--pin", help="4-8 digit PIN for till login")
    p.add_argument("--full-name")
    p.set_defaults(handler=cmd_create_user)

    p = sub.add_parser(
        "demo-data",
        help="load a realistic demo shop (two branches, products, "
        "suppliers, customers, staff, stock); safe to run twice",
    )
    p.set_defaults(handler=cmd_demo_data)

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = audit_sub.add_parser(
        "verify",
        help="check the keyed chain (and, with --checkpoint, that nothing up to a checkpoint "
        "was removed or rewritten); exit 1 if broken",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        metavar="FILE|TEXT",
        help="a checkpoint line (from a Z report, e-mail or the checkpoint file) or a file of "
        "them; may be given more than once",
    )
    p.set_defaults(handler=cmd_audit_verify)
    p = audit_sub.add_parser(
        "checkpoint", help="sign the chain head of every business now and print the lines"
    )
    p.add_argument("--out", metavar="FILE", help="also append the lines to this file")
    p.set_defaults(handler=cmd_audit_checkpoint)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Return the subcommand registrars of the domains (their cli.py register())."""
    from sync_server.domains import domain_modules

    return [module.register for module in domain_modules("cli")]


def main(argv: list[str] | None = None) -> int:
    """Entry point of stockpilot-server."""
    args = build_parser().parse_args(argv)
    return args.handler(args, Settings())


if __name__ == "__main__":
    sys.exit(main())
