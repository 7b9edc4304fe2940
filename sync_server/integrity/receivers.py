"""What integrity gives the worker: the watch (audit checkpoints, the nightly ledger check)."""

from __future__ import annotations

from sync_server.foundation.jobs import register_loop
from sync_server.integrity.watch import run_forever

register_loop("integrity-watch", run_forever)
