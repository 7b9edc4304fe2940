"""The Qt binding the till runs on keeps Python's books straight over a long day."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
widget = QWidget()
before = sys.getrefcount(None)
for _ in range(50_000):  # a shift's worth of resizes, repaints and label updates
    widget.resize(300, 100)
print(before, sys.getrefcount(None))
"""


def test_qt_calls_returning_nothing_do_not_leak_references_to_none():
    # In a child process: a binding that loses a reference per call aborts the interpreter.
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-500:]
    before, after = (int(n) for n in result.stdout.split())
    assert abs(after - before) < 100
