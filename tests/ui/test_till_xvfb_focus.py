"""Under Xvfb with no window manager (as on kiosk tills): after a manager approves a
discount, F10 opens the payment at once and Enter pays — no click needed to get the keyboard
back. Real X key events from xdotool, the real till window (till_focus_probe.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pos_client.services.demo import seed_demo
from pos_client.store.db import LocalStore
from tests.xvfb import run_xvfb, stop

pytestmark = pytest.mark.xvfb

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("till_focus_probe.py")
Event = dict[str, Any]


@pytest.fixture
def display(tmp_path: Path) -> Iterator[str]:
    yield from run_xvfb(tmp_path, screen="1366x768x24")


def test_f10_pays_right_after_an_approval_without_a_window_manager(
    display: str, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
    store.close()
    out, log = tmp_path / "events.jsonl", tmp_path / "till.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, "PYTHONPATH": str(REPO_ROOT)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(PROBE), str(tmp_path), str(out)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def events(kind: str) -> list[Event]:
        if not out.exists():
            return []
        lines = [json.loads(x) for x in out.read_text().splitlines() if x.endswith("}")]
        return [e for e in lines if e["event"] == kind]

    def wait_for(what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if condition():
                return
            if process.poll() is not None:
                pytest.fail(f"the till exited: {log.read_text()[-3000:]}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; focus went {events('focus')}")

    def focused_window() -> str:
        moves = events("focus")
        return moves[-1]["window"] if moves else ""

    def xdotool(*args: str) -> None:
        done = subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0:
            pytest.fail(f"xdotool {' '.join(args)} failed: {done.stderr}")

    try:
        found = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", "StockPilot Till"],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        xdotool("windowfocus", "--sync", found[0])  # the only click-free start there is
        wait_for("the till, signed in, rice in the cart", lambda: bool(events("ready")))
        xdotool("key", "F5")
        wait_for("the discount box", lambda: focused_window() == "ValueDialog")
        # --delay 150: a person typing, not a scanner burst.
        xdotool("type", "--delay", "150", "20%")
        xdotool("key", "Return")
        wait_for("the approval dialog", lambda: focused_window() == "OverrideDialog")
        xdotool("type", "--delay", "150", "ravi")
        xdotool("key", "Tab")
        xdotool("type", "--delay", "150", "1234")
        xdotool("key", "Return")
        wait_for("the discount", lambda: bool(events("discount")))
        wait_for("the keyboard back on the till", lambda: focused_window() == "TillWindow")
        xdotool("key", "F10")
        wait_for("the payment dialog", lambda: focused_window() == "PaymentDialog")
        xdotool("key", "Return")  # take the exact amount in cash
        time.sleep(0.3)
        xdotool("key", "Return")  # complete the sale
        wait_for("the sale", lambda: bool(events("sale")))
        assert events("discount")[0]["amount"] == "129.80"
    finally:
        stop(process)
