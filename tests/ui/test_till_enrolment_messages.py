"""Enrolling a till says what went wrong in words: an unreachable server, a refused code."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from pos_client.config import TillConfig
from pos_client.services.sync_engine import SyncEngine, SyncFailed
from pos_client.store.db import LocalStore
from pos_client.ui.till.wizard import FirstRunWizard
from sync_server.db import transaction, utcnow
from sync_server.sync.models import EnrolmentCode


def _closed_port() -> str:
    """Return the URL of a loopback port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _code(world) -> str:
    answer = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["code"]


def _refusal(store: LocalStore, url: str, code: str) -> str:
    with pytest.raises(SyncFailed) as refused:
        SyncEngine(store, server_url=url, timeout=5.0).enrol(server_url=url, code=code, name="T")
    return str(refused.value)


def test_the_server_says_why_a_code_is_refused(world, live_server, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "till.db")
    url = live_server.url
    unknown = _refusal(store, url, "ABCDE-FGHJK")
    assert "refused the enrolment code" in unknown and "unknown" in unknown
    used = _code(world)
    SyncEngine(store, server_url=url, timeout=5.0).enrol(server_url=url, code=used, name="T1")
    again = _refusal(LocalStore(tmp_path / "other.db"), url, used)
    assert "already used" in again
    old = _code(world)
    with transaction(world.sessions()) as session:
        session.execute(update(EnrolmentCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert "expired" in _refusal(LocalStore(tmp_path / "third.db"), url, old)
    store.close()


def test_an_unreachable_server_says_what_to_check(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "till.db")
    url = _closed_port()
    message = _refusal(store, url, "ABCDE-FGHJK")
    assert "Errno" not in message and "refused" not in message.lower()
    assert f"No StockPilot server answered at {url}" in message
    assert "address and port" in message and "running" in message
    bad_address = _refusal(store, "192.168.1.10:8765", "ABCDE-FGHJK")
    assert "http://" in bad_address and "not a server address" in bad_address
    store.close()


def test_the_wizard_shows_what_to_check(qtbot: QtBot, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "till.db")
    url = _closed_port()
    engine = SyncEngine(store, server_url=url, timeout=5.0)
    wizard = FirstRunWizard(
        config=TillConfig(data_dir=tmp_path, server_url=url),
        enrol=lambda u, c, n: engine.enrol(server_url=u, code=c, name=n),
    )
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.server.code.setText("ABCDE-FGHJK")
    wizard.next()
    assert wizard.currentPage() is wizard.server
    shown = wizard.server.error.text()
    assert "No StockPilot server answered" in shown and "Errno" not in shown
    wizard.close()
    store.close()


@pytest.mark.timeout(120)
def test_a_bad_enrol_code_on_the_command_line_says_why_before_the_wizard(
    live_server, world, tmp_path: Path
) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    till = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pos_client.app",
            "--server",
            live_server.url,
            "--data-dir",
            str(tmp_path / "till"),
            "--enrol-code",
            "ABCDE-FGHJK",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        deadline, said = time.monotonic() + 90, ""
        while time.monotonic() < deadline and till.poll() is None:
            line = till.stderr.readline()
            if "not enrolled with --enrol-code" in line:
                said = line
                break
    finally:
        till.terminate()
        till.wait(timeout=30)
    assert "refused the enrolment code" in said and "unknown" in said, said
    assert "wizard" in said
