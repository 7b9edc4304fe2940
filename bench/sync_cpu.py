"""App-server CPU per till push and per pull, one `stockpilot-server serve` on PostgreSQL.

Run: `.venv/bin/python -m bench.bench_sync --only server-cpu [--stores 20] [--requests 400]`
(or `.venv/bin/python -m bench.sync_cpu`). A throwaway PostgreSQL, the server in a process of
its own configured as one app server of a chain (PgBouncer settings, a replica URL, which
here names the primary itself so that read-your-writes and replica routing run, Redis
rate-limit windows when redis-server is installed), and tills enrolled at N stores as
bench_scale enrols them. Each till pushes a 3-line cash sale (bench_scale's event), then the
same tills pull at the feed head. The CPU of the server process (user + system, from the
OS) is read around each phase, so the load generator and PostgreSQL are not counted; wall
time is printed beside it but moves with whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

BUDGET_PUSH_MS = 6.0
BUDGET_PULL_MS = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:13])  # utime stime
    return total / tick


class Redis:
    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Set up the database and server, then time the pushes and the pulls; return figures."""
    from sqlalchemy import create_engine, text

    from bench.bench_scale import provision, sale_event
    from tests import pgserver
    from tests.topology import AUDIT_KEY, SECRET

    work = Path(tempfile.mkdtemp(prefix="bench-sync-cpu-"))
    pg = pgserver.start()
    redis = Redis(work) if args.redis and shutil.which("redis-server") else None
    server = None
    try:
        admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        admin.dispose()
        url = f"{pg.url}/bench"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "STOCKPILOT_DATA_DIR": str(work / "app"),
            "STOCKPILOT_SECRET_KEY": SECRET,
            "STOCKPILOT_AUDIT_KEY": AUDIT_KEY,
            "STOCKPILOT_DATABASE_URL": url,
            "STOCKPILOT_DB_PGBOUNCER": "true" if args.pgbouncer else "false",
            "STOCKPILOT_RUN_WORKER_IN_SERVER": "true",
        }
        if args.replica:
            env["STOCKPILOT_DATABASE_REPLICA_URL"] = url
        if redis is not None:
            env["STOCKPILOT_REDIS_URL"] = redis.url
        (work / "app").mkdir()
        cli = [sys.executable, "-m", "sync_server.cli"]
        for command in (
            ["init", "--tenant", "Demo Kirana", "--admin-password", "bench-admin-pw"],
            ["demo-data", "--no-history"],
        ):
            subprocess.run(cli + command, env=env, cwd=ROOT, check=True, capture_output=True)
        tills, products, _online, _key = provision(
            SimpleNamespace(database_url=url), stores=args.stores
        )
        port = _free_port()
        log = (work / "server.log").open("ab")
        server = subprocess.Popen(
            [*cli, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start: see {work / 'server.log'}")
            time.sleep(0.2)
        figures: dict[str, float] = {}
        with httpx.Client(base_url=base, timeout=30) as http:

            def push_all(count: int) -> None:
                for n in range(count):
                    till = tills[n % len(tills)]
                    event = sale_event(till, products)
                    answer = http.post(
                        "/api/v1/sync/push",
                        json={"events": [event], "sent_at": datetime.now(UTC).isoformat()},
                        headers={"Authorization": f"Bearer {till.token}"},
                    )
                    answer.raise_for_status()
                    status = answer.json()["results"][0]["status"]
                    if status != "applied":
                        raise RuntimeError(f"push answered {answer.text[:300]}")

            def pull_all(count: int) -> None:
                for n in range(count):
                    till = tills[n % len(tills)]
                    answer = http.get(
                        "/api/v1/sync/pull",
                        params={"cursor": till.cursor, "limit": 500},
                        headers={"Authorization": f"Bearer {till.token}"},
                    )
                    answer.raise_for_status()
                    body = answer.json()
                    if body["changes"] or body["has_more"]:
                        raise RuntimeError("a pull at the head brought changes")

            def heads() -> None:
                # Every till at the feed head (their pushes moved it): a pull pages to it.
                time.sleep(1.5)  # the keeper numbers what the pushes appended
                for till in tills:
                    while True:
                        answer = http.get(
                            "/api/v1/sync/pull",
                            params={"cursor": till.cursor, "limit": 500},
                            headers={"Authorization": f"Bearer {till.token}"},
                        )
                        answer.raise_for_status()
                        body = answer.json()
                        till.cursor = body["cursor"]
                        if not body["has_more"]:
                            break

            # Warm up: every till once (credential caches, statement caches, pools).
            push_all(len(tills))
            heads()
            pull_all(len(tills))
            if args.log_statements:
                _log_statements(args, url, pg, lambda: (push_all(3), heads(), pull_all(3)))
            for phase, run in (("push", push_all), ("pull", pull_all)):
                if phase == "pull":
                    heads()
                spy = _profile(args, server.pid, phase)
                cpu, wall = cpu_seconds(server.pid), time.perf_counter()
                run(args.requests)
                figures[f"{phase}_cpu_ms"] = (cpu_seconds(server.pid) - cpu) * 1000 / args.requests
                figures[f"{phase}_wall_ms"] = (time.perf_counter() - wall) * 1000 / args.requests
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
        figures["load"] = os.getloadavg()[0]
        figures["tills"] = len(tills)
        return figures
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        if redis is not None:
            redis.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


def _profile(args: argparse.Namespace, pid: int, phase: str) -> subprocess.Popen[bytes] | None:
    """Sample the server with py-spy during a phase (collapsed stacks), when asked to."""
    if not args.profile:
        return None
    out = Path(args.profile) / f"{phase}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--gil",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    return spy


def _log_statements(args: argparse.Namespace, url: str, pg: Any, run: Callable[[], Any]) -> None:
    """Copy what PostgreSQL ran for a few pushes and pulls into a file (with the keeper's)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    log = pg.data_dir.parent / "log"
    with admin.connect() as conn:
        conn.execute(text("ALTER SYSTEM SET log_statement = 'all'"))
        conn.execute(text("SELECT pg_reload_conf()"))
        time.sleep(0.5)
        start = log.stat().st_size
        run()
        conn.execute(text("ALTER SYSTEM RESET log_statement"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()
    with log.open("rb") as f:
        f.seek(start)
        Path(args.log_statements).write_bytes(f.read())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server-cpu")
    group.add_argument("--stores", type=int, default=20, help="server-cpu: stores (2 tills each)")
    group.add_argument(
        "--requests", type=int, default=400, help="server-cpu: pushes, then pulls, timed"
    )
    group.add_argument(
        "--no-replica", dest="replica", action="store_false", help="server-cpu: no replica URL"
    )
    group.add_argument(
        "--no-pgbouncer",
        dest="pgbouncer",
        action="store_false",
        help="server-cpu: allow server-side prepared statements",
    )
    group.add_argument(
        "--no-redis", dest="redis", action="store_false", help="server-cpu: no Redis windows"
    )
    group.add_argument(
        "--log-statements", metavar="FILE", help="server-cpu: what PostgreSQL ran for 3 of each"
    )
    group.add_argument(
        "--profile", metavar="DIR", help="server-cpu: py-spy's collapsed stacks of each phase here"
    )


def report(args: argparse.Namespace, f: dict[str, float]) -> None:
    setup = ", ".join(
        what
        for what, on in (
            ("PgBouncer settings", args.pgbouncer),
            ("replica routing", args.replica),
            ("Redis rate limits", args.redis and shutil.which("redis-server")),
        )
        if on
    )
    print(
        f"\nApp-server CPU per request: one server process on PostgreSQL ({setup or 'plain'}), "
        f"{int(f['tills'])} tills, {args.requests} requests each way; "
        f"load average {f['load']:.2f}"
    )
    for phase, label, budget in (
        ("push", "push (one 3-line sale)", BUDGET_PUSH_MS),
        ("pull", "pull at the feed head", BUDGET_PULL_MS),
    ):
        cpu = f[f"{phase}_cpu_ms"]
        print(
            f"  {label:<24}{cpu:6.2f} ms CPU  (wall {f[f'{phase}_wall_ms']:5.1f} ms; "
            f"budget <= {budget:g} ms  {'OK' if cpu <= budget else 'OVER'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    report(args, measure(args))


if __name__ == "__main__":
    main()
