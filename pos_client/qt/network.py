"""Server calls off the UI thread: a small pool of network threads, answers on the GUI thread.

Manager screens describe a server call as a `NetOp` (a function of the ApiClient) the way till
screens describe database work as a QueryOp/CommandOp. The function runs on a pool thread and
never touches a widget; its success or failure callback runs on the GUI thread. A call that
finds the server silent flips `reachable` to False (screens show a banner); the next call that
gets any answer flips it back. Nothing here ever waits on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

from pos_client.api.client import ApiClient, ApiError, ServerUnreachable

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Call:
    fn: Callable[[ApiClient], Any]
    success: Callable[[Any], None] | None
    failure: Callable[[BaseException], None] | None
    owner: QObject | None
    # Calls sharing a `latest` key supersede each other: only the newest one's answer is
    # delivered, so a slow earlier load never overwrites what a later one showed.
    latest: tuple[int, str] | None = None
    generation: int = 0


class NetworkPool(QObject):
    """Run API calls on a few worker threads; report each result on the GUI thread."""

    _finished = Signal(object, object, object)  # call, result, error
    busy_changed = Signal(bool)
    reachability_changed = Signal(bool)

    def __init__(
        self,
        *,
        client: ApiClient,
        workers: int = 4,
        on_error: Callable[[BaseException], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.on_error = on_error
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="net")
        self._pending = 0
        self._lock = threading.Lock()
        self._generations: dict[tuple[int, str], int] = {}
        self.reachable = True
        self._closed = False
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def pending(self) -> int:
        """Return how many calls are queued or running."""
        return self._pending

    def submit(self, call: _Call) -> None:
        """Queue a call on the pool."""
        if self._closed:
            return
        with self._lock:
            self._pending += 1
            first = self._pending == 1
            if call.latest is not None:
                call.generation = self._generations.get(call.latest, 0) + 1
                self._generations[call.latest] = call.generation
        if first:
            self.busy_changed.emit(True)
        self._executor.submit(self._work, call)

    def close(self) -> None:
        """Stop taking calls and let running ones finish in the background."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _work(self, call: _Call) -> None:
        try:
            result = call.fn(self.client)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as is
            self._finished.emit(call, None, exc)
        else:
            self._finished.emit(call, result, None)

    @Slot(object, object, object)
    def _deliver(self, call: _Call, result: Any, error: BaseException | None) -> None:
        with self._lock:
            self._pending -= 1
            idle = self._pending == 0
        try:
            self._set_reachable(not isinstance(error, ServerUnreachable))
            if call.owner is not None and not _alive(call.owner):
                return  # the screen that asked has gone; nobody wants the answer
            if call.latest is not None and self._generations.get(call.latest) != call.generation:
                return  # a newer call with the same key was made; its answer will follow
            if error is None:
                if call.success is not None:
                    call.success(result)
            elif call.failure is not None:
                call.failure(error)
            elif self.on_error is not None:
                self.on_error(error)
            else:
                log.error("Server call failed", exc_info=error)
        finally:
            if idle:
                self.busy_changed.emit(False)

    def _set_reachable(self, reachable: bool) -> None:
        if reachable != self.reachable:
            self.reachable = reachable
            self.reachability_changed.emit(reachable)


def _alive(obj: QObject) -> bool:
    try:
        obj.objectName()
    except RuntimeError:  # the C++ side was deleted
        return False
    return True


class NetOp(Generic[T]):
    """One server call: `NetOp(lambda api: api.products(q="tea"), pool=pool).success(cb).run()`."""

    def __init__(
        self, fn: Callable[[ApiClient], T], *, pool: NetworkPool, owner: QObject | None = None
    ) -> None:
        self._fn = fn
        self._pool = pool
        self._owner = owner
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._latest: tuple[int, str] | None = None

    def success(self, callback: Callable[[T], None]) -> NetOp[T]:
        """Call back on the GUI thread with the call's result."""
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> NetOp[T]:
        """Call back on the GUI thread with the error (default: the pool's error handler)."""
        self._failure = callback
        return self

    def latest(self, key: str) -> NetOp[T]:
        """Deliver only if no newer call with this key (and owner) was made meanwhile."""
        self._latest = (id(self._owner), key)
        return self

    def run(self) -> None:
        """Queue the call on the pool and return at once."""
        self._pool.submit(
            _Call(
                fn=self._fn,
                success=self._success,
                failure=self._failure,
                owner=self._owner,
                latest=self._latest,
            )
        )


def describe(error: BaseException) -> str:
    """Say what went wrong with a server call in words a manager can act on."""
    if isinstance(error, ApiError):
        return error.detail
    log.error("Unexpected error in a server call", exc_info=error)
    return f"Something went wrong: {error}"
