"""The till starts threads only from pos_client/qt/ (through qt/threads.start_thread)."""

from __future__ import annotations

import ast
from pathlib import Path

import pos_client

ROOT = Path(pos_client.__file__).parent
# Constructors that start (or own) threads: a thread, a pool of them, Qt's own.
STARTERS = {"Thread", "ThreadPoolExecutor", "QThread", "QThreadPool", "Timer"}


def thread_starts(path: Path) -> list[str]:
    """Return where a file constructs a thread or a pool of them."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = (
            func.value.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else ""
        )
        if name in STARTERS and (name != "Timer" or owner == "threading"):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {name}")
    return found


def test_threads_are_started_only_from_the_qt_package() -> None:
    outside = [
        where
        for path in sorted(ROOT.rglob("*.py"))
        if "qt" not in path.relative_to(ROOT).parts[:1]
        for where in thread_starts(path)
    ]
    assert outside == []


def test_the_check_sees_the_threads_qt_starts() -> None:
    inside = [
        where for path in sorted((ROOT / "qt").rglob("*.py")) for where in thread_starts(path)
    ]
    assert any("qt/threads.py" in where and "Thread" in where for where in inside)
    assert any("qt/network.py" in where and "ThreadPoolExecutor" in where for where in inside)
