"""The app-wide HID scanner filter with real widgets on the offscreen platform."""

from __future__ import annotations

import os

# Qt aborts the whole run when it finds no display: choose the headless platform first.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from pos_client.scanners.hid import HidScannerFilter

CODE = "5901234123457"


class KeyRecorder(QObject):
    """Record the key events that actually reach one widget (after the app-wide filter)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            assert isinstance(event, QKeyEvent)
            kind = "press" if event.type() == QEvent.Type.KeyPress else "release"
            self.events.append((kind, QKeySequence(event.key()).toString()))
        return False


@pytest.fixture
def scan_filter(qapp: QApplication) -> Iterator[HidScannerFilter]:
    scan_filter = HidScannerFilter()
    scan_filter.install(qapp)
    yield scan_filter
    scan_filter.uninstall()


@pytest.fixture
def scans(scan_filter: HidScannerFilter) -> list[str]:
    seen: list[str] = []
    scan_filter.scanned.connect(seen.append)
    return seen


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    window = QWidget()
    window.setWindowTitle("till")
    layout = QVBoxLayout(window)
    for widget in (QLineEdit(objectName="edit"), QSpinBox(objectName="spin"), QPushButton("Pay")):
        layout.addWidget(widget)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def edit(window: QWidget, qtbot: QtBot) -> QLineEdit:
    edit = window.findChild(QLineEdit, "edit")
    focus(qtbot, edit)
    return edit


def focus(qtbot: QtBot, widget: QWidget) -> None:
    widget.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


def key_of(char: str) -> int:
    # Qt's key codes for printable ASCII are the upper-case character codes.
    return ord(char.upper())


def send_key(
    receiver: QObject,
    key: int,
    *,
    text: str = "",
    at_ms: int,
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
) -> None:
    """Send a press and a release stamped `at_ms`, through QApplication like real input."""
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        event = QKeyEvent(kind, key, modifiers, text)
        event.setTimestamp(at_ms)
        QApplication.sendEvent(receiver, event)


def send_text(receiver: QObject, text: str, *, start_ms: int, gap_ms: int) -> int:
    """Send `text` key by key `gap_ms` apart; return the time of the last key."""
    at_ms = start_ms
    for index, char in enumerate(text):
        at_ms = start_ms + index * gap_ms
        send_key(receiver, key_of(char), text=char, at_ms=at_ms)
    return at_ms


def send_scan(receiver: QObject, code: str, *, start_ms: int = 10_000, gap_ms: int = 3) -> None:
    last = send_text(receiver, code, start_ms=start_ms, gap_ms=gap_ms)
    send_key(receiver, Qt.Key.Key_Return, text="\r", at_ms=last + gap_ms)


def settle(qtbot: QtBot) -> None:
    """Let the filter's pause timer fire, so nothing is still held back."""
    qtbot.wait(250)


def test_scan_is_captured_and_never_reaches_the_line_edit(
    qtbot: QtBot, edit: QLineEdit, scan_filter: HidScannerFilter, scans: list[str]
) -> None:
    returns: list[bool] = []
    edit.returnPressed.connect(lambda: returns.append(True))

    with qtbot.waitSignal(scan_filter.scanned, timeout=1000) as blocker:
        send_scan(edit, CODE)
    settle(qtbot)

    assert blocker.args == [CODE]
    assert scans == [CODE]
    assert edit.text() == ""
    assert returns == []


def test_no_key_event_of_a_scan_reaches_the_widget(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    recorder = KeyRecorder()
    edit.installEventFilter(recorder)

    send_scan(edit, CODE)
    settle(qtbot)

    assert scans == [CODE]
    assert recorder.events == []


def test_scan_through_qtest_clicks_with_real_clock(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    # QTest stamps no time on its events, so the filter falls back to its own clock.
    QTest.keyClicks(edit, CODE)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    settle(qtbot)

    assert scans == [CODE]
    assert edit.text() == ""


def test_slow_typing_stays_in_the_line_edit(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    for char in "hello":
        QTest.keyClick(edit, char)
        qtbot.wait(60)
    qtbot.waitUntil(lambda: edit.text() == "hello", timeout=2000)

    assert scans == []


def test_typed_keys_reach_the_widget_as_pairs_in_order(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    recorder = KeyRecorder()
    edit.installEventFilter(recorder)

    # Stamped 120 ms apart but sent at once, as when the event queue lagged behind a
    # person typing: the stamps, not the arrival, decide.
    send_text(edit, "abc", start_ms=5000, gap_ms=120)
    qtbot.waitUntil(lambda: edit.text() == "abc", timeout=2000)

    assert scans == []
    assert recorder.events == [
        ("press", "A"),
        ("release", "A"),
        ("press", "B"),
        ("release", "B"),
        ("press", "C"),
        ("release", "C"),
    ]


def test_slow_typing_then_return_reaches_the_line_edit(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    returns: list[bool] = []
    edit.returnPressed.connect(lambda: returns.append(True))

    last = send_text(edit, "590123", start_ms=1000, gap_ms=150)
    send_key(edit, Qt.Key.Key_Return, text="\r", at_ms=last + 150)
    settle(qtbot)

    assert edit.text() == "590123"
    assert returns == [True]
    assert scans == []


def test_short_fast_burst_is_delivered_as_typing_before_its_return(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    seen_at_return: list[str] = []
    edit.returnPressed.connect(lambda: seen_at_return.append(edit.text()))

    send_scan(edit, "12345")
    settle(qtbot)

    assert scans == []
    assert seen_at_return == ["12345"]


def test_non_printable_key_releases_held_keys_first(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    last = send_text(edit, "59", start_ms=1000, gap_ms=2)
    send_key(edit, Qt.Key.Key_Backspace, at_ms=last + 2)
    settle(qtbot)

    assert edit.text() == "5"
    assert scans == []


def test_scan_with_shifted_capitals_keeps_modifier_events_balanced(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    recorder = KeyRecorder()
    edit.installEventFilter(recorder)
    shift = Qt.KeyboardModifier.ShiftModifier

    at = 20_000
    for char in "AB123456":
        if char.isalpha():
            # Scanners press Shift around each capital, as a keyboard does.
            press = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Shift, shift)
            press.setTimestamp(at)
            QApplication.sendEvent(edit, press)
            send_key(edit, key_of(char), text=char, at_ms=at, modifiers=shift)
            release = QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Shift, Qt.KeyboardModifier(0))
            release.setTimestamp(at)
            QApplication.sendEvent(edit, release)
        else:
            send_key(edit, key_of(char), text=char, at_ms=at)
        at += 2
    send_key(edit, Qt.Key.Key_Return, text="\r", at_ms=at)
    settle(qtbot)

    assert scans == ["AB123456"]
    assert edit.text() == ""
    # The first Shift went down before anything looked like a scan, so the widget saw it;
    # it must see that key come back up too, and nothing else.
    assert recorder.events == [("press", "Shift"), ("release", "Shift")]


def test_scan_into_a_spin_box_leaves_its_value(
    qtbot: QtBot, window: QWidget, scans: list[str]
) -> None:
    spin = window.findChild(QSpinBox, "spin")
    spin.setRange(0, 10**6)
    spin.setValue(3)
    focus(qtbot, spin)

    send_scan(spin, "4006381333931")
    settle(qtbot)

    assert scans == ["4006381333931"]
    assert spin.value() == 3
    assert spin.lineEdit().text() == "3"


def test_tab_terminated_scan_does_not_move_focus(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    last = send_text(edit, CODE, start_ms=1000, gap_ms=2)
    send_key(edit, Qt.Key.Key_Tab, text="\t", at_ms=last + 2)
    settle(qtbot)

    assert scans == [CODE]
    assert edit.hasFocus()
    assert edit.text() == ""


def test_two_scans_in_a_row_emit_twice(qtbot: QtBot, edit: QLineEdit, scans: list[str]) -> None:
    send_scan(edit, CODE, start_ms=1000)
    send_scan(edit, "96385074", start_ms=3000)
    settle(qtbot)

    assert scans == [CODE, "96385074"]
    assert edit.text() == ""


def test_single_key_shortcut_fires_for_typing_but_not_for_a_scan(
    qtbot: QtBot, window: QWidget, scans: list[str]
) -> None:
    button = window.findChild(QPushButton)
    focus(qtbot, button)
    fired: list[bool] = []
    shortcut = QShortcut(QKeySequence("5"), window)
    shortcut.activated.connect(lambda: fired.append(True))

    send_scan(button, CODE)
    settle(qtbot)
    assert scans == [CODE]
    assert fired == []

    # A person pressing the key gets the shortcut, a moment late.
    QTest.keyClick(button, Qt.Key.Key_5)
    qtbot.waitUntil(lambda: fired == [True], timeout=2000)
    assert scans == [CODE]


def test_command_shortcut_sees_the_keys_typed_before_it(
    qtbot: QtBot, window: QWidget, edit: QLineEdit, scans: list[str]
) -> None:
    seen_by_shortcut: list[str] = []
    shortcut = QShortcut(QKeySequence("Ctrl+S"), window)
    shortcut.activated.connect(lambda: seen_by_shortcut.append(edit.text()))

    # "a" is still held back (it might start a scan) when Ctrl+S arrives 5 ms later.
    send_key(edit, key_of("a"), text="a", at_ms=1000)
    send_key(edit, Qt.Key.Key_S, at_ms=1005, modifiers=Qt.KeyboardModifier.ControlModifier)
    settle(qtbot)

    assert seen_by_shortcut == ["a"]
    assert scans == []


def test_return_shortcut_still_fires_after_a_short_fast_burst(
    qtbot: QtBot, window: QWidget, scans: list[str]
) -> None:
    button = window.findChild(QPushButton)
    focus(qtbot, button)
    fired: list[bool] = []
    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Return), window)
    shortcut.activated.connect(lambda: fired.append(True))

    # The Return's ShortcutOverride is claimed while "12" is held; once the burst turns
    # out to be typing, the Return must still reach the shortcut.
    send_scan(button, "12", start_ms=1000)
    settle(qtbot)

    assert fired == [True]
    assert scans == []


def test_uninstall_hands_back_held_keys(
    qtbot: QtBot, edit: QLineEdit, scan_filter: HidScannerFilter
) -> None:
    send_key(edit, key_of("x"), text="x", at_ms=100)
    assert edit.text() == ""  # held for a moment: it might be the start of a scan

    scan_filter.uninstall()

    assert edit.text() == "x"


def test_pause_shorter_than_a_scanner_gap_is_refused() -> None:
    with pytest.raises(ValueError):
        HidScannerFilter(flush_after_ms=10)


def send_repeat_scan(receiver: QObject, code: str, *, start_ms: int, gap_ms: int) -> int:
    """Send a scan the way Qt on X11 reports it: a key pressed again at once is auto-repeat."""
    at_ms = start_ms
    previous = ""
    for index, char in enumerate(code):
        at_ms = start_ms + index * gap_ms
        repeat = char == previous
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key_of(char), Qt.KeyboardModifier.NoModifier, char, repeat)
            event.setTimestamp(at_ms)
            QApplication.sendEvent(receiver, event)
        previous = char
    send_key(receiver, Qt.Key.Key_Return, text="\r", at_ms=at_ms + gap_ms)
    return at_ms


def test_auto_repeat_inside_a_burst_is_part_of_the_scan(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    code = "4007755000012"
    send_repeat_scan(edit, code, start_ms=20_000, gap_ms=3)
    settle(qtbot)
    assert scans == [code]
    assert edit.text() == ""


def test_auto_repeat_of_a_held_key_is_typing(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    # A person holds "0" down: the first press, then repeats after the keyboard's delay.
    send_key(edit, key_of("0"), text="0", at_ms=30_000)
    settle(qtbot)
    for index in range(3):
        event = QKeyEvent(
            QEvent.Type.KeyPress, key_of("0"), Qt.KeyboardModifier.NoModifier, "0", True
        )
        event.setTimestamp(30_500 + index * 30)
        QApplication.sendEvent(edit, event)
    settle(qtbot)
    assert scans == []
    assert edit.text() == "0000"


def test_scan_stretched_by_load_is_captured(
    qtbot: QtBot, edit: QLineEdit, scans: list[str]
) -> None:
    at = 40_000
    for char, gap in zip(CODE, [0, 2, 45, 2, 70, 3, 2, 33, 2, 2, 60, 2, 2], strict=True):
        at += gap
        send_key(edit, key_of(char), text=char, at_ms=at)
    send_key(edit, Qt.Key.Key_Return, text="\r", at_ms=at + 50)
    settle(qtbot)
    assert scans == [CODE]
    assert edit.text() == ""


def test_stalled_scan_is_reported_partial_not_scanned(
    qtbot: QtBot, edit: QLineEdit, scan_filter: HidScannerFilter, scans: list[str]
) -> None:
    partials: list[tuple[str, str]] = []
    scan_filter.partial.connect(lambda head, tail: partials.append((head, tail)))
    send_text(edit, "5901", start_ms=50_000, gap_ms=2)
    settle(qtbot)  # the stall: longer than the pause, so the head goes out as typing
    send_scan(edit, "234123457", start_ms=50_200, gap_ms=2)
    settle(qtbot)
    assert scans == []
    assert partials == [("5901", "234123457")]
    assert edit.text() == "5901"  # the head; the till clears it when it reports the partial


def test_typing_just_before_a_scan_leaves_the_scan_whole(
    qtbot: QtBot, edit: QLineEdit, scan_filter: HidScannerFilter, scans: list[str]
) -> None:
    partials: list[tuple[str, str]] = []
    scan_filter.partial.connect(lambda head, tail: partials.append((head, tail)))
    send_text(edit, "hello", start_ms=60_000, gap_ms=150)
    settle(qtbot)
    # The scan starts 200 ms after the last typed key: soon enough to be the rest of a stalled
    # scan, but "o" + the code is no code, and the code alone is whole.
    send_scan(edit, CODE, start_ms=60_800, gap_ms=2)
    settle(qtbot)
    assert scans == [CODE]
    assert partials == []
    assert edit.text() == "hello"
