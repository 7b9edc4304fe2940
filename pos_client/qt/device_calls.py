"""Ask the server something with the till's own credential, off the GUI thread.

For the few calls a cashier waits on (a gift card's balance, a cart held at another till):
each runs on a short-lived thread so a slow or absent server never freezes the till, and the
answer comes back on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from pos_client.qt.threads import start_thread
from pos_client.services.sync_engine import SyncEngine


class _Relay(QObject):
    done = Signal(object, object)  # result, error


def call_server(
    engine: SyncEngine,
    fn: Callable[[SyncEngine], Any],
    *,
    success: Callable[[Any], None],
    failure: Callable[[BaseException], None],
    parent: QObject,
) -> None:
    """Run fn(engine) on a thread; call success or failure on the GUI thread."""
    relay = _Relay(parent)

    def deliver(result: Any, error: BaseException | None) -> None:
        relay.deleteLater()
        if error is not None:
            failure(error)
        else:
            success(result)

    relay.done.connect(deliver, Qt.ConnectionType.QueuedConnection)

    def work() -> None:
        try:
            relay.done.emit(fn(engine), None)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the screen
            relay.done.emit(None, exc)

    start_thread(work, name="till-device-call")
