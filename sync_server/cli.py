"""stockpilot-server: set up, run and look after a StockPilot sync server."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from common.cli import CliError, OneLineParser, Subcommands, run_guarded, usage_error, whole_number
from common.roles import Role
from sync_server.cli_support import (
    PROG,
    add_business_options,
    engine_for,
    find_tenant,
    log_dirs,
    migrated_sessions,
    print_business,
    refuse_missing_database,
    sessions,
    translate_db_error,
)

if TYPE_CHECKING:
    from sync_server.audit.checkpoints import Checkpoint
    from sync_server.config import Settings

# A command imports SQLAlchemy, the settings and the schemas when it runs, not at start-up:
# --help and bad usage answer without them.

Handler = Callable[[argparse.Namespace, "Settings"], int]

# How the fields of the user and business forms are called on the command line.
LABELS = {
    "admin_username": "--admin-username",
    "admin_password": "--admin-password",
    "admin_pin": "--admin-pin",
    "username": "username",
    "password": "--password",
    "pin": "--pin",
    "full_name": "--full-name",
    "name": "name",
    "currency": "--currency",
    "branch_name": "--branch-name",
    "branch_code": "--branch-code",
    "code": "--code",
}


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from sync_server.provisioning.service import init, tenant_form

    # Refuse bad input before the database file or its schema is made.
    tenant_form(
        name=args.tenant,
        admin_username=args.admin_username,
        admin_password=args.admin_password,
        admin_pin=args.admin_pin,
        currency=args.currency,
        branch_name=None if args.no_branch else args.branch_name,
        branch_code=args.branch_code,
    )
    result = init(
        engine_for(settings, create=True),
        tenant=args.tenant,
        admin_username=args.admin_username,
        admin_password=args.admin_password,
        admin_pin=args.admin_pin,
        currency=args.currency,
        branch_name=None if args.no_branch else args.branch_name,
        branch_code=args.branch_code,
    )
    if not result.created:
        print(
            f"Already initialised (admin user: {result.admin_username}); nothing changed. "
            "Another business is added with 'stockpilot-server tenant create'."
        )
        return 0
    print(f"Initialised {settings.resolved_database_url}")
    print_business(
        name=args.tenant,
        admin=result.admin_username,
        password=result.admin_password,
        branch=result.branch,
    )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import logging.config

    import uvicorn

    from sync_server.logs import log_config
    from sync_server.migrations.heads import upgrade_if_behind

    if settings.tenant_api:
        from sync_server.operator_api import OperatorApiMisconfigured, operator_key

        try:
            operator_key(settings)
        except OperatorApiMisconfigured as exc:
            # Said here, once, rather than as a traceback from every worker that imports the app.
            raise usage_error(str(exc)) from None
    upgrade_if_behind(engine_for(settings, create=True))
    config = log_config(settings.log_level)
    logging.config.dictConfig(config)
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
        # Applied again in each worker process, so every line has its time and level.
        log_config=config,
        server_header=False,
    )
    return 0


def _password(args: argparse.Namespace) -> str:
    """Return --password, or ask for it on the terminal (twice, so a typo is caught)."""
    given: str | None = args.password
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise usage_error("give --password: there is no terminal to ask for it on")
    first = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Again: ") != first:
        raise usage_error("the two passwords differ; nothing changed")
    return first


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sqlalchemy import select

    from common.schemas.auth import UserCreate
    from sync_server.auth import service
    from sync_server.db import transaction
    from sync_server.org.models import Branch

    factory = sessions(settings)
    with transaction(factory, readonly=True) as session:
        find_tenant(session, args.tenant)
    data = UserCreate(
        username=args.username,
        full_name=args.full_name or "",
        password=_password(args),
        pin=args.pin,
        role=Role(args.role),
    )
    with transaction(factory) as session:
        tenant = find_tenant(session, args.tenant)
        branch_ids = []
        for code in args.branch or ():
            branch_id = session.scalar(
                select(Branch.id).where(Branch.tenant_id == tenant.id, Branch.code == code.upper())
            )
            if branch_id is None:
                raise usage_error(
                    f"No branch with code '{code}' in {tenant.name}; "
                    "see 'stockpilot-server branch list'."
                )
            branch_ids.append(branch_id)
        data = data.model_copy(update={"branch_ids": branch_ids})
        user = service.create_user(session, actor=None, tenant_id=tenant.id, data=data)
        where = f" at {', '.join(c.upper() for c in args.branch)}" if args.branch else ""
        print(f"Created {user.role} '{user.username}' (id {user.id}){where} in {tenant.name}.")
    return 0


def cmd_demo_data(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sync_server.demo import DemoRefused, load_demo_data

    try:
        summary = load_demo_data(
            engine_for(settings), settings=settings, force=args.force, history=not args.no_history
        )
    except DemoRefused as refused:
        raise CliError(str(refused)) from None
    print(summary)
    return 0


def _read_checkpoints(values: list[str]) -> list[Checkpoint]:
    """Return the checkpoints named on the command line (files or the text itself)."""
    if not values:
        return []
    from pathlib import Path

    from sync_server.audit.checkpoints import PREFIX, parse

    found: list[Checkpoint] = []
    for value in values:
        if value.lstrip().startswith(PREFIX):
            found += parse(value)
            continue
        path = Path(value)
        if not path.is_file():
            raise usage_error(f"--checkpoint {value!r} is neither a file nor a checkpoint line.")
        try:
            found += parse(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise usage_error(f"cannot read {value}: {exc.strerror}") from exc
    return found


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    points = _read_checkpoints(args.checkpoint or [])
    refuse_missing_database(settings)
    from sqlalchemy import select

    from sync_server.audit.checkpoints import verify_against
    from sync_server.audit.service import verify
    from sync_server.db import transaction
    from sync_server.org.models import Tenant

    broken = 0
    with transaction(migrated_sessions(settings), readonly=True) as session:
        tenants = session.scalars(select(Tenant).order_by(Tenant.id)).all()
        unknown = {p.tenant_id for p in points} - {t.id for t in tenants}
        if unknown:
            raise usage_error(f"the checkpoint names business {min(unknown)}, which is not here.")
        for tenant in tenants:
            report = verify(session, tenant_id=tenant.id)
            mine = [p for p in points if p.tenant_id == tenant.id]
            for point in mine:
                # A checkpoint this server's keys did not sign is bad input (exit 2).
                report = verify_against(session, checkpoint=point, report=report)
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
    refuse_missing_database(settings)
    from sqlalchemy import select

    from common.errors import InvalidState
    from sync_server.audit.checkpoints import make_checkpoint
    from sync_server.db import transaction, utcnow
    from sync_server.org.models import Tenant

    lines = []
    with transaction(migrated_sessions(settings)) as session:
        for tenant in session.scalars(select(Tenant).order_by(Tenant.id)).all():
            try:
                point = make_checkpoint(session, tenant_id=tenant.id, now=utcnow())
            except InvalidState as exc:
                raise CliError(f"{tenant.name}: {exc.detail}") from exc
            if point is not None:
                lines.append(point.text)
    if args.out:
        try:
            with open(args.out, "a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines)
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror}") from exc
    for line in lines:
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser with every subcommand."""
    parser = OneLineParser(
        prog=PROG,
        description="Run and look after a StockPilot sync server. Settings come from "
        "STOCKPILOT_* environment variables (STOCKPILOT_DATABASE_URL, STOCKPILOT_DATA_DIR, "
        "STOCKPILOT_SECRET_KEY); with none, a SQLite file in ./var is used. Exit codes: 0 done, "
        "1 failed, 2 bad usage or input.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "init", help="create the database schema, the first business, its admin and branch"
    )
    p.add_argument("--tenant", default="My Shop", help="business name (default: My Shop)")
    add_business_options(p)
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("serve", help="run the HTTP API (migrates first)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=whole_number(1, 65535), default=8765)
    p.add_argument(
        "--workers", type=whole_number(1, 256), default=1, help="uvicorn worker processes"
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("create-user", help="add a user to a business")
    p.add_argument("username")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.CASHIER.value)
    p.add_argument("--password", help="omit to be asked (needs a terminal)")
    p.add_argument("--pin", help="4-8 digit PIN for till login")
    p.add_argument("--full-name")
    p.add_argument(
        "--branch",
        action="append",
        metavar="CODE",
        help="branch the user works at (repeat for several); a till signs in only its "
        "branch's staff",
    )
    p.add_argument("--tenant", help="business name, when several share the server")
    p.set_defaults(handler=cmd_create_user)

    p = sub.add_parser(
        "demo-data",
        help="load a realistic demo shop (two branches, products, suppliers, customers, staff, "
        "stock) and a month of its history into an empty business",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="load even into a business that holds data (adds staff with known passwords)",
    )
    p.add_argument(
        "--no-history", action="store_true", help="skip the month of sales, orders and purchases"
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


def _extensions() -> list[Callable[[Subcommands], None]]:
    """Return the subcommand registrars of the domains (their cli.py register())."""
    from sync_server.domains import domain_modules

    return [module.register for module in domain_modules("cli")]


def main(argv: list[str] | None = None) -> int:
    """Entry point of stockpilot-server: every error ends as one line and an exit code."""
    args = build_parser().parse_args(argv)
    settings: list[Settings] = []

    def body() -> int:
        from sync_server.config import Settings

        settings.append(Settings())
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings[0])

    return run_guarded(
        prog=PROG,
        body=body,
        translate=translate_db_error,
        log_dirs=lambda: log_dirs(settings[0]) if settings else [],
        labels=LABELS,
    )


if __name__ == "__main__":
    sys.exit(main())
