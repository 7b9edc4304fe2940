"""Measurement only: a pytest plugin (-p scripts.cpuprof.fileprof) that writes, per test file,
the CPU of the pytest process and of the child processes it reaped, and the wall time."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import pytest

_totals: dict[str, list[float]] = {}


def _now() -> tuple[float, float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Server commands forked by the test zygote (tests/zygote.py) are its children, not this
    # process's: it reports each one's CPU when it reaps it.
    zygote = sys.modules.get("tests.zygote")
    forked = getattr(zygote, "children_cpu", 0.0)
    return (me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime + forked, time.monotonic())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ARG001
    before = _now()
    yield
    after = _now()
    row = _totals.setdefault(item.nodeid.split("::", 1)[0], [0.0, 0.0, 0.0, 0])
    for i in range(3):
        row[i] += after[i] - before[i]
    row[3] += 1
    name = item.nodeid.split("::", 1)[0]
    if nextitem is None or nextitem.nodeid.split("::", 1)[0] != name:
        _flush(name)


def _flush(name: str) -> None:
    path = os.environ.get("CPUPROF_FILE_LOG")
    cpu, kids, wall, n = _totals.pop(name)
    if not path:
        return
    with open(path, "a") as f:
        f.write(
            json.dumps(
                {
                    "file": name,
                    "cpu": round(cpu, 3),
                    "children": round(kids, 3),
                    "wall": round(wall, 3),
                    "tests": n,
                    "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
                }
            )
            + "\n"
        )


def pytest_sessionfinish(session):  # noqa: ARG001
    for name in list(_totals):
        _flush(name)
