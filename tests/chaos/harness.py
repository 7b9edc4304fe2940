"""Real parts for the chaos suite: a killable server process, tills, a hostile network.

Each fault scenario runs a real `stockpilot-server serve` process (so it can be killed with
SIGKILL and started again), real till stores driven by the till's own sync engine, and,
where the network is the fault, a loopback proxy that cuts, delays and replays traffic.
Scenarios write their figures to a JSON-lines file that `scripts/chaos.sh` prints as a table.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from pos_client.services.sync_engine import SyncEngine
from pos_client.store.db import LocalStore
from tests import web, zygote
from tests.sync.lossy_proxy import LoopbackProxy

ROOT = Path(__file__).resolve().parents[2]
SCALE = os.environ.get("STOCKPILOT_CHAOS_SCALE", "short")  # "short" in CI, "full" by hand
FULL = SCALE == "full"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync_server.cli", *args]


def admin_token_over_api(url: str, password: str) -> str:
    """Sign the admin in at a running server; return the access token."""
    answer = web.post(
        f"{url}/api/v1/auth/login",
        json={"username": "admin", "password": password},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def enrol_code_over_api(url: str, token: str, branch: str) -> str:
    """Return a one-time till code for the branch (by its code), asked as a manager's screen
    asks: over the API (a `device enrol-code` process costs a second of CPU more)."""
    headers = {"Authorization": f"Bearer {token}"}
    branches = web.get(f"{url}/api/v1/branches", params={"limit": 500}, headers=headers, timeout=30)
    branches.raise_for_status()
    (branch_id,) = [b["id"] for b in branches.json()["items"] if b["code"] == branch]
    answer = web.post(
        f"{url}/api/v1/devices/enrolment-codes",
        json={"branch_id": branch_id},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["code"]


@dataclass
class ServerProcess:
    """A `stockpilot-server serve` process on a data dir, which a scenario may kill."""

    data_dir: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | zygote.Popen | None = None
    _token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "STOCKPILOT_DATA_DIR": str(self.data_dir),
            "STOCKPILOT_SECRET_KEY": "chaos-secret-key-that-is-long-enough-for-hs256",
            "PYTHONPATH": str(ROOT),
        }
        if self.database_url:
            env["STOCKPILOT_DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str) -> str:
        """Run a stockpilot-server command on this data dir; return what it printed."""
        result = zygote.run(_server_command(*args), env=self.env(), cwd=ROOT, timeout=180)
        if result.returncode != 0:
            raise RuntimeError(f"stockpilot-server {' '.join(args)}: {result.stderr[-2000:]}")
        return result.stdout

    def start(self) -> None:
        log = (self.data_dir / "server.log").open("ab")
        self.process = zygote.popen(
            _server_command("serve", "--port", str(self.port)),
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data_dir / 'server.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if web.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not answer /health within 60 s")

    def kill(self) -> None:
        """Kill the server the hard way (power cut, OOM killer): no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def enrol_code(self, branch: str = "AND") -> str:
        """Return a one-time code for a till at that branch, issued by the running server.

        Asked over its API as a manager's screen does: a `device enrol-code` process for every
        till cost a second of CPU more (that command is run as a process by the CLI tests).
        """
        try:
            return enrol_code_over_api(self.url, self.admin_token(), branch)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 401:
                raise
            return enrol_code_over_api(self.url, self.admin_token(fresh=True), branch)

    def admin_token(self, *, fresh: bool = False) -> str:
        """The admin's access token, signed in for once and kept while the server takes it.

        A sign-in hashes the password at its real cost in the server (tens of ms of its CPU):
        the scenario's reads and codes reuse the token, and sign in again (`fresh`) only when
        the server no longer takes it (401: e.g. after a restore to an older database).
        """
        if fresh or self._token is None:
            self._token = admin_token_over_api(self.url, "chaos-admin-password")
        return self._token

    def get(self, path: str, **params) -> dict:
        def read(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            url = f"{self.url}/api/v1{path}"
            return web.get(url, params=params, headers=headers, timeout=30)

        answer = read(self.admin_token())
        if answer.status_code == 401:
            answer = read(self.admin_token(fresh=True))
        answer.raise_for_status()
        return answer.json()


def demo_server(
    tmp_path: Path, *, template: Path, database_url: str | None = None
) -> ServerProcess:
    """Return a stopped server holding the demo shop, on a copy of `template`'s data dir.

    On SQLite the copy holds the database file; on PostgreSQL `database_url` names a clone of
    the demo database that `demo_template` filled once (CREATE DATABASE ... TEMPLATE).
    """
    data_dir = tmp_path / "server"
    shutil.copytree(template, data_dir)
    return ServerProcess(data_dir, database_url=database_url)


def demo_template(path: Path, *, database_url: str | None = None) -> Path:
    """Initialise a data dir (and its database) with the demo shop, to be copied per scenario."""
    path.mkdir(parents=True, exist_ok=True)
    _initialise(ServerProcess(path, database_url=database_url))
    return path


def _initialise(server: ServerProcess) -> None:
    server.cli("init", "--tenant", "Demo Kirana", "--admin-password", "chaos-admin-password")
    server.cli("demo-data", "--no-history")  # the scenarios count their own tills' sales


def make_till(tmp_path: Path, server_url: str, code: str, *, name: str) -> SyncEngine:
    """Enrol a till store at the server (through server_url) with a one-time code."""
    store = LocalStore(tmp_path / f"{name}.db")
    engine = SyncEngine(store, timeout=5, batch_size=50, pull_limit=500, backoff_base=0.05)
    engine.enrol(server_url=server_url, code=code, name=name)
    # The catalog and stock the till sells from. A loaded machine can time the first pull
    # out (5 s); a till retries, and the scenario must not start on half a catalog.
    deadline = time.monotonic() + 60
    while (status := engine.sync_once()).last_error:
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} never finished its first sync: {status.last_error}")
        time.sleep(0.1)
    return engine


def sync_until_drained(engine: SyncEngine, *, seconds: float = 60) -> int:
    """Sync until the outbox is empty; return how many cycles it took."""
    deadline = time.monotonic() + seconds
    cycles = 0
    while time.monotonic() < deadline:
        cycles += 1
        status = engine.sync_once()
        if status.pending == 0 and status.online:
            return cycles
        time.sleep(0.05)
    raise AssertionError(f"outbox not drained in {seconds} s: {engine.sync_once()}")


class ChaosProxy(LoopbackProxy):
    """A loopback TCP proxy that, per connection, passes, cuts, delays or replays traffic.

    Faults (chosen at random with a seeded generator, each with probability `rate`):
    - cut the request half-way (the server never gets it whole),
    - cut the reply as it starts (the server did the work; the till never hears it),
    - delay the reply (a slow, congested link),
    - replay the request on a second upstream connection (a retrying middlebox).
    """

    FAULTS = ("cut_request", "cut_reply", "delay", "replay")

    def __init__(self, *, upstream_port: int, seed: int, rate: float = 0.3) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.counts = dict.fromkeys((*self.FAULTS, "pass"), 0)
        self.enabled = True
        self._lock = threading.Lock()
        super().__init__(upstream_port=upstream_port)

    def _choose(self) -> str:
        with self._lock:
            fault = "pass"
            if self.enabled and self.random.random() < self.rate:
                fault = self.random.choice(self.FAULTS)
            self.counts[fault] += 1
            return fault

    def _serve(self, client: socket.socket) -> None:
        # One request per connection: the till's client reconnects after a cut anyway.
        upstream = None
        try:
            request = _read_http_message(client)
            if request is None:
                return
            fault = self._choose()
            if fault == "cut_request":
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                upstream.sendall(request[: max(1, len(request) // 2)])
                return
            if fault == "replay":
                _forward(request, self.upstream_port)  # the copy's answer goes nowhere
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            upstream.sendall(request)
            reply = _read_http_message(upstream)
            if reply is None or fault == "cut_reply":
                return
            if fault == "delay":
                time.sleep(self.random.uniform(0.2, 1.5))
            client.sendall(reply)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()


def _forward(request: bytes, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as upstream:
        upstream.sendall(request)
        _read_http_message(upstream)


def _read_http_message(sock: socket.socket) -> bytes | None:
    """Read one HTTP/1.1 message (headers and a Content-Length or chunked body)."""
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = head.decode("latin-1").lower()
    if match := re.search(r"content-length:\s*(\d+)", headers):
        length = int(match.group(1))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
    elif "transfer-encoding: chunked" in headers:
        while not body.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
    return head + b"\r\n\r\n" + body


@dataclass
class Figures:
    """What one fault did: sales made vs landed, duplicates, what people were told."""

    fault: str
    engine: str
    sales_completed: int
    sales_on_server: int
    duplicates: int
    lost: int
    cashier_told: str
    manager_told: str
    notes: str = ""

    def record(self) -> None:
        """Append to the report file scripts/chaos.sh prints (if one was asked for)."""
        target = os.environ.get("STOCKPILOT_CHAOS_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(self)) + "\n")
