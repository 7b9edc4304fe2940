"""Every command README.md and installers/README.md show, run as a person would: installed
entry points in separate processes, on a fresh data dir, with the docs' own arguments.

The commands are read from the docs' code blocks; the test fails if the docs show a command it
does not run (or stops showing one it runs), so the list cannot drift from the docs.
Placeholders (FILE, URL, CODE, DIR, the docs' example paths and port) become real values, and
0.0.0.0 becomes 127.0.0.1: tests listen on loopback only.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests import web
from tests.clitools import SERVER, TILL, background, free_port, ok, refused, run, run_in_terminal

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "installers" / "README.md")
PROGRAMS = {"stockpilot-server": SERVER, "stockpilot-till": TILL}


def documented_commands() -> set[str]:
    """Return every stockpilot-server/-till command line in the docs' code blocks."""
    found: set[str] = set()
    for doc in DOCS:
        for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), re.S):
            for raw in block.splitlines():
                line = raw.split(" #")[0].strip().removeprefix("$ ").removeprefix("sudo ")
                first, _, rest = line.partition(" ")
                name = first.rsplit("/", 1)[-1]
                if name not in PROGRAMS:
                    continue
                # "backup FILE / restore FILE" shows two commands on one line.
                for part in rest.split(" / "):
                    found.add(" ".join([name, *part.split()]))
    return found


def argv(command: str, subs: dict[str, str]) -> list[str]:
    """Return the process arguments of a documented command with its placeholders filled."""
    for placeholder, value in subs.items():
        command = command.replace(placeholder, value)
    name, *args = shlex.split(command)
    return [PROGRAMS[name], *args]


def _of(program: str) -> set[str]:
    return {c for c in documented_commands() if c.startswith(program + " ")}


def test_the_docs_show_the_commands_this_file_runs():
    shown = documented_commands()
    # A sanity check of the parser itself: these are certainly in the docs.
    assert "stockpilot-server api-key create --scopes orders:write,catalog:read" in shown
    assert "stockpilot-till --self-check" in shown
    assert not any("systemctl" in c or "journalctl" in c for c in shown)


def _wait_healthy(url: str, server) -> None:
    def healthy() -> bool:
        try:
            return web.get(f"{url}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    server.wait_for(healthy, what="the server to answer")


@pytest.mark.slow
def test_every_documented_server_command_works_on_a_fresh_data_dir(tmp_path):
    data = tmp_path / "data"
    backup_file = tmp_path / "server-backup.db"
    port = free_port()
    subs = {
        "/backups/stockpilot-$(date +%F).db": str(backup_file),
        "/backups/stockpilot-2026-11-21.db": str(backup_file),
        "FILE": str(backup_file),
        "checkpoints.txt": str(tmp_path / "checkpoints.txt"),
        "0.0.0.0": "127.0.0.1",
        "8765": str(port),
    }
    ran: set[str] = set()

    def go(command: str, *, data_dir: Path = data) -> str:
        ran.add(command)
        return ok(run(*argv(command, subs), data_dir=data_dir))

    assert "tenant" in go("stockpilot-server --help")
    # Each documented init on its own fresh, empty data dir.
    out = go('stockpilot-server init --tenant "My Chain"', data_dir=tmp_path / "chain")
    assert "password:" in out and "Main store (code MAIN)" in out
    out = go('stockpilot-server init --tenant "My Shop"')
    assert "business: My Shop" in out and "password:" in out
    assert "Already initialised" in go('stockpilot-server init --tenant "My Shop"')
    assert "Added store 'Andheri' (code AND" in go(
        "stockpilot-server branch add --code AND --name Andheri"
    )
    listed = go("stockpilot-server branch list")
    assert "MAIN" in listed and "AND" in listed

    # Without --password it asks on the terminal (twice), as a person would answer.
    command = "stockpilot-server create-user priya --role manager --pin 2468 --branch AND"
    ran.add(command)
    code, output = run_in_terminal(
        *argv(command, subs),
        data_dir=data,
        answers=[("Password for priya", "priya-long-password"), ("Again", "priya-long-password")],
    )
    assert code == 0 and "Created manager 'priya'" in output and "at AND" in output, output
    assert "Traceback" not in output

    assert "Enrolment code for branch AND" in go("stockpilot-server device enrol-code --branch AND")
    assert "key: spk_" in go("stockpilot-server api-key create --scopes orders:write,catalog:read")
    out = go('stockpilot-server tenant create "Second Shop" --admin-username second-admin')
    assert "Created business 'Second Shop'" in out and "password:" in out
    listed = go("stockpilot-server tenant list")
    assert "My Shop" in listed and "Second Shop" in listed
    assert "chain intact" in go("stockpilot-server audit verify")
    signed = go("stockpilot-server audit checkpoint --out checkpoints.txt")
    assert signed.startswith("STOCKPILOT-AUDIT-CHECKPOINT tenant=")
    assert "holds 1 checkpoint(s)" in go(
        "stockpilot-server audit verify --checkpoint checkpoints.txt"
    )
    assert "books agree with their ledgers" in go("stockpilot-server ledger verify")

    for backup_cmd in (c for c in _of("stockpilot-server") if " backup " in c):
        assert "integrity ok" in go(backup_cmd)
    for restore_cmd in (c for c in _of("stockpilot-server") if " restore " in c):
        assert "Restored" in go(restore_cmd)

    for serve in sorted(c for c in _of("stockpilot-server") if " serve " in c):
        ran.add(serve)
        with background(*argv(serve, subs), data_dir=data, logs=tmp_path / "serve") as server:
            _wait_healthy(f"http://127.0.0.1:{port}", server)
            login = web.post(
                f"http://127.0.0.1:{port}/api/v1/auth/login",
                json={"username": "priya", "password": "priya-long-password"},
                timeout=10,
            )
            assert login.status_code == 200, login.text
        assert "Traceback" not in server.stderr()

    ran.add("stockpilot-server worker")
    with background(
        *argv("stockpilot-server worker", subs), data_dir=data, logs=tmp_path / "worker"
    ) as worker:
        worker.wait_for(lambda: "worker running" in worker.stdout(), what="the worker")
        worker.process.terminate()
        assert worker.process.wait(timeout=30) == 0
    assert "Traceback" not in worker.stderr()

    assert ran == _of("stockpilot-server"), "the docs and this test disagree"


@pytest.fixture
def serving(tmp_path):
    """A server on a fresh data dir (init, branch AND) and a till enrolment code for it."""
    data = tmp_path / "server"
    ok(run(SERVER, "init", "--admin-password", "admin-long-password", data_dir=data))
    ok(run(SERVER, "branch", "add", "--code", "AND", "--name", "Andheri", data_dir=data))
    port = free_port()
    with background(
        SERVER, "serve", "--port", str(port), data_dir=data, logs=tmp_path / "serve"
    ) as server:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server)
        yield url, data


def _enrolled(store: Path) -> bool:
    if not store.exists():
        return False
    try:
        with sqlite3.connect(store) as conn:
            row = conn.execute("SELECT device_id FROM sync_state").fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])


@pytest.mark.slow
def test_every_documented_till_command_works(tmp_path, serving):
    url, server_data = serving
    code_line = ok(run(SERVER, "device", "enrol-code", "--branch", "AND", data_dir=server_data))
    enrol_code = code_line.split(": ", 1)[1].split()[0]
    till_dir = tmp_path / "till"
    demo_dir = tmp_path / "demo-till"
    backup_file = tmp_path / "till-backup.db"
    subs = {
        "[--enrol-code CODE] [--data-dir DIR]": f"--enrol-code {enrol_code} --data-dir {till_dir}",
        "http://127.0.0.1:8765": url,
        "URL": url,
        "/tmp/demo-till": str(demo_dir),
        "/media/usb/till-2026-11-21.db": str(backup_file),
        "FILE": str(backup_file),
    }
    ran: set[str] = set()
    till_cmds = _of("stockpilot-till")

    # A real till enrols at the server with the code and starts selling.
    command = next(c for c in till_cmds if "--enrol-code CODE" in c)
    ran.add(command)
    with background(*argv(command, subs), data_dir=tmp_path, logs=tmp_path / "till") as till:
        till.wait_for(lambda: _enrolled(till_dir / "till.db"), what="enrolment")
    assert "Traceback" not in till.stderr()

    command = "stockpilot-till --demo --data-dir /tmp/demo-till"
    ran.add(command)
    with background(*argv(command, subs), data_dir=tmp_path, logs=tmp_path / "demo") as demo:
        demo.wait_for(lambda: "Demo shop: sign in as" in demo.stdout(), what="the demo's logins")
        assert "asha (cashier)" in demo.stdout() and "PIN 1234" in demo.stdout()
        # Backing up while it runs is fine; restoring over it is refused.
        ran.add("stockpilot-till backup FILE")
        out = ok(
            run(
                *argv("stockpilot-till backup FILE", subs),
                "--data-dir",
                str(demo_dir),
                data_dir=tmp_path,
            )
        )
        assert "integrity ok" in out
        refused(
            run(
                *argv("stockpilot-till restore FILE", subs),
                "--data-dir",
                str(demo_dir),
                data_dir=tmp_path,
            ),
            code=1,
            says="a till is running",
            prog="stockpilot-till",
        )
    assert "Traceback" not in demo.stderr()

    ran.add("stockpilot-till restore FILE")
    assert "Restored" in ok(
        run(
            *argv("stockpilot-till restore FILE", subs),
            "--data-dir",
            str(demo_dir),
            data_dir=tmp_path,
        )
    )
    for command in (c for c in till_cmds if "/media/usb" in c):
        ran.add(command)
        ok(run(*argv(command, subs), data_dir=tmp_path, STOCKPILOT_TILL_DATA_DIR=str(demo_dir)))

    # The back office opens its sign-in and waits for a person: alive and quiet is success.
    command = "stockpilot-till --manager --server URL"
    ran.add(command)
    with background(*argv(command, subs), data_dir=tmp_path, logs=tmp_path / "manager") as manager:
        time.sleep(4)
        assert manager.process.poll() is None, manager.stderr()
    assert "Traceback" not in manager.stderr()

    ran.add("stockpilot-till --self-check")
    assert "self-check" in ok(run(TILL, "--self-check", data_dir=tmp_path, timeout=240))

    assert ran == till_cmds, "the docs and this test disagree"
