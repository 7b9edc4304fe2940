"""Watch for keyboard and mouse activity app-wide and say when the till has been idle."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QInputEvent

from pos_client.services.login import IdleClock

_ACTIVITY = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.Wheel}
)


class IdleWatcher(QObject):
    """Emit idle() once after timeout_s without activity; activity re-arms it."""

    idle = Signal()

    def __init__(self, *, clock: IdleClock, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clock = clock
        self._fired = False
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Every event of the app passes here (timers, paints, layouts: thousands a minute).
        # Key, mouse, touch and wheel events are input events; asking the others for their
        # type made a Python enum each time, several times what this check costs.
        if isinstance(event, QInputEvent) and event.type() in _ACTIVITY:
            self.clock.touch()
            self._fired = False
        return False

    def check_now(self) -> None:
        """Check for idleness at once (tests and the timer)."""
        self._check()

    def _check(self) -> None:
        if not self._fired and self.clock.is_idle():
            self._fired = True
            self.idle.emit()
