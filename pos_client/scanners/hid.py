"""Tell a keyboard-wedge scanner's burst from human typing and capture it app-wide.

A USB HID scanner "types" its code: one key every few milliseconds, then a terminator
(Enter or Tab). People press a key every 100 ms or so, never a dozen 30 ms apart or less.
`detector.ScanDetector` makes that call from timestamps alone, with no Qt, so the rule is
tested with injected times. `HidScannerFilter` applies it to a running QApplication: it holds
the first keystrokes back for a moment, swallows them when they turn out to be a scan,
and re-delivers them, unchanged and in order, when they turn out to be typing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent

from common.barcodes import is_product_code
from pos_client.scanners.detector import DEFAULT_TERMINATORS, Decision, ScanDetector, Verdict

__all__ = [
    "DEFAULT_TERMINATORS",
    "Decision",
    "HidScannerFilter",
    "ScanDetector",
    "Verdict",
]

log = logging.getLogger(__name__)


class _Kind(Enum):
    CHAR = "char"
    TERMINATOR = "terminator"
    MODIFIER = "modifier"
    OTHER = "other"


_KEY_EVENTS = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride}
)
_TERMINATOR_KEYS = {
    Qt.Key.Key_Return: "Return",
    Qt.Key.Key_Enter: "Enter",
    Qt.Key.Key_Tab: "Tab",
}
# Scanners press Shift for capitals; these keys neither start nor break a burst.
_MODIFIER_KEYS = frozenset(
    {
        Qt.Key.Key_Shift,
        Qt.Key.Key_Control,
        Qt.Key.Key_Alt,
        Qt.Key.Key_AltGr,
        Qt.Key.Key_Meta,
        Qt.Key.Key_CapsLock,
        Qt.Key.Key_NumLock,
    }
)
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)
# Windows reports AltGr as Ctrl+Alt: characters typed with it are still plain text.
_ALTGR_ON_WINDOWS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
# A person's key release that belongs to a swallowed scan press is expected within this time.
_SWALLOW_RELEASE_S = 1.0


@dataclass(slots=True)
class _Held:
    receiver: QObject
    event: QKeyEvent  # our own copy: Qt reuses its event once the filter returns
    key_id: int


class HidScannerFilter(QObject):
    """Application-wide event filter that turns scanner bursts into `scanned` signals.

    Install it on the QApplication (`install(app)`). Whatever widget has focus, a scan
    never reaches it as text: its key presses and releases are swallowed and `scanned`
    is emitted once with the code. Typing is held back until the next key shows it is
    too slow for a scanner, or until it pauses for `flush_after_ms` (default a quarter
    more than the detector's `stall_gap_ms`), and is then re-delivered to the object it
    was sent to, presses and releases in their original order. Re-delivered presses are
    ordinary non-spontaneous events, so Qt still matches them against shortcuts.
    """

    scanned = Signal(str)
    # A scan that stalled mid-way: (head that already went out as typing, the rest). The
    # receiver rejoins them if the check digit allows, or asks for the scan again.
    partial = Signal(str, str)
    # Held keys are about to go out to this receiver as typing (`typing_starts`), and have
    # gone (`typing_ended`). A receiver told later that they were a stalled scan's head can
    # put its text back as it was before them, selection included.
    typing_starts = Signal(QObject)
    typing_ended = Signal(QObject)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        detector: ScanDetector | None = None,
        flush_after_ms: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.detector = detector if detector is not None else ScanDetector()
        self._clock = clock
        self._held: list[_Held] = []
        # Events being re-delivered right now; the filter must let them (and the
        # ShortcutOverride Qt sends ahead of each) pass instead of capturing them again.
        self._replaying: list[QKeyEvent] = []
        self._replaying_ptrs: set[int] = set()
        # Key releases still owed by presses a scan swallowed: (key id, deadline).
        self._swallow: list[tuple[int, float]] = []
        self._installed_on: QCoreApplication | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        if flush_after_ms is None:
            flush_after_ms = round(1.25 * self.detector.stall_gap_ms)
        if flush_after_ms < self.detector.stall_gap_ms:
            raise ValueError("flush_after_ms shorter than stall_gap_ms would split scans")
        self._timer.setInterval(flush_after_ms)
        self._timer.timeout.connect(self._on_pause)
        # When the GUI thread was busy, the pause timer can expire while the rest of a
        # burst already waits in the queue, and Qt may fire a due timer before it
        # delivers queued input (on xcb it does). So a pause is confirmed on the next
        # pass of the event loop, after that input, and only if no key came meanwhile.
        self._confirm = QTimer(self)
        self._confirm.setSingleShot(True)
        self._confirm.setInterval(0)
        self._confirm.timeout.connect(self._on_pause_confirmed)
        self._holds = 0
        self._holds_at_pause = 0

    # -- installation -------------------------------------------------------------

    def install(self, app: QCoreApplication) -> None:
        """Start filtering every key event of `app`."""
        app.installEventFilter(self)
        self._installed_on = app

    def uninstall(self) -> None:
        """Stop filtering and hand back any keys still held as typing."""
        if self._installed_on is not None:
            self._installed_on.removeEventFilter(self)
            self._installed_on = None
        self.flush()

    def set_detector(self, detector: ScanDetector) -> None:
        """Use another scanner-versus-typing rule from the next key on."""
        self.flush()
        self.detector = detector
        self._timer.setInterval(round(1.25 * detector.stall_gap_ms))

    def flush(self) -> None:
        """Deliver held keys now as typing."""
        self.detector.flush()
        self._release_held()

    # -- Qt hook ------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Every event of the app passes here: the cheap class check first (asking an event
        # for its type makes a Python enum), and only key events are asked.
        if not isinstance(event, QKeyEvent):
            return False
        etype = event.type()
        if etype not in _KEY_EVENTS:
            return False
        if self._is_replay(event):
            return False
        if etype == QEvent.Type.ShortcutOverride:
            return self._on_shortcut_override(event)
        if etype == QEvent.Type.KeyPress:
            return self._on_press(watched, event)
        return self._on_release(watched, event)

    # -- decisions ----------------------------------------------------------------

    def _on_shortcut_override(self, event: QKeyEvent) -> bool:
        # Qt asks before each press whether the focus object wants the key itself; if
        # nobody says yes, a matching shortcut eats the press and it never reaches us.
        # Claim the keys a scan is made of so they arrive as presses. Nothing is lost
        # for typing: the re-delivered press goes through the shortcut check again.
        kind = self._classify(event)
        if kind is _Kind.OTHER and self._held:
            # A command key (Ctrl+S, F2) may fire a shortcut right now: whatever was typed
            # before it must reach its widget first.
            self.flush()
        claim = kind is _Kind.CHAR or (kind is _Kind.TERMINATOR and bool(self._held))
        if claim:
            event.accept()
        return claim

    def _on_press(self, receiver: QObject, event: QKeyEvent) -> bool:
        kind = self._classify(event)
        if kind is _Kind.MODIFIER:
            # Keep modifiers in line with the held keys so order is kept on re-delivery.
            if self._held:
                self._hold(receiver, event)
                return True
            return False
        if kind is _Kind.OTHER:
            # No scanner sends this key: what was held was typed, and goes first.
            self.flush()
            return False
        if kind is _Kind.TERMINATOR:
            return self._on_terminator(receiver, event)

        decisions = self.detector.feed(event.text(), timestamp_ms=self._timestamp_ms(event))
        if any(decision.verdict is Verdict.TYPING for decision in decisions):
            self._release_held()
        self._hold(receiver, event)
        event.accept()
        return True

    def _on_terminator(self, receiver: QObject, event: QKeyEvent) -> bool:
        if not self._held:
            return False  # an ordinary Enter or Tab
        name = _TERMINATOR_KEYS[Qt.Key(event.key())]
        decisions = self.detector.feed(name, timestamp_ms=self._timestamp_ms(event))
        event.accept()
        scan = next((d for d in decisions if d.verdict in (Verdict.SCAN, Verdict.PARTIAL)), None)
        if scan is None:
            # Typing after all. This key's ShortcutOverride was claimed, so Qt skipped the
            # shortcut check: re-deliver it behind the held keys so the check happens.
            self._release_held()
            self._replay(_Held(receiver, _copy(event), self._key_id(event)))
            return True
        self._drop_held_for_scan(terminator=event)
        # Last, with the state settled: a slot may open a dialog and run a nested event
        # loop that feeds this filter again.
        tail = scan.text[len(scan.head) :]
        if scan.verdict is Verdict.SCAN or (
            # What went before was typing after all: the rest is a whole code by itself.
            is_product_code(tail) and not is_product_code(scan.text)
        ):
            self.scanned.emit(tail)
        else:
            log.warning("scanner: a scan stalled mid-way: %r then %r", scan.head, tail)
            self.partial.emit(scan.head, tail)
        return True

    def _on_release(self, receiver: QObject, event: QKeyEvent) -> bool:
        if not event.isAutoRepeat() and self._take_swallowed(self._key_id(event)):
            event.accept()
            return True
        if self._held:
            self._hold(receiver, event)
            return True
        return False

    def _on_pause(self) -> None:
        if self._held:
            self._holds_at_pause = self._holds
            self._confirm.start()

    def _on_pause_confirmed(self) -> None:
        if self._held and self._holds == self._holds_at_pause:
            self.flush()

    # -- held keys ----------------------------------------------------------------

    def _hold(self, receiver: QObject, event: QKeyEvent) -> None:
        self._held.append(_Held(receiver, _copy(event), self._key_id(event)))
        self._holds += 1
        self._timer.start()

    def _release_held(self) -> None:
        self._timer.stop()
        self._confirm.stop()
        held, self._held = self._held, []
        receiver = next(
            (i.receiver for i in held if i.event.type() == QEvent.Type.KeyPress),
            None,
        )
        if receiver is not None and not shiboken6.isValid(receiver):
            receiver = None
        if receiver is not None:
            self.typing_starts.emit(receiver)
        for item in held:
            self._replay(item)
        if receiver is not None and shiboken6.isValid(receiver):
            self.typing_ended.emit(receiver)

    def _drop_held_for_scan(self, *, terminator: QKeyEvent) -> None:
        self._timer.stop()
        self._confirm.stop()
        held, self._held = self._held, []
        open_presses: dict[int, int] = {}
        for item in held:
            if item.event.type() == QEvent.Type.KeyPress:
                open_presses[item.key_id] = open_presses.get(item.key_id, 0) + 1
            elif open_presses.get(item.key_id, 0) > 0:
                open_presses[item.key_id] -= 1
            else:
                # The release of a key pressed before the burst began: its press was
                # delivered, so its release must be too.
                self._replay(item)
        deadline = self._clock() + _SWALLOW_RELEASE_S
        for key_id, count in open_presses.items():
            self._swallow.extend([(key_id, deadline)] * count)
        self._swallow.append((self._key_id(terminator), deadline))

    def _take_swallowed(self, key_id: int) -> bool:
        if not self._swallow:
            return False
        now = self._clock()
        self._swallow = [entry for entry in self._swallow if entry[1] >= now]
        for index, (swallowed_id, _deadline) in enumerate(self._swallow):
            if swallowed_id == key_id:
                del self._swallow[index]
                return True
        return False

    def _replay(self, item: _Held) -> None:
        if not shiboken6.isValid(item.receiver):
            log.debug("dropping a held key: its receiver is gone")
            return
        ptr = _pointer(item.event)
        self._replaying.append(item.event)
        self._replaying_ptrs.add(ptr)
        try:
            QCoreApplication.sendEvent(item.receiver, item.event)
        finally:
            self._replaying.pop()
            self._replaying_ptrs.discard(ptr)

    def _is_replay(self, event: QKeyEvent) -> bool:
        if not self._replaying:
            return False
        if _pointer(event) in self._replaying_ptrs:
            return True
        # Qt sends a fresh ShortcutOverride ahead of a re-delivered (non-spontaneous) press.
        current = self._replaying[-1]
        return (
            event.type() == QEvent.Type.ShortcutOverride
            and current.type() == QEvent.Type.KeyPress
            and event.key() == current.key()
        )

    # -- helpers ------------------------------------------------------------------

    def _classify(self, event: QKeyEvent) -> _Kind:
        key = event.key()
        modifiers = event.modifiers() & _COMMAND_MODIFIERS
        plain = modifiers == Qt.KeyboardModifier.NoModifier or modifiers == _ALTGR_ON_WINDOWS
        if key in _TERMINATOR_KEYS:
            # Ctrl+Enter and friends are commands, not the end of a scan.
            return _Kind.TERMINATOR if modifiers == Qt.KeyboardModifier.NoModifier else _Kind.OTHER
        if key in _MODIFIER_KEYS:
            return _Kind.MODIFIER
        if event.count() != 1:
            return _Kind.OTHER
        if event.isAutoRepeat() and not self._held:
            # A key held down by a person. Inside a burst it is not: Qt on X11 flags a key
            # pressed again right after its own release ("00", "55") as auto-repeat.
            return _Kind.OTHER
        text = event.text()
        if plain and len(text) == 1 and text.isprintable():
            return _Kind.CHAR
        return _Kind.OTHER

    def _timestamp_ms(self, event: QKeyEvent) -> float:
        # Platforms stamp real input with the time the key went down (X server time on
        # xcb), which is what tells a burst apart even when the event queue lags.
        # Synthetic events carry 0: fall back to when we see them.
        stamp = event.timestamp()
        return float(stamp) if stamp else self._clock() * 1000.0

    @staticmethod
    def _key_id(event: QKeyEvent) -> int:
        # The native scan code pairs a press with its release even when Shift changes
        # the key in between ("1" pressed, "!" reported); synthetic events have none.
        scan_code = event.nativeScanCode()
        return (1 << 32) | scan_code if scan_code else event.key()


def _copy(event: QKeyEvent) -> QKeyEvent:
    """Copy a key event as a fresh, non-spontaneous event (so shortcuts are still tried)."""
    copy = QKeyEvent(
        event.type(),
        event.key(),
        event.modifiers(),
        event.nativeScanCode(),
        event.nativeVirtualKey(),
        event.nativeModifiers(),
        event.text(),
        event.isAutoRepeat(),
        event.count(),
        event.device(),
    )
    copy.setTimestamp(event.timestamp())
    return copy


def _pointer(event: QEvent) -> int:
    return shiboken6.getCppPointer(event)[0]
