"""A tiny till window for the Xvfb test: a focused line edit behind the HID scanner filter.

Run as `python hid_probe_app.py OUT_FILE [STALL_MS]` with the repository on PYTHONPATH.
Every event is appended to OUT_FILE as one JSON object per line: "ready" once the window
is shown, "focus" when the line edit gets keyboard focus, "scanned" per code (with the
box's text at that moment), "text" on every change of the box, "key" for each key press
that reaches the box (with its X timestamp), "input" for each key press the application
receives from X before any filtering (to tell a slow xdotool from a wrong verdict), and
"final" when the program quits (SIGTERM).

With STALL_MS, the GUI thread sleeps that long right after the first key press, as a
till does when a slow slot runs while a scan comes in; "stalled" is written after it.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from pos_client.scanners.hid import HidScannerFilter

TITLE = "ScanProbe"


class _Recorder:
    def __init__(self, path: Path) -> None:
        self._path = path

    def __call__(self, event: str, **fields: Any) -> None:
        # Append and close each time, so the test can read a consistent file at any moment.
        with self._path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, **fields}) + "\n")


class _KeyLog(QObject):
    """Log key presses that get past the scanner filter into the box."""

    def __init__(self, record: _Recorder) -> None:
        super().__init__()
        self._record = record

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            self._record("key", text=event.text(), timestamp=event.timestamp())
        return False


class _InputLog(QObject):
    """Log every key press as it arrives from the window system, before any filtering."""

    def __init__(self, record: _Recorder) -> None:
        super().__init__()
        self._record = record

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # X input reaches the window first, then the focus widget: log it once, there.
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and watched.isWindowType()
            and event.spontaneous()
        ):
            self._record("input", key=event.key(), text=event.text(), timestamp=event.timestamp())
        return False


class _StallOnce(QObject):
    """Block the GUI thread once, just after the first key press has been handled."""

    def __init__(self, record: _Recorder, stall_ms: int) -> None:
        super().__init__()
        self._record = record
        self._stall_ms = stall_ms
        self._armed = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._armed and event.type() == QEvent.Type.KeyPress:
            self._armed = False
            # After this event is done: the scanner filter has held the key and started
            # its pause timer, which expires during the sleep while X queues the rest.
            QTimer.singleShot(0, self._stall)
        return False

    def _stall(self) -> None:
        time.sleep(self._stall_ms / 1000)
        self._record("stalled")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: hid_probe_app.py OUT_FILE [STALL_MS]", file=sys.stderr)
        return 2
    record = _Recorder(Path(argv[1]))
    stall_ms = int(argv[2]) if len(argv) == 3 else 0
    app = QApplication(argv[:1])

    window = QWidget()
    window.setWindowTitle(TITLE)
    window.resize(320, 80)
    edit = QLineEdit(window)
    edit.setObjectName("code")
    QVBoxLayout(window).addWidget(edit)
    key_log = _KeyLog(record)
    edit.installEventFilter(key_log)

    scan_filter = HidScannerFilter()
    scan_filter.install(app)
    # Installed after the scanner filter, so Qt asks them first.
    stall = _StallOnce(record, stall_ms)
    if stall_ms:
        app.installEventFilter(stall)
    input_log = _InputLog(record)
    app.installEventFilter(input_log)
    scan_filter.scanned.connect(lambda code: record("scanned", code=code, text=edit.text()))
    edit.textChanged.connect(lambda text: record("text", text=text))
    app.focusChanged.connect(
        lambda _old, new: record("focus") if new is edit else None,
    )
    app.aboutToQuit.connect(lambda: record("final", text=edit.text()))

    # Python runs signal handlers only between bytecodes: a timer gives it the chance
    # while Qt's loop waits in C++.
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    heartbeat = QTimer()
    heartbeat.start(50)
    heartbeat.timeout.connect(lambda: None)

    window.show()
    edit.setFocus()
    record("ready")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
