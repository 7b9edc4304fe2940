"""A non-blocking message strip: unknown barcodes, change due, low stock."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QBoxLayout, QLabel, QWidget


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


def notice_on(dialog: QWidget) -> NoticeBar:
    """Return the notice strip at the top of a dialog, adding one the first time."""
    existing = dialog.findChild(NoticeBar, "DialogNotice")
    if existing is not None:
        return existing
    bar = NoticeBar(dialog)
    bar.setObjectName("DialogNotice")
    layout = dialog.layout()
    if isinstance(layout, QBoxLayout):
        layout.insertWidget(0, bar)
    else:
        # No box layout to join (a message box): lie over the dialog's top edge.
        bar.setGeometry(0, 0, dialog.width(), 48)
        bar.raise_()
    return bar
