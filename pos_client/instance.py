"""One till per data folder: a lock file held while the till runs, read by restore."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

LOCK_FILENAME = "till.lock"
# Windows locks byte ranges; the lock sits far past the pid text so readers can still read it.
_WINDOWS_LOCK_OFFSET = 1 << 20


class TillRunning(Exception):
    """Another process holds the till's data folder."""

    def __init__(self, *, data_dir: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"a till is running on {data_dir} ({who}); close it first")
        self.pid = pid


class InstanceLock:
    """An exclusive, non-blocking lock on <data_dir>/till.lock; the OS drops it when we exit."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILENAME
        self._file: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        """Take the lock or raise TillRunning naming the holder's pid."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="ascii")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            raise TillRunning(data_dir=self.data_dir, pid=self._holder()) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Let go of the lock (closing the file releases it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _holder(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(handle: IO[str]) -> None:
    """Lock the file without waiting; raise OSError when someone else holds it."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(_WINDOWS_LOCK_OFFSET)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
