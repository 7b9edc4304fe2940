"""A throwaway PostgreSQL cluster for the test run, started with the installed binaries."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tests import runwide


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
        "on Debian: apt-get install -y postgresql"
    )


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name ([0] is the state); [] if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[1].split()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            # initdb refuses to run as root, so the cluster belongs to an unprivileged user.
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stderr or result.stdout}")

    def cpu_seconds(self) -> float | None:
        """CPU the cluster used so far: the postmaster, the backends it reaped, and its live
        children (checkpointer, writer, backends still connected). None if not readable."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            tick = os.sysconf("SC_CLK_TCK")
            fields = _stat(pid)
            total = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and entry.name != str(pid):
                    child = _stat(int(entry.name))
                    if child and int(child[1]) == pid:
                        total += int(child[11]) + int(child[12])
            return total / tick
        except (OSError, ValueError, IndexError):
            return None

    def record_cpu(self) -> None:
        """Measurement only (scripts/suite-cpu.sh): add the cluster's CPU to $CPUPROF_LOG."""
        log = os.environ.get("CPUPROF_LOG")
        cpu = self.cpu_seconds() if log else None
        if log and cpu is not None:
            row = {
                "argv": ["postgres", "(a test cluster)"],
                "cpu": round(cpu, 3),
                "wall": 0.0,
                "pid": 0,
                "ppid": os.getpid(),
                "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
            }
            with open(log, "a") as f:
                f.write(json.dumps(row) + "\n")

    def stop(self) -> None:
        self.record_cpu()
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start() -> PostgresServer:
    """Init and start a cluster on a free loopback port; fsync off (tests only)."""
    bin_dir = _bin_dir()
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="stockpilot-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no 'postgres' user") from exc
        run_as = "postgres"
        os.chown(root, user.pw_uid, user.pw_gid)
    data_dir = root / "data"
    server = PostgresServer(data_dir=data_dir, port=_free_port(), bin_dir=bin_dir, run_as=run_as)
    server._run(
        "initdb", "-D", str(data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
    )
    options = (
        f"-k {root} -p {server.port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    server._run(
        "pg_ctl", "-D", str(data_dir), "-o", options, "-l", str(root / "log"), "-w", "start"
    )
    return server


# One cluster for a whole test run, shared by its workers: the first to need it starts it, the
# others attach, the last to leave stops it. A cluster per worker cost each worker an initdb,
# a start, its own templates (migrated and filled) and its own background processes.


@contextmanager
def locked(home: Path) -> Iterator[Path]:
    """Hold `home`'s turn (tests/runwide.py); yield where the cluster's state is kept."""
    with runwide.turn(home):
        yield home / "cluster.json"


def _running(server: PostgresServer) -> bool:
    try:
        pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def join(home: Path) -> PostgresServer:
    """Return the run's cluster (kept under `home`), starting it if no worker has yet."""
    with locked(home) as state_file:
        state = json.loads(state_file.read_text()) if state_file.exists() else None
        server = None
        if state is not None:
            fields = state["server"]
            server = PostgresServer(
                data_dir=Path(fields["data_dir"]),
                port=fields["port"],
                bin_dir=Path(fields["bin_dir"]),
                run_as=fields["run_as"],
            )
            if not _running(server):
                server, state = None, None
        if server is None:
            server = start()
        users = (state["users"] if state else 0) + 1
        fields = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(server).items()}
        state_file.write_text(json.dumps({"server": fields, "users": users}))
    return server


def leave(home: Path, server: PostgresServer) -> None:
    """Say this worker is done with the run's cluster; the last one out stops it."""
    with locked(home) as state_file:
        state = json.loads(state_file.read_text()) if state_file.exists() else {"users": 1}
        if state["users"] <= 1:
            state_file.unlink(missing_ok=True)
            server.stop()
        else:
            state["users"] -= 1
            state_file.write_text(json.dumps(state))
