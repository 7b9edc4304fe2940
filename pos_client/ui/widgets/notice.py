"""A non-blocking message strip: unknown barcodes, change due, low stock."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget


class NoticeBar(QLabel):
    """Shows one message for a few seconds; never takes focus, never needs a click."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Notice")
        self.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_notice)
        self.clear_notice()

    def notify(self, text: str, *, kind: str = "info", seconds: float = 6.0) -> None:
        """Show text styled by kind (info, warn, error, success)."""
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(text)
        self.setVisible(True)
        self._timer.start(int(seconds * 1000))

    def clear_notice(self) -> None:
        """Hide the message."""
        self.setText("")
        self.setVisible(False)

    @property
    def kind(self) -> str:
        """Return the kind of the message shown."""
        return str(self.property("kind") or "")
