"""A chain's topology on loopback, from Debian packages: the test run starts every part itself.

    etcd ── Patroni node1 (PostgreSQL primary)  ← PgBouncer 1 ┐
        └── Patroni node2 (streaming standby)   ← PgBouncer 2 ┤← app server A ┐
                                                 redis-server ┘← app server B ┤← nginx

Each Patroni node has its own PgBouncer (transaction pooling), as on a real database host.
The app servers write through a multi-host URL over both bouncers with
``target_session_attrs=read-write`` (libpq asks each through its bouncer and keeps the one
that is writable, so after a failover they find the promoted node by themselves) and read
lag-tolerant pages through ``prefer-standby``. Every process runs in the foreground with its
PID kept; nothing is left behind (``stop`` ends them by PID). Used by the failover test and
by ``bench/bench_scale.py``.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests import web, zygote
from tests.pgserver import PostgresUnavailable, _bin_dir, _free_port

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("etcd", "patroni", "pgbouncer", "redis-server", "nginx")
SECRET = "topology-secret-key-that-is-long-enough-for-hs256"
AUDIT_KEY = "topology-audit-key-that-is-long-enough-too"
ADMIN_PASSWORD = "topology-admin-password"


# The chain's configuration as installers/ ships it: the harness sizes its pools the same.
SHIPPED = ROOT / "installers" / "server" / "chain"


def shipped_bouncer_pool() -> tuple[int, int]:
    """Return (default_pool_size, reserve_pool_size) of the shipped pgbouncer.ini."""
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",))
    parser.read(SHIPPED / "pgbouncer.ini")
    section = parser["pgbouncer"]
    return int(section["default_pool_size"]), int(section["reserve_pool_size"])


def shipped_app_pool() -> dict[str, str]:
    """Return the shipped app servers' connection-pool settings (stockpilot-chain.env)."""
    wanted = ("STOCKPILOT_DB_POOL_SIZE", "STOCKPILOT_DB_MAX_OVERFLOW")
    found = {}
    for line in (SHIPPED / "stockpilot-chain.env").read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() in wanted:
            found[name.strip()] = value.strip()
    return found


class TopologyUnavailable(RuntimeError):
    pass


def missing_tools() -> list[str]:
    """Name the Debian tools the topology needs that are not installed."""
    paths = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin"
    return [tool for tool in TOOLS if shutil.which(tool, path=paths) is None]


def _which(tool: str) -> str:
    found = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin")
    if found is None:
        raise TopologyUnavailable(f"{tool} is not installed (bash scripts/system-deps.sh)")
    return found


def _wait(check, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - the part is still starting
            last = exc
        time.sleep(0.1)
    raise TopologyUnavailable(f"{what} not ready in {seconds:g} s ({last!r})")


@dataclass
class Node:
    """One database host: a Patroni-managed PostgreSQL and the PgBouncer in front of it."""

    name: str
    pg_port: int
    rest_port: int
    bouncer_port: int
    data_dir: Path
    patroni: subprocess.Popen | None = None
    bouncer: subprocess.Popen | None = None

    def role(self) -> str | None:
        """Return 'primary', 'replica' or None when the node does not answer."""
        try:
            answer = web.get(f"http://127.0.0.1:{self.rest_port}/patroni", timeout=1)
        except httpx.HTTPError:
            return None
        body = answer.json()
        if body.get("state") not in ("running", "streaming"):
            return None
        return "primary" if body.get("role") in ("master", "primary") else "replica"

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None


@dataclass
class Topology:
    root: Path
    synchronous: bool = True
    etcd_port: int = field(default_factory=_free_port)
    redis_port: int = field(default_factory=_free_port)
    nginx_port: int = field(default_factory=_free_port)
    nodes: list[Node] = field(default_factory=list)
    app_ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    apps: list[subprocess.Popen] = field(default_factory=list)
    run_as: str | None = None
    # Load pg_stat_statements on both nodes (the benchmark's statement profile).
    statements: bool = False
    # What each part started with _spawn is ("etcd", "node1-patroni", "nginx", ...), by PID.
    names: dict[int, str] = field(default_factory=dict)

    # ----------------------------------------------------------------- URLs
    def _multi_host(self, attrs: str) -> str:
        hosts = "&".join(f"host=127.0.0.1:{n.bouncer_port}" for n in self.nodes)
        return f"postgresql+psycopg://postgres@/stockpilot?{hosts}&target_session_attrs={attrs}"

    @property
    def database_url(self) -> str:
        return self._multi_host("read-write")

    @property
    def replica_url(self) -> str:
        return self._multi_host("prefer-standby")

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def url(self) -> str:
        """Where clients reach the chain: nginx in front of the app servers."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def app_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "STOCKPILOT_DATA_DIR": str(self.root / "app"),
            "STOCKPILOT_SECRET_KEY": SECRET,
            "STOCKPILOT_AUDIT_KEY": AUDIT_KEY,
            "STOCKPILOT_DATABASE_URL": self.database_url,
            "STOCKPILOT_DATABASE_REPLICA_URL": self.replica_url,
            "STOCKPILOT_DB_PGBOUNCER": "true",
            "STOCKPILOT_REDIS_URL": self.redis_url,
            # nginx's address, as installers/server/chain/stockpilot-chain.env sets it.
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "STOCKPILOT_DB_WAIT_SECONDS": "3",
            # One worker process per app server; the keeper and jobs run in it.
            "STOCKPILOT_RUN_WORKER_IN_SERVER": "true",
        }

    # ---------------------------------------------------------------- start
    def _chown(self, path: Path) -> None:
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for dirpath, _dirs, files in os.walk(path):
                os.chown(dirpath, user.pw_uid, user.pw_gid)
                for name in files:
                    os.chown(Path(dirpath, name), user.pw_uid, user.pw_gid)

    def _as_db_user(self, command: list[str], env: dict[str, str]) -> list[str]:
        settings = [f"{key}={value}" for key, value in env.items()]
        if not self.run_as:
            return ["env", *settings, *command]
        return [
            "setpriv",
            f"--reuid={self.run_as}",
            f"--regid={self.run_as}",
            "--init-groups",
            "env",
            f"HOME={self.root}",
            *settings,
            *command,
        ]

    def _spawn(
        self,
        name: str,
        command: list[str],
        *,
        as_db_user: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen:
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            self._as_db_user(command, env or {}) if as_db_user else command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            start_new_session=True,
        )
        self.processes.append(process)
        self.names[process.pid] = name
        return process

    def parts(self) -> dict[str, list[int]]:
        """Return the PIDs at the root of each kind of part (their children belong to it).

        PostgreSQL is counted from each live postmaster (Patroni detaches it), so after a
        failover the promoted node's postmaster counts; the app servers by their own PIDs.
        """
        found: dict[str, list[int]] = {"app servers": [p.pid for p in self.apps]}
        for pid, name in self.names.items():
            kind = name.split("-")[-1]  # node1-patroni -> patroni
            found.setdefault(kind, []).append(pid)
        found["postgres"] = [pid for n in self.nodes if (pid := n.postmaster_pid()) is not None]
        return found

    def start_database(self) -> None:
        """Start etcd, two Patroni nodes and their bouncers, and wait for a streaming standby."""
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user"
                ) from exc
            self.run_as = "postgres"
        self.root.mkdir(parents=True, exist_ok=True)
        etcd_peer = _free_port()
        self._spawn(
            "etcd",
            [
                _which("etcd"),
                "--name=e1",
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=e1=http://127.0.0.1:{etcd_peer}",
                "--listen-metrics-urls=",
            ],
        )
        _wait(
            lambda: web.get(f"http://127.0.0.1:{self.etcd_port}/health", timeout=1).is_success,
            seconds=20,
            what="etcd",
        )
        self.nodes = [
            Node(
                name=f"node{i}",
                pg_port=_free_port(),
                rest_port=_free_port(),
                bouncer_port=_free_port(),
                data_dir=self.root / f"node{i}" / "data",
            )
            for i in (1, 2)
        ]
        # The callback the installers ship, copied where the database user may run it.
        callback = self.root / "pgbouncer-on-role-change.sh"
        shutil.copy(ROOT / "installers" / "server" / "chain" / callback.name, callback)
        callback.chmod(0o755)
        for node in self.nodes:
            (self.root / node.name).mkdir(exist_ok=True)
            self._write_patroni(node)
            self._write_bouncer(node)
        self._chown(self.root)
        os.chmod(self.root, 0o755)
        self.start_node(self.nodes[0])
        _wait(lambda: self.nodes[0].role() == "primary", seconds=60, what="the first primary")
        with psycopg.connect(
            host="127.0.0.1", port=self.nodes[0].pg_port, user="postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE stockpilot")
        if self.statements:
            with psycopg.connect(
                host="127.0.0.1",
                port=self.nodes[0].pg_port,
                user="postgres",
                dbname="stockpilot",
                autocommit=True,
            ) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
        self.start_node(self.nodes[1])
        _wait(lambda: self.streaming_standbys() >= 1, seconds=60, what="the streaming standby")
        for node in self.nodes:
            _wait(lambda node=node: self._bouncer_answers(node), seconds=30, what=node.name)

    def _bouncer_answers(self, node: Node) -> bool:
        with psycopg.connect(
            host="127.0.0.1",
            port=node.bouncer_port,
            user="postgres",
            dbname="stockpilot",
            prepare_threshold=None,
            connect_timeout=3,
        ) as conn:
            conn.execute("SELECT 1")
        return True

    def _write_patroni(self, node: Node) -> None:
        bin_dir = _bin_dir()
        mode = "true" if self.synchronous else "false"
        preload = "    shared_preload_libraries: pg_stat_statements\n" if self.statements else ""
        config = f"""\
scope: stockpilot
name: {node.name}
restapi:
  listen: 127.0.0.1:{node.rest_port}
  connect_address: 127.0.0.1:{node.rest_port}
etcd3:
  hosts: 127.0.0.1:{self.etcd_port}
bootstrap:
  dcs:
    ttl: 6
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    synchronous_mode: {mode}
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 200
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{node.pg_port}
  connect_address: 127.0.0.1:{node.pg_port}
  data_dir: {node.data_dir}
  bin_dir: {bin_dir}
  pgpass: {self.root / node.name / "pgpass"}
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  basebackup:
    - checkpoint: fast
  callbacks:
    on_role_change: {self.root / "pgbouncer-on-role-change.sh"}
  parameters:
    unix_socket_directories: {self.root / node.name}
{preload}    fsync: "off"
    full_page_writes: "off"
"""
        (self.root / node.name / "patroni.yml").write_text(config)

    def _write_bouncer(self, node: Node) -> None:
        folder = self.root / node.name
        # As shipped: after a failover one node's pool serves every app server's writes and
        # lag-tolerant reads alike.
        pool, reserve = shipped_bouncer_pool()
        (folder / "userlist.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"""\
[databases]
* = host=127.0.0.1 port={node.pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {node.bouncer_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
admin_users = postgres
pool_mode = transaction
max_client_conn = 4000
default_pool_size = {pool}
reserve_pool_size = {reserve}
query_wait_timeout = 5
server_connect_timeout = 2
server_login_retry = 1
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
"""
        )

    def start_node(self, node: Node) -> None:
        folder = self.root / node.name
        node.patroni = self._spawn(
            f"{node.name}-patroni",
            [_which("patroni"), str(folder / "patroni.yml")],
            as_db_user=True,
            # The role-change callback tells this node's PgBouncer to reconnect.
            env={"PGBOUNCER_PORT": str(node.bouncer_port)},
        )
        node.bouncer = self._spawn(
            f"{node.name}-pgbouncer",
            [_which("pgbouncer"), str(folder / "pgbouncer.ini")],
            as_db_user=True,
        )
        _wait(
            lambda: (folder / "pgbouncer.pid").exists(), seconds=10, what=f"{node.name} pgbouncer"
        )

    def streaming_standbys(self) -> int:
        primary = self.primary()
        if primary is None:
            return 0
        with psycopg.connect(
            host="127.0.0.1", port=primary.pg_port, user="postgres", autocommit=True
        ) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            ).fetchone()
        return int(row[0]) if row else 0

    def top_statements(self, node: Node, *, count: int = 15) -> list[str]:
        """Return a node's costliest statements by total time (needs statements=True)."""
        with psycopg.connect(
            host="127.0.0.1", port=node.pg_port, user="postgres", dbname="stockpilot"
        ) as conn:
            rows = conn.execute(
                "SELECT total_exec_time, calls, rows, left(regexp_replace(query, '\\s+', ' ', "
                "'g'), 150) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT %s",
                (count,),
            ).fetchall()
            whole = conn.execute("SELECT sum(total_exec_time) FROM pg_stat_statements").fetchone()
        return [f"all statements {float((whole or [0])[0] or 0) / 1000:.1f} s"] + [
            f"{ms / 1000:6.1f} s {calls:7d} calls {ms / max(calls, 1):6.2f} ms  {query}"
            for ms, calls, _rows, query in rows
        ]

    def primary(self) -> Node | None:
        for node in self.nodes:
            if node.role() == "primary":
                return node
        return None

    def start_redis(self) -> None:
        self._spawn(
            "redis",
            [
                _which("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
        )

        def answers() -> bool:
            import socket

            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        _wait(answers, seconds=10, what="redis")

    def cli(self, *args: str) -> str:
        """Run a stockpilot-server command against the chain; return what it printed."""
        result = zygote.run(
            [sys.executable, "-m", "sync_server.cli", *args],
            env=self.app_env(),
            cwd=ROOT,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"stockpilot-server {' '.join(args)}: {result.stderr[-3000:]}")
        return result.stdout

    def initialise(self, *, demo: bool = True) -> None:
        """Migrate the chain's database and load the demo business (without its month)."""
        self.cli("init", "--tenant", "Demo Kirana", "--admin-password", ADMIN_PASSWORD)
        if demo:
            self.cli("demo-data", "--no-history")

    def start_apps(self, count: int = 2, *, extra_env: dict[str, str] | None = None) -> None:
        """Start `stockpilot-server serve` processes (one worker each) and nginx before them."""
        (self.root / "app").mkdir(exist_ok=True)
        env = {**self.app_env(), **(extra_env or {})}
        for index in range(count):
            port = _free_port()
            log = (self.root / f"app{index}.log").open("ab")
            process = zygote.popen(
                [sys.executable, "-m", "sync_server.cli", "serve", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.apps.append(process)
            self.processes.append(process)
            self.app_ports.append(port)
        for port in self.app_ports:
            _wait(
                lambda port=port: (
                    web.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
                ),
                seconds=90,
                what=f"app server on {port}",
            )
        self._start_nginx()

    def _start_nginx(self) -> None:
        """Start nginx in front of the app servers, on a port free at that moment.

        Its port was picked when the topology was made, many seconds earlier; meanwhile any
        process of the test run could take it (once the run's PostgreSQL cluster did: nginx
        could not listen, and /health reached PostgreSQL, which hung up). Should nginx still
        lose a port between the pick and its bind, it exits and starts again on another.
        """
        for attempt in range(3):
            self.nginx_port = _free_port()
            nginx = self._spawn_nginx()
            try:
                _wait(
                    lambda nginx=nginx: (
                        nginx.poll() is not None
                        or web.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
                    ),
                    seconds=20,
                    what="nginx",
                )
            except TopologyUnavailable:
                if attempt == 2 or nginx.poll() is None:
                    raise
            if nginx.poll() is None:
                return
        raise TopologyUnavailable(f"nginx exited: {(self.root / 'nginx.log').read_text()[-500:]}")

    def _spawn_nginx(self) -> subprocess.Popen:
        folder = self.root / "nginx"
        folder.mkdir(exist_ok=True)
        upstreams = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=0;" for port in self.app_ports
        )
        temp = "\n".join(
            f"    {kind}_temp_path {folder / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"""{user}daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    upstream stockpilot {{
{upstreams}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        client_max_body_size 20m;
        location / {{
            proxy_pass http://stockpilot;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # As installers/server/nginx.conf: the app servers (trusting 127.0.0.1, uvicorn's
            # default forwarded-allow-ips) take the caller's address from X-Forwarded-For.
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""
        )
        return self._spawn(
            "nginx", [_which("nginx"), "-c", str(folder / "nginx.conf"), "-p", str(folder)]
        )

    # ----------------------------------------------------------------- faults
    def kill_node(self, node: Node) -> None:
        """Lose a database host: SIGKILL its Patroni, its postmaster and its PgBouncer."""
        pid = node.postmaster_pid()
        for process in (node.patroni, node.bouncer):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def wait_promoted(self, old: Node, *, seconds: float = 60) -> Node:
        """Wait for another node to become primary; return it."""
        found: list[Node] = []

        def promoted() -> bool:
            for node in self.nodes:
                if node is not old and node.role() == "primary":
                    found.append(node)
                    return True
            return False

        _wait(promoted, seconds=seconds, what="the promoted standby")
        return found[0]

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """End every process this topology started, by PID, then remove its files."""
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        # Patroni detaches its postmaster: end any that outlived their Patroni.
        for node in self.nodes:
            pid = node.postmaster_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if not os.environ.get("STOCKPILOT_KEEP_TOPOLOGY"):
            shutil.rmtree(self.root, ignore_errors=True)


def new_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="stockpilot-topology-"))
