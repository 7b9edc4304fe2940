"""Database work off the GUI thread: every store access runs on one worker thread.

Widgets describe work as a `QueryOp` (read) or `CommandOp` (one transaction that commits
only if the function returns). The function gets a SQLAlchemy session, runs on the DB
worker thread and never touches a widget; its success or failure callback runs on the GUI
thread. One worker means writes are serial: no two till actions ever race in the store.
A command may be given what to do once its success callback ran (`then`): the till's context
uses it to publish what the command changed. (Every till thread starts in `qt/threads.py`.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot
from sqlalchemy.orm import Session

from pos_client.qt.threads import start_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
SessionSource = Callable[[], Any]  # a LocalStore-like object with session() and transaction()


@dataclass
class _Job:
    fn: Callable[[Session], Any]
    write: bool
    success: Callable[[Any], object] | None
    failure: Callable[[BaseException], None] | None


class OpRunner(QObject):
    """Run database functions one at a time on a worker thread; report on the GUI thread."""

    _finished = Signal(object, object, object)  # job, result, error
    busy_changed = Signal(bool)

    def __init__(
        self,
        *,
        store: Any,
        reads: Callable[[], Session] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        # Queries may use their own read-only connection: in WAL mode it never waits for a
        # writer (the sync thread applying a pull), so a scan is not held up by a sync.
        self._reads = reads or store.session
        self.on_error = on_error
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._thread = start_thread(self._work, name="till-db")

    @property
    def pending(self) -> int:
        """Return how many ops are queued or running."""
        return self._pending

    def submit(self, job: _Job) -> None:
        """Queue a job for the worker."""
        with self._lock:
            self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._jobs.put(job)

    def close(self) -> None:
        """Finish the queued ops and stop the worker."""
        self._jobs.put(None)
        self._thread.join(10)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if job.write:
                    with self.store.transaction() as session:
                        result = job.fn(session)
                else:
                    with self._reads() as session:
                        result = job.fn(session)
                        session.rollback()
                self._finished.emit(job, result, None)
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as is
                self._finished.emit(job, None, exc)

    @Slot(object, object, object)
    def _deliver(self, job: _Job, result: Any, error: BaseException | None) -> None:
        with self._lock:
            self._pending -= 1
        try:
            if error is None:
                if job.success is not None:
                    job.success(result)
            elif job.failure is not None:
                job.failure(error)
            elif self.on_error is not None:
                self.on_error(error)
            else:
                log.error("Till op failed", exc_info=error)
        finally:
            if self._pending == 0:
                self.busy_changed.emit(False)


class _Op(Generic[T]):
    _write = False

    def __init__(
        self,
        fn: Callable[[Session], T],
        *,
        runner: OpRunner,
        then: Callable[[], None] | None = None,
    ) -> None:
        self._fn = fn
        self._runner = runner
        # Called after the success callback: how a command tells screens what it changed.
        self._then = then
        self._success: Callable[[T], object] | None = None
        self._failure: Callable[[BaseException], None] | None = None

    def success(self, callback: Callable[[T], object]) -> _Op[T]:
        """Call back on the GUI thread with the function's result."""
        self._success = callback
        return self

    def failure(self, callback: Callable[[BaseException], None]) -> _Op[T]:
        """Call back on the GUI thread with the error (default: the runner's error handler)."""
        self._failure = callback
        return self

    def run(self) -> None:
        """Queue the op on the DB worker and return at once."""
        first, then = self._success, self._then
        success = first
        if then is not None:

            def succeeded(result: T) -> None:
                if first is not None:
                    first(result)
                then()

            success = succeeded
        self._runner.submit(
            _Job(fn=self._fn, write=self._write, success=success, failure=self._failure)
        )


class QueryOp(_Op[T]):
    """Read from the store on the worker thread; nothing it does is committed."""


class CommandOp(_Op[T]):
    """Change the store on the worker thread in one transaction."""

    _write = True
