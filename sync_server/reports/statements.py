"""Report statements built once per shape and run with their values as bind parameters.

Building a report's statement (a union of five sources, subqueries, dozens of labelled
sums) cost more CPU than running it: ~20 ms of SQLAlchemy construction and cache-key work
per sales summary. So each statement is built once per *shape* — the engine's dialect,
which filters are set (`Filters.shape`), whether the summaries can answer, the report's
options — from `Filters.sql()`, whose values are bind parameters, and kept here. Every
run executes the kept statement with `Filters.params()` and the report's own values.
Nothing a caller chose is written into a kept statement: the tenant, dates, branches and
ids are bound on every execution, so one tenant's run can never show another's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

# Shapes are few (a report's options × which filters are set × two engines); the bound is
# a guard should a key ever carry a value by mistake, not a size ever expected.
MAX_KEPT = 4096
_kept: dict[tuple[Hashable, ...], object] = {}


def once(session: Session, key: tuple[Hashable, ...], build: Callable[[], T]) -> T:
    """Return the statement kept for key on the session's dialect, building it the first time.

    `key` must name the call site and everything `build` branches on; never a value.
    """
    full = (session.get_bind().dialect.name, *key)
    kept = _kept.get(full)
    if kept is None:
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        # Two threads may both build it; either statement is the same, one is kept.
        kept = _kept.setdefault(full, build())
    return kept  # type: ignore[return-value]


def kept(dialect: str) -> list[object]:
    """Return the statements kept for a dialect (for tests that inspect them)."""
    return [stmt for key, stmt in _kept.items() if key[0] == dialect]


def forget() -> None:
    """Drop every kept statement: the next run of each report builds its own again."""
    _kept.clear()
