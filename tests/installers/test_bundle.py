"""The till bundle: built by scripts/bundle.sh, it starts and passes its self-check offscreen.

The build takes about a minute, so it is cached in build/bundle-cache/ under a hash of what
goes into it; a test run with unchanged sources reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pos_client.selfcheck import main_self_check, run_checks

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "bundle-cache"
# Building is a minute on a quiet machine, several on a loaded one; the default 300 s per test
# would cut a slow build short.
pytestmark = pytest.mark.timeout(900)

INPUTS = ("pos_client", "common", "installers", "scripts/bundle.sh", "pyproject.toml")


def _sources_hash() -> str:
    """Hash every file that shapes the bundle, plus the interpreter and the packaging tools."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for stamp in (sys.version, version("pyinstaller"), version("PySide6-Essentials")):
        digest.update(stamp.encode())
    for entry in INPUTS:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, "QT_QPA_PLATFORM": "offscreen"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the folder of a till bundle built from the current sources (cached)."""
    key = _sources_hash()
    cached = CACHE / key / "stockpilot-till"
    if not (cached / "stockpilot-till").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = CACHE / f"{key}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        # The documented command, minus the apt/venv setup the test run has already done.
        result = subprocess.run(
            ["bash", "scripts/bundle.sh", "--no-setup"],
            cwd=ROOT,
            env={
                **_env(),
                "PYTHON": sys.executable,
                "DIST": str(staging),
                "WORK": str(tmp_path_factory.mktemp("bundle-work")),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "self-check passed" in result.stdout
        try:
            staging.rename(CACHE / key)
        except OSError:  # another test run cached the same build meanwhile
            shutil.rmtree(staging, ignore_errors=True)
        for old in CACHE.iterdir():  # keep one finished build: each is ~260 MB
            if old.name != key and ".partial-" not in old.name:
                shutil.rmtree(old, ignore_errors=True)
    return cached


def _run(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bundle / "stockpilot-till"), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_bundle_shows_its_version_and_passes_its_self_check(bundle):
    version = _run(bundle, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == "StockPilot till 0.1.0"
    check = _run(bundle, "--self-check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "(bundle)" in check.stdout and "self-check passed" in check.stdout
    for name in ("qt", "local store", "serial ports", "receipt pdf", "barcodes"):
        assert f"ok   {name}" in check.stdout


@pytest.mark.slow
def test_the_bundle_carries_the_till_and_not_the_server(bundle):
    internal = bundle / "_internal"
    assert (internal / "barcode" / "fonts").is_dir()  # python-barcode's own font
    assert list(internal.rglob("libqoffscreen*")) and list(internal.rglob("libqxcb*"))
    assert not list(internal.rglob("fastapi")) and not list(internal.rglob("sync_server"))
    assert not (internal / "PIL").exists()  # Pillow comes with the server's extras only


@pytest.mark.slow
def test_the_bundle_backs_up_a_store(bundle, tmp_path):
    from pos_client.store.db import LocalStore

    LocalStore(tmp_path / "till" / "till.db").close()
    result = _run(bundle, "backup", str(tmp_path / "copy.db"), "--data-dir", str(tmp_path / "till"))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sales'").fetchone()[0]


@pytest.mark.slow
def test_the_bundled_till_starts_and_opens_its_store(bundle, tmp_path):
    data_dir = tmp_path / "till"
    log = (tmp_path / "till.log").open("w")
    till = subprocess.Popen(
        [str(bundle / "stockpilot-till"), "--data-dir", str(data_dir)],
        env=_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data_dir / "till.db").exists() and time.monotonic() < deadline:
            assert till.poll() is None, (tmp_path / "till.log").read_text()[-3000:]
            time.sleep(0.1)
        time.sleep(1.0)  # past start-up: a missing plugin or resource would have ended it
        assert till.poll() is None, (tmp_path / "till.log").read_text()[-3000:]
        with sqlite3.connect(data_dir / "till.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        till.terminate()
        till.wait(timeout=15)
        log.close()


def test_self_check_from_source_passes(capsys):
    assert main_self_check(["--self-check"]) == 0
    assert "self-check passed" in capsys.readouterr().out


def test_self_check_names_what_fails_and_exits_1(tmp_path):
    # A file where the scratch folder should be: the store and the PDF cannot be written.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    results = {r.name: r for r in run_checks(workdir=blocked)}
    assert not results["local store"].ok and not results["receipt pdf"].ok
    assert results["serial ports"].ok and results["qt"].ok
    assert "Error" in results["local store"].detail
