"""Find the domain packages (auth/, catalog/, inventory/…) and their parts by convention.

Each domain folder may hold models.py, routes.py (a ``router``), cli.py (a
``register(subparsers)``) and receivers.py (functions subscribed to the events of the
domains below it, see events.py); the app, Alembic, the CLI and the event bus pick them up
from here, so a new domain is wired in by existing, not by editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

_ROOT = Path(__file__).resolve().parent


def domain_names() -> list[str]:
    """Return the domain package names, sorted so wiring order is stable."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(_ROOT)])
        if info.ispkg and info.name != "migrations"
    )


def domain_modules(part: str) -> list[ModuleType]:
    """Import and return sync_server.<domain>.<part> for every domain that has one."""
    modules = []
    for name in domain_names():
        if (_ROOT / name / f"{part}.py").exists():
            modules.append(importlib.import_module(f"sync_server.{name}.{part}"))
    return modules


_receivers_loaded = False


def load_receivers() -> None:
    """Import every domain's receivers.py once, so each has subscribed to its events.

    events.publish calls this before it hands out an event, so no way of starting the
    server (or a script that imported only a service) can record a change that its
    receivers miss.
    """
    global _receivers_loaded
    if not _receivers_loaded:
        domain_modules("receivers")
        _receivers_loaded = True
