"""Run the server as an operator does: uvicorn in its own process, on loopback, by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests import web, zygote


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(
    *, env: dict[str, str], log_path: Path, workers: int = 1, timeout_s: float = 90
) -> Iterator[str]:
    """Start `uvicorn sync_server.asgi:app` with STOCKPILOT_* env; yield its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "sync_server.asgi:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--log-level", "warning"]
    # Output goes to a file, never an unread pipe (a full pipe blocks the server).
    with log_path.open("wb") as log:
        process = zygote.popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        ready = 0
        while ready < workers * 2:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            try:
                # Several answers in a row, so every worker has had time to start.
                ready += web.get(f"{url}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = 0
            time.sleep(0.1)
        yield url
    finally:
        # The session leader is uvicorn: end it and its workers by its own process group.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
