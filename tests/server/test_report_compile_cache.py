"""Reports and summary steps reuse their compiled SQL: a repeat compiles nothing new.

SQLAlchemy compiles a statement once per engine and cache key; a statement whose shape
depends on the data (a value rendered into the SQL, a union as long as a list) would be
compiled again on every request. Every report over every filter variant is run twice (from
the lines alone and through the summaries): the second pass must find all its statements in
the engine's compiled cache, as must a summary step after steps of the same kind.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import CacheStats

from sync_server.db import transaction
from sync_server.reports import keeper
from tests.server.test_report_rollups import FIRST, _from_lines, _levels, _moves, _seed, _summarised


class Compiles:
    """The statements executed on an engine, by how its compiled cache answered."""

    def __init__(self) -> None:
        self.hits = 0
        self.fresh: list[str] = []  # compiled anew (a miss, or no cache key at all)


@contextmanager
def compiles(engine: Engine) -> Iterator[Compiles]:
    seen = Compiles()

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        if context is None or context.compiled is None:
            return  # a driver-level statement (BEGIN), never compiled
        if context.cache_hit is CacheStats.CACHE_HIT:
            seen.hits += 1
        else:
            seen.fresh.append(f"{context.cache_hit.name}: {statement}")

    event.listen(engine, "before_cursor_execute", spy)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", spy)


@pytest.mark.own_sql_cache
def test_a_second_run_of_every_report_and_a_repeated_step_compile_nothing_new(world):
    a = world.a
    rnd = random.Random(15)
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=rnd, count=40, prefix="A")
        _moves(s, a=a, rnd=rnd, count=80, prefix="MA", first=date(2025, 9, 10))
        s.flush()
        _levels(s, a=a)
    keeper.keep_once(world.sessions(), step=7)

    with compiles(world.engine) as first:
        lines, summed = _from_lines(world), _summarised(world)
    with compiles(world.engine) as second:
        assert (_from_lines(world), _summarised(world)) == (lines, summed)
    assert len(first.fresh) > 20  # the first run did compile: the count sees compiles
    assert second.fresh == []
    assert second.hits == first.hits + len(first.fresh)

    # Late sales (back to the first month) summed in steps: once steps of each kind have
    # run, more of them compile nothing, however many months and sums they touch.
    for round_ in range(3):
        with transaction(world.sessions()) as s:
            _seed(s, a=a, rnd=rnd, count=21, prefix=f"B{round_}", first=FIRST)
        keeper.keep_once(world.sessions(), step=7)
    with transaction(world.sessions()) as s:
        _seed(s, a=a, rnd=rnd, count=21, prefix="C", first=FIRST)
    with compiles(world.engine) as steps:
        assert keeper.keep_once(world.sessions(), step=7) >= 3
    assert steps.hits > 0
    assert steps.fresh == []
