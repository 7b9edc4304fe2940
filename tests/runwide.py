"""What a test run's workers make once and share: a folder of the run, a turn, a `made` mark.

Under xdist each worker has a temporary folder of its own, all under one parent; the run's
shared things live in that parent (or in the one folder of a run without workers). The
first worker to need one (a migrated template, the test world, the demo shop, the
PostgreSQL cluster) makes it while the others wait for their turn, then they all use it:
each worker making its own cost seconds of CPU more per worker.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def run_home(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """The folder `name` shared by the run's workers (made if need be)."""
    base = tmp_path_factory.getbasetemp()
    home = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextmanager
def turn(home: Path) -> Iterator[Path]:
    """Hold the folder's lock: one worker at a time looks at and changes what it holds."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield home


@contextmanager
def made_once(home: Path) -> Iterator[bool]:
    """In the folder's turn, say whether its contents are still to be made.

    The body makes them when told True; a `made` mark is left only when it returns, so a
    worker that failed halfway leaves the next one to make them again (and to clear what
    the failed attempt left).
    """
    with turn(home):
        made = home / "made"
        yield not made.exists()
        made.touch()
