"""The worker runs the chores the domains registered, whatever the process imported first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync_server.foundation import jobs
from sync_server.integrity.watch import run_forever
from sync_server.orders.expiry import expire_due

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_imported_only_the_worker_finds_every_chore() -> None:
    """Nothing imports orders or integrity first: their chores are registered all the same."""
    script = """
    import sys
    from sync_server.notifications import dispatcher  # noqa: F401  (the worker, alone)
    from sync_server.foundation import jobs

    assert "sync_server.orders.expiry" not in sys.modules, "imported before it was asked for"
    print(sorted(jobs.rounds()), sorted(jobs.loops()))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['orders.expire-unpaid'] ['integrity-watch']"


def test_a_chore_has_one_job() -> None:
    assert jobs.rounds()["orders.expire-unpaid"] is expire_due
    assert jobs.loops()["integrity-watch"] is run_forever
    jobs.register_round("orders.expire-unpaid", expire_due)  # the same again: no change
    with pytest.raises(ValueError, match="already registered"):
        jobs.register_round("orders.expire-unpaid", lambda session_factory: 0)
