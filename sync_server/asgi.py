"""The ASGI app uvicorn imports in each worker process."""

from __future__ import annotations

from sync_server.config import Settings
from sync_server.main import collector_paused, create_app

# Start-up, with the collector off until the app's lifespan settles the heap (main.py): the
# keepers import most of the domains, and their modules' objects live as long as the process.
with collector_paused():
    from sync_server.integrity.watch import in_server_watch
    from sync_server.notifications.dispatcher import in_server_worker
    from sync_server.reports.keeper import in_server_summaries
    from sync_server.sync.keeper import in_server_keeper

    # The feed and audit keeper runs in every worker (its head locks let one in at a time).
    # The embedded setup delivers notifications from inside the server (SKIP LOCKED shares
    # work). The integrity watch (audit checkpoints, nightly ledger check) runs with that
    # worker. The report summary keeper runs in every worker too (a row lock lets one in at
    # a time).
    _worker = [in_server_worker, in_server_watch] if Settings().run_worker_in_server else []
    app = create_app(background=[in_server_keeper, in_server_summaries, *_worker])
