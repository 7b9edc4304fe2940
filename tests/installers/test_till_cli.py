"""stockpilot-till's own command line as separate processes: restore refuses what is not a
till backup and a till that is running; help lists the maintenance commands; errors are one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pos_client import paths
from pos_client.store.db import LocalStore
from sync_server.db import make_engine
from sync_server.migrations.runner import upgrade
from tests.clitools import TILL, ok, refused, run

PROG = "stockpilot-till"


@pytest.fixture
def till_dir(tmp_path) -> Path:
    """A till data folder with an (empty) store, as a first start leaves it."""
    data_dir = tmp_path / "till"
    LocalStore(paths.store_path(data_dir)).close()
    return data_dir


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _server_database(path: Path) -> Path:
    """Make a real (empty) StockPilot server database, the file most easily mistaken."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def test_restore_refuses_a_server_database_and_other_foreign_files(tmp_path, till_dir):
    store = paths.store_path(till_dir)
    before = _digest(store)
    server_db = _server_database(tmp_path / "stockpilot.db")
    refused(
        run(TILL, "restore", str(server_db), "--data-dir", str(till_dir), data_dir=tmp_path),
        code=1,
        says="is a StockPilot server database, not a till backup",
        prog=PROG,
    )
    other = tmp_path / "notes.db"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sqlite3; sqlite3.connect({str(other)!r}).execute("
            "'CREATE TABLE notes (x)').connection.commit()",
        ],
        check=True,
    )
    refused(
        run(TILL, "restore", str(other), "--data-dir", str(till_dir), data_dir=tmp_path),
        code=1,
        says="is not a till backup (it has no outbox, sales, staff, sync_state table)",
        prog=PROG,
    )
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    refused(
        run(TILL, "restore", str(text), "--data-dir", str(till_dir), data_dir=tmp_path),
        code=1,
        says="is not a readable SQLite database",
        prog=PROG,
    )
    assert _digest(store) == before
    assert not list(till_dir.glob("*.before-restore-*"))


def test_restore_refuses_while_a_till_holds_the_folder(tmp_path, till_dir):
    backup_file = tmp_path / "b.db"
    ok(run(TILL, "backup", str(backup_file), "--data-dir", str(till_dir), data_dir=tmp_path))
    # A process holding the folder's lock the way a running till does (the real till window is
    # started in test_documented_commands; this one starts in a fraction of the time).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pos_client.instance import InstanceLock; "
            f"lock = InstanceLock({str(till_dir)!r}).acquire(); "
            "print('held', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _digest(paths.store_path(till_dir))
        line = refused(
            run(TILL, "restore", str(backup_file), "--data-dir", str(till_dir), data_dir=tmp_path),
            code=1,
            says=f"a till is running on {till_dir} (process {holder.pid}); close it first",
            prog=PROG,
        )
        assert "nothing changed" in line
        assert _digest(paths.store_path(till_dir)) == before
    finally:
        os.kill(holder.pid, signal.SIGTERM)
        holder.wait(timeout=10)
    # The till gone (its lock went with it), the same restore goes through.
    out = ok(run(TILL, "restore", str(backup_file), "--data-dir", str(till_dir), data_dir=tmp_path))
    assert "Restored" in out


def test_help_lists_the_maintenance_commands_and_bad_usage_is_one_line(tmp_path):
    out = ok(run(TILL, "--help", data_dir=tmp_path))
    for command in (
        "stockpilot-till backup FILE",
        "stockpilot-till restore FILE",
        "--self-check",
        "--demo",
        "--manager",
        "--enrol-code",
    ):
        assert command in out
    refused(
        run(TILL, "--bogus", data_dir=tmp_path), code=2, says="unrecognized arguments", prog=PROG
    )
    refused(
        run(TILL, "restore", data_dir=tmp_path),
        code=2,
        says="the following arguments are required: FILE",
        prog=PROG,
    )
    refused(
        run(
            TILL,
            "backup",
            str(tmp_path / "x.db"),
            "--data-dir",
            str(tmp_path / "none"),
            data_dir=tmp_path,
        ),
        code=1,
        says="does not exist",
        prog=PROG,
    )


def test_a_second_till_on_the_same_folder_is_refused(tmp_path, till_dir):
    first = subprocess.Popen(
        [TILL, "--demo", "--data-dir", str(till_dir)],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "Demo shop: sign in as" in first.stdout.readline()
        deadline = time.monotonic() + 60
        while not (till_dir / "till.lock").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        refused(
            run(TILL, "--demo", "--data-dir", str(till_dir), data_dir=tmp_path),
            code=1,
            says=f"a till is running on {till_dir} (process {first.pid})",
            prog=PROG,
        )
    finally:
        first.terminate()
        first.wait(timeout=20)


# Runs stockpilot-till's main() in a fresh process, then says which heavy packages it loaded.
# After the command, the probe loads the window's module too: the same check must then see
# Qt's widgets, or it could not have failed above.
_LOADED_PROBE = """
import json, runpy, sys
sys.argv = ["stockpilot-till", *sys.argv[1:]]
try:
    runpy.run_module("pos_client.app", run_name="__main__")
except SystemExit as done:
    code = done.code
heavy = ("PySide6", "PySide6.QtWidgets", "sqlalchemy", "pydantic")
loaded = [name for name in heavy if name in sys.modules]
import pos_client.launch  # noqa: E402
print(json.dumps({"code": code, "loaded": loaded, "window": "PySide6.QtWidgets" in sys.modules}))
"""


@pytest.mark.parametrize(
    "command", [["backup", "--help"], ["--help"], ["--version"], ["backup", "FILE"]]
)
def test_maintenance_commands_start_without_qt_or_the_database_code(tmp_path, till_dir, command):
    if command == ["backup", "FILE"]:
        command = ["backup", str(tmp_path / "b.db"), "--data-dir", str(till_dir)]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_PROBE, *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["code"] == 0, done.stdout
    assert found["loaded"] == [], f"{command[0]} loaded {found['loaded']}"
    assert found["window"], "the probe would not see Qt's widgets loaded"
