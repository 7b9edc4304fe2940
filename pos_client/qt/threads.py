"""Where the till starts its threads: every one is started here, from `pos_client/qt/`.

The DB worker (`ops.py`), the network pool (`network.py`), the sync loop (`sync_worker.py`),
the print queue, the serial scanner, one-off server calls (`device_calls.py`) and the label
printer all start theirs through `start_thread`, so `grep start_thread` finds every thread
the till runs (tests/client/test_threads_start_in_qt.py checks nothing else starts one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer


def start_thread(target: Callable[[], object], *, name: str) -> threading.Thread:
    """Start a daemon thread running target: a closing till never waits on one it forgot."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def wait_off_gui_thread(fn: Callable[[], Any], *, name: str) -> Any:
    """Run fn on a thread while the window stays responsive; return its result or raise."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the GUI thread
            outcome["error"] = exc

    thread = start_thread(work, name=name)
    loop = QEventLoop()
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: None if thread.is_alive() else loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
