"""`stockpilot-server serve --workers 2`: every worker logs with time and level, headers hold."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import web

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, *, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return web.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_two_workers_log_with_time_and_level_and_send_no_server_header(tmp_path: Path):
    port = _free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "STOCKPILOT_DATA_DIR": str(tmp_path / "data"),
        "STOCKPILOT_SECRET_KEY": "serve-test-secret-key-long-enough-for-hs256",
    }
    env.pop("STOCKPILOT_DATABASE_URL", None)
    with log.open("w") as out:
        # Output to a file, never an unread pipe: access lines would fill it and block.
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync_server.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--access-log",
            ],
            stdout=subprocess.DEVNULL,
            stderr=out,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/health"
        first = _wait_for(url, seconds=60)
        answers = [first] + [web.get(url, timeout=5) for _ in range(20)]
        missing = web.get(f"http://127.0.0.1:{port}/api/v1/products", timeout=5)
        for answer in [*answers, missing]:
            assert "server" not in answer.headers
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert missing.status_code == 401
        time.sleep(0.5)  # let both workers flush their access lines
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    access = [line for line in lines if '"GET /api/v1/health' in line]
    assert len(access) >= 21, lines
    # Both worker processes answered and logged (uvicorn prints each worker's pid).
    workers = {m.group(1) for line in lines for m in [re.search(r"process \[(\d+)\]", line)] if m}
    assert len(workers) >= 2, lines
    bad = [line for line in lines if not LINE.match(line)]
    assert not bad, bad
