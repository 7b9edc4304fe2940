"""The server wheel: `python -m build`, install into a new venv, `init` + `serve` answer health.

This is the embedded setup an operator follows: pip install "stockpilot[server]", then
stockpilot-server init and serve. It takes ~20-30 s, mostly pip resolving the dependencies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests import web

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "sync_server", "pos_client")


def _copy_sources(dest: Path) -> None:
    """Copy the sources a clone would hold, so the build writes nothing into this checkout."""
    listed = subprocess.run(
        # Tracked files plus new ones not ignored: what the next commit of this tree holds.
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *PACKAGES,
            "pyproject.toml",
            "README.md",
        ],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout:
        names = [n for n in listed.stdout.decode().split("\0") if n]
    else:  # not a git checkout (an unpacked sdist): take the tree as it is
        names = [
            str(p.relative_to(ROOT))
            for pkg in PACKAGES
            for p in (ROOT / pkg).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
        names += ["pyproject.toml", "README.md"]
    for name in names:
        source = ROOT / name
        if source.is_file():  # a tracked file someone is deleting right now
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def new_venv(path: Path) -> Path:
    """Make a new, empty virtualenv; return its bin folder.

    It gets no pip of its own (ensurepip costs seconds of CPU and installs Python's bundled,
    older pip): `pip_into` installs into it with this environment's pip, the up-to-date one
    scripts/venv.sh upgrades to.
    """
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    return path / ("Scripts" if os.name == "nt" else "bin")


def pip_into(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `pip install ARGS` for the virtualenv of bin_dir (pip --python: its interpreter)."""
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    return _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--disable-pip-version-check",
            *args,
        ]
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_installs_in_a_new_venv_and_init_serve_answer_health(tmp_path):
    src = tmp_path / "src"
    _copy_sources(src)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)])
    (wheel,) = (tmp_path / "dist").glob("stockpilot-*.whl")

    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {
        f"sync_server/migrations/versions/{p.name}"
        for p in (src / "sync_server" / "migrations" / "versions").glob("*.py")
    }
    assert "sync_server/migrations/versions/0001_core.py" in migrations
    assert migrations <= names, migrations - names
    assert "sync_server/migrations/script.py.mako" in names
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    bin_dir = new_venv(venv)
    pip_into(
        bin_dir,
        "--no-compile",  # byte-compiling every dependency is CPU the test does not need
        f"stockpilot[server] @ {wheel.resolve().as_uri()}",
    )

    home = tmp_path / "operator"  # a working directory with no sources in sight
    home.mkdir()
    env = {**os.environ, "STOCKPILOT_DATA_DIR": str(home / "data")}
    for key in ("STOCKPILOT_DATABASE_URL", "STOCKPILOT_SECRET_KEY", "PYTHONPATH"):
        env.pop(key, None)
    where = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import sync_server, importlib.util as u; print(sync_server.__file__); "
            "print(u.find_spec('PySide6') is not None)",
        ],
        cwd=home,
        env=env,
    )
    location, has_qt = where.stdout.split()
    assert Path(location).is_relative_to(venv) and has_qt == "False"

    init = _run(
        [
            str(bin_dir / "stockpilot-server"),
            "init",
            "--tenant",
            "Wheel Shop",
            "--admin-password",
            "wheel-pass-123",
        ],
        cwd=home,
        env=env,
    )
    assert "admin" in init.stdout and (home / "data" / "stockpilot.db").is_file()

    port = _free_port()
    log = (home / "serve.log").open("w")  # never an unread pipe: access logs would block it
    server = subprocess.Popen(
        [str(bin_dir / "stockpilot-server"), "serve", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = web.get(f"{url}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, (home / "serve.log").read_text()[-3000:]
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "ok" and body["database"]["migrated"] is True
        assert body["database"]["dialect"] == "sqlite"
        login = web.post(
            f"{url}/api/v1/auth/login",
            timeout=10,
            json={"username": "admin", "password": "wheel-pass-123"},
        )
        assert login.status_code == 200 and login.json()["access_token"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()
