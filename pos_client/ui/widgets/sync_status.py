"""The always-visible sync state: online / offline since HH:MM / N waiting."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QLabel, QWidget

from common.clock import CLOCK_SKEW_LIMIT_SECONDS, describe_skew


def describe(
    *,
    online: bool,
    offline_since: datetime | None,
    pending: int,
    error: str | None = None,
    clock_skew: float | None = None,
) -> tuple[str, str]:
    """Return the text and state name of the sync indicator."""
    waiting = "all sent" if pending == 0 else f"{pending} waiting"
    if clock_skew is not None and abs(clock_skew) > CLOCK_SKEW_LIMIT_SECONDS:
        # A wrong clock puts the wrong date on every receipt: say so until it is fixed.
        where = "Online" if online else "Offline"
        return f"● {where} · ⚠ Clock {describe_skew(clock_skew)} the server", "error"
    if online:
        return f"● Online · {waiting}", "online"
    since = f" since {offline_since.astimezone().strftime('%H:%M')}" if offline_since else ""
    return f"● Offline{since} · {waiting}", "error" if error else "offline"


def clock_advice(clock_skew: float | None) -> str | None:
    """Return what the cashier should do about a wrong clock, if it is wrong."""
    if clock_skew is None or abs(clock_skew) <= CLOCK_SKEW_LIMIT_SECONDS:
        return None
    return (
        f"This till's clock is {describe_skew(clock_skew)} the server's, so receipts show the "
        "wrong date and time. Ask a manager to set the date and time."
    )


class SyncStatusLabel(QLabel):
    """Shows the sync state; fed by the sync worker's status and the local outbox count."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SyncStatus")
        self.online = False
        self.offline_since: datetime | None = None
        self.pending = 0
        self.error: str | None = None
        self.clock_skew: float | None = None
        self._render()

    def set_state(
        self,
        *,
        online: bool,
        offline_since: datetime | None = None,
        error: str | None = None,
        clock_skew: float | None = None,
    ) -> None:
        """Take the sync worker's latest view of the server."""
        self.online = online
        self.offline_since = None if online else offline_since
        self.error = error
        self.clock_skew = clock_skew
        self._render()

    def set_pending(self, pending: int) -> None:
        """Take the number of events still waiting in the outbox."""
        self.pending = pending
        self._render()

    def _render(self) -> None:
        text, state = describe(
            online=self.online,
            offline_since=self.offline_since,
            pending=self.pending,
            error=self.error,
            clock_skew=self.clock_skew,
        )
        self.setText(text)
        self.setToolTip(clock_advice(self.clock_skew) or self.error or "")
        self.setProperty("state", state)
        self.style().unpolish(self)
        self.style().polish(self)
