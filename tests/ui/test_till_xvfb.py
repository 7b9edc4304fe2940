"""Under Xvfb: a scanner's burst of real X key events, typed while the till's search box has
focus, puts the product in the cart and leaves the box empty; slow typing stays in the box.

The filter's own Xvfb test (tests/client/test_hid_xvfb.py) uses a probe window; this one
runs the real till window built by app.build_till over a real store (till_probe_app.py).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pos_client.services.demo import DEMO_PRODUCTS, seed_demo
from pos_client.store.db import LocalStore
from tests.xvfb import BOOST, run_xvfb, stop

pytestmark = pytest.mark.xvfb

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("till_probe_app.py")
MAX_GAP_MS = 30
Event = dict[str, Any]


def kinds(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["event"] == kind]


@pytest.fixture
def display(tmp_path: Path) -> Iterator[str]:
    """Start a private Xvfb on a free display; yield ":N"."""
    yield from run_xvfb(tmp_path, screen="1366x768x24")


class TillProcess:
    """The till probe's process and the events it has written."""

    def __init__(self, *, display: str, data_dir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.display = display
        self.out = data_dir / "events.jsonl"
        self.log = data_dir / "till.log"
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "xcb",
            "DISPLAY": display,
            "PYTHONPATH": str(REPO_ROOT),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(PROBE), str(data_dir), str(self.out), *extra_args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def events(self) -> list[Event]:
        if not self.out.exists():
            return []
        lines = self.out.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def wait_for(self, what: str, condition: Callable[[list[Event]], bool]) -> list[Event]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = self.events()
            if condition(events):
                return events
            if self.process.poll() is not None:
                pytest.fail(f"the till exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}; the till wrote {self.events()}")

    def xdotool(self, *args: str, script: str | None = None) -> str:
        result = subprocess.run(
            [*BOOST, "xdotool", *args],
            input=script,
            text=True,
            env={**os.environ, "DISPLAY": self.display},
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            pytest.fail(f"xdotool {' '.join(args)} failed: {result.stderr}")
        return result.stdout


def test_scan_through_x_lands_in_the_till_cart(display: str, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
    store.close()
    till = TillProcess(display=display, data_dir=tmp_path)
    try:
        window = till.xdotool("search", "--sync", "--onlyvisible", "--name", "StockPilot Till")
        # No window manager under Xvfb: give the window the X input focus directly.
        till.xdotool("windowfocus", "--sync", window.split()[0])
        till.wait_for("the till, signed in, search box focused", lambda e: kinds(e, "ready"))

        milk = DEMO_PRODUCTS[0]
        before = len(kinds(till.events(), "input"))
        # Code and Return in one xdotool run, one burst, as a USB scanner sends them.
        till.xdotool("-", script=f"type --delay 5 {milk.barcode}\nkey Return\n")
        events = till.wait_for("the cart line", lambda e: kinds(e, "line"))
        stamps = [e["timestamp"] for e in kinds(events, "input")[before:]]
        if max(b - a for a, b in itertools.pairwise(stamps)) > MAX_GAP_MS:
            pytest.skip("inconclusive: the machine was too busy for xdotool to play a scanner")
        assert kinds(events, "line") == [
            {"event": "line", "sku": milk.sku, "quantity": "1", "text": ""}
        ]
        assert kinds(events, "text") == []  # not one character of the scan reached the box

        # --delay 150 leaves ~75 ms between keys: a person typing a name into the box.
        till.xdotool("type", "--delay", "150", "tata")
        till.wait_for("typed text", lambda e: any(t["text"] == "tata" for t in kinds(e, "text")))
        assert len(kinds(till.events(), "line")) == 1
    finally:
        stop(till.process)
    final = till.wait_for("the final state", lambda e: kinds(e, "final"))
    assert kinds(final, "final")[0] == {"event": "final", "text": "tata", "lines": [milk.sku]}
