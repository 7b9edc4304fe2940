"""Start-up of the till in a fresh process: ready to scan without loading the sync code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pos_client.services.demo import seed_demo
from pos_client.store.db import LocalStore

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from pos_client.launch import build_till
from pos_client.config import TillConfig

app = QApplication([])
till = build_till(app=app, config=TillConfig(data_dir=Path(sys.argv[1])))
till.window.show()
while till.runner.pending:
    app.processEvents()
heavy = [m for m in ("common.sync.protocol", "pydantic", "httpx") if m in sys.modules]
print("loaded:", ",".join(heavy) or "-")
till.close()
"""


def test_till_is_ready_without_loading_sync_code(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
    store.close()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # The protocol (pydantic) and the sync client (httpx) load at the first sale or sync.
    assert "loaded: -" in out.stdout
