"""Background work the worker runs for the domains, registered by each in its receivers.py.

The worker (notifications' dispatcher and its command) sits below the domains whose chores it
runs, so it never imports them: a domain registers a round (run after each dispatch round,
e.g. expiring unpaid online orders) or a loop (run in a thread of its own beside the
dispatcher, e.g. the integrity watch), and domains.load_receivers imports every registration
before the worker asks for them.
"""

from __future__ import annotations

import threading
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from sync_server.config import Settings
from sync_server.domains import load_receivers


class Round(Protocol):
    """Do one batch of a chore; return how much it did (0 lets the worker idle)."""

    def __call__(self, session_factory: sessionmaker[Session]) -> int: ...


class Loop(Protocol):
    """Run a chore until stop is set."""

    def __call__(
        self, factory: sessionmaker[Session], *, settings: Settings, stop: threading.Event
    ) -> None: ...


_ROUNDS: dict[str, Round] = {}
_LOOPS: dict[str, Loop] = {}


_Job = TypeVar("_Job", Round, Loop)


def _register(registry: dict[str, _Job], name: str, job: _Job) -> None:
    known = registry.setdefault(name, job)
    if known is not job:
        raise ValueError(f"The background job {name!r} is already registered: {known}.")


def register_round(name: str, job: Round) -> None:
    """Have the worker run job after each of its dispatch rounds."""
    _register(_ROUNDS, name, job)


def register_loop(name: str, job: Loop) -> None:
    """Have the worker command run job in a thread of its own."""
    _register(_LOOPS, name, job)


def rounds() -> dict[str, Round]:
    """Return every registered round by name, in registration order."""
    load_receivers()
    return dict(_ROUNDS)


def loops() -> dict[str, Loop]:
    """Return every registered loop by name, in registration order."""
    load_receivers()
    return dict(_LOOPS)


def run_rounds(factory: sessionmaker[Session]) -> int:
    """Run every registered round once; return the work they did together."""
    return sum(job(factory) for job in rounds().values())
