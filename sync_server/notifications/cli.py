"""stockpilot-server worker: deliver the notification outbox."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import TYPE_CHECKING

from common.cli import Subcommands
from sync_server.cli_support import refuse_missing_database

if TYPE_CHECKING:
    from sync_server.config import Settings


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    refuse_missing_database(settings)
    from sync_server.cli_support import migrated_sessions
    from sync_server.foundation import jobs
    from sync_server.notifications.dispatcher import dispatch_due, run_forever

    # An initialised database at this version's schema, its audit keys attached.
    factory = migrated_sessions(settings)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.once:
        delivered = dispatch_due(factory, settings=settings, limit=args.limit)
        print(f"Delivered {delivered} notification(s).")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # The same worker runs the domains' loops (integrity signs audit checkpoints and runs the
    # nightly ledger check), registered in their receivers.py.
    threads = [
        threading.Thread(
            target=loop,
            args=(factory,),
            kwargs={"settings": settings, "stop": stop},
            name=name,
            daemon=True,
        )
        for name, loop in jobs.loops().items()
    ]
    for thread in threads:
        thread.start()
    print("Notification worker running; Ctrl+C stops it.", flush=True)
    run_forever(factory, settings=settings, stop=stop, interval=args.interval)
    for thread in threads:
        thread.join(timeout=10)
    return 0


def register(subparsers: Subcommands) -> None:
    """Add the worker command."""
    p = subparsers.add_parser(
        "worker",
        help="deliver queued notifications (e-mail, webhooks) with retry, sign audit "
        "checkpoints and check the ledgers nightly; several may run",
    )
    p.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    p.add_argument("--limit", type=int, default=50, help="notifications per round (with --once)")
    p.add_argument("--interval", type=float, default=None, help="seconds between idle rounds")
    p.set_defaults(handler=cmd_worker)
