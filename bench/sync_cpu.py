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


class Server:
    """One `stockpilot-server serve` process from a source tree, over its own database."""

    def __init__(self, *, name: str, root: Path, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_server.cli", "serve", "--port", str(self.port)],
            env={**env, "PYTHONPATH": str(root)},
            cwd=root,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        self.cursors: dict[str, str] = {}
        self.cpu = self.wall = 0.0
        deadline = time.monotonic() + 90
        while True:
            try:
                if self.http.get("/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the server did not start: see {log}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Set up the database and server(s), then time the pushes and the pulls; return figures.

    With --compare-with, a second server runs the other source tree over a copy of the same
    database, and every push and pull goes to both in turn, so that whatever else loads the
    machine weighs on both alike.
    """
    from sqlalchemy import create_engine, text

    from bench.bench_scale import provision, sale_event
    from tests import pgserver
    from tests.topology import AUDIT_KEY, SECRET

    work = Path(tempfile.mkdtemp(prefix="bench-sync-cpu-"))
    pg = pgserver.start()
    redis = Redis(work) if args.redis and shutil.which("redis-server") else None
    servers: list[Server] = []
    try:
        admin = create_engine(f"{pg.url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        url = f"{pg.url}/bench"
        env = {
            **os.environ,
            "STOCKPILOT_DATA_DIR": str(work / "app"),
            "STOCKPILOT_SECRET_KEY": SECRET,
            "STOCKPILOT_AUDIT_KEY": AUDIT_KEY,
            "STOCKPILOT_DATABASE_URL": url,
            "STOCKPILOT_DB_PGBOUNCER": "true" if args.pgbouncer else "false",
            "STOCKPILOT_RUN_WORKER_IN_SERVER": "true",
        }
        if redis is not None:
            env["STOCKPILOT_REDIS_URL"] = redis.url
        (work / "app").mkdir()
        cli = [sys.executable, "-m", "sync_server.cli"]
        for command in (
            ["init", "--tenant", "Demo Kirana", "--admin-password", "bench-admin-pw"],
            ["demo-data", "--no-history"],
        ):
            subprocess.run(
                cli + command,
                env={**env, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        tills, products, _online, _key = provision(
            SimpleNamespace(database_url=url), stores=args.stores
        )
        trees = [("this tree", ROOT, url)]
        if args.compare_with:
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE bench_other TEMPLATE bench"))
            trees.append(
                (str(args.compare_with), Path(args.compare_with).resolve(), f"{pg.url}/bench_other")
            )
        admin.dispose()
        for name, root, db in trees:
            tree_env = {**env, "STOCKPILOT_DATABASE_URL": db}
            if args.replica:
                tree_env["STOCKPILOT_DATABASE_REPLICA_URL"] = db
            servers.append(
                Server(name=name, root=root, env=tree_env, log=work / f"server{len(servers)}.log")
            )

        def push_all(count: int, timed: bool = False) -> None:
            for n in range(count):
                till = tills[n % len(tills)]
                event = sale_event(till, products)
                for server in servers:
                    cpu, wall = cpu_seconds(server.process.pid), time.perf_counter()
                    answer = server.http.post(
                        "/api/v1/sync/push",
                        json={"events": [event], "sent_at": datetime.now(UTC).isoformat()},
                        headers={"Authorization": f"Bearer {till.token}"},
                    )
                    if timed:
                        server.wall += time.perf_counter() - wall
                        server.cpu += cpu_seconds(server.process.pid) - cpu
                    answer.raise_for_status()
                    if answer.json()["results"][0]["status"] != "applied":
                        raise RuntimeError(f"push answered {answer.text[:300]}")

        def pull(server: Server, till: Any) -> dict[str, Any]:
            answer = server.http.get(
                "/api/v1/sync/pull",
                params={"cursor": server.cursors.get(till.device_id, till.cursor), "limit": 500},
                headers={"Authorization": f"Bearer {till.token}"},
            )
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            server.cursors[till.device_id] = body["cursor"]
            return body

        def pull_all(count: int, timed: bool = False) -> None:
            for n in range(count):
                till = tills[n % len(tills)]
                for server in servers:
                    cpu, wall = cpu_seconds(server.process.pid), time.perf_counter()
                    body = pull(server, till)
                    if timed:
                        server.wall += time.perf_counter() - wall
                        server.cpu += cpu_seconds(server.process.pid) - cpu
                    if body["changes"] or body["has_more"]:
                        raise RuntimeError("a pull at the head brought changes")

        def heads() -> None:
            # Every till at the feed head (their pushes moved it): a pull pages to it.
            time.sleep(1.5)  # the keeper numbers what the pushes appended
            for till in tills:
                for server in servers:
                    while pull(server, till)["has_more"]:
                        pass

        # Warm up: every till once (credential caches, statement caches, pools).
        push_all(len(tills))
        heads()
        pull_all(len(tills))
        if args.log_statements:
            _log_statements(args, url, pg, lambda: (push_all(3), heads(), pull_all(3)))
        figures: dict[str, dict[str, float]] = {server.name: {} for server in servers}
        for phase, run in (("push", push_all), ("pull", pull_all)):
            if phase == "pull":
                heads()
            spy = _profile(args, servers[0].process.pid, phase)
            for server in servers:
                server.cpu = server.wall = 0.0
            # The keeper and the summaries run in the server's own threads between requests:
            # their CPU counts too, so the whole process is read around the phase as well.
            whole = [cpu_seconds(server.process.pid) for server in servers]
            run(args.requests, True)
            for server, before in zip(servers, whole, strict=True):
                f = figures[server.name]
                f[f"{phase}_cpu_ms"] = (cpu_seconds(server.process.pid) - before) * 1000
                f[f"{phase}_cpu_ms"] /= args.requests
                f[f"{phase}_request_cpu_ms"] = server.cpu * 1000 / args.requests
                f[f"{phase}_wall_ms"] = server.wall * 1000 / args.requests
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
        for f in figures.values():
            f["load"] = os.getloadavg()[0]
            f["tills"] = len(tills)
        return figures
    finally:
        for server in servers:
            server.stop()
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
        "--compare-with",
        metavar="DIR",
        help="server-cpu: also run the server of another source tree (A/B, interleaved)",
    )
    group.add_argument(
        "--log-statements", metavar="FILE", help="server-cpu: what PostgreSQL ran for 3 of each"
    )
    group.add_argument(
        "--profile", metavar="DIR", help="server-cpu: py-spy's collapsed stacks of each phase here"
    )


def report(args: argparse.Namespace, figures: dict[str, dict[str, float]]) -> None:
    setup = ", ".join(
        what
        for what, on in (
            ("PgBouncer settings", args.pgbouncer),
            ("replica routing", args.replica),
            ("Redis rate limits", args.redis and shutil.which("redis-server")),
        )
        if on
    )
    some = next(iter(figures.values()))
    print(
        f"\nApp-server CPU per request: one server process on PostgreSQL ({setup or 'plain'}), "
        f"{int(some['tills'])} tills, {args.requests} requests each way; "
        f"load average {some['load']:.2f} at the end"
    )
    for name, f in figures.items():
        if len(figures) > 1:
            print(f"[{name}]")
        for phase, label, budget in (
            ("push", "push (one 3-line sale)", BUDGET_PUSH_MS),
            ("pull", "pull at the feed head", BUDGET_PULL_MS),
        ):
            cpu = f[f"{phase}_cpu_ms"]
            print(
                f"  {label:<24}{cpu:6.2f} ms CPU  (during the request "
                f"{f[f'{phase}_request_cpu_ms']:5.2f} ms; wall {f[f'{phase}_wall_ms']:5.1f} ms; "
                f"budget <= {budget:g} ms  {'OK' if cpu <= budget else 'OVER'})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    report(args, measure(args))


if __name__ == "__main__":
    main()
