"""Where scans go when the till is busy, and how the cashier hears about every one.

A controller the till window owns: it is given the window (as a `TillHost`), the shared
state, the scan pipeline and the widgets it speaks through. A scan never vanishes: while a
dialog is open it waits for the dialog to close (or, while a payment is being taken, is
refused aloud); a scan cut short or misread is shown and sounded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QWidget

from common.barcodes import is_product_code
from common.roles import Permission
from pos_client.config import TillConfig
from pos_client.scanners.pipeline import QUEUE, ScanPipeline
from pos_client.services.till import Override
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.devices_dialog import DevicesDialog
from pos_client.ui.till.dialogs import ask_override, showing
from pos_client.ui.till.login_screen import LoginScreen
from pos_client.ui.till.payment import PaymentDialog
from pos_client.ui.till.shell import TillHost, TillState
from pos_client.ui.till.till_screen import TillScreen
from pos_client.ui.widgets.notice import notice_on

log = logging.getLogger(__name__)

PAYMENT_OPEN = (
    "Scan not added: a payment is open. Finish it, or cancel it (Esc) and scan the item again"
)
PARTIAL = "Scan not read in full ({code}…) — scan the item again"


@dataclass(slots=True)
class _BoxBefore:
    """A text box as it was before keys held by the scanner filter went into it as typing."""

    box: QLineEdit
    text: str
    selection: tuple[int, int] | None  # (start, length) of the selected text, if any
    after: str | None = None  # the box's text once those keys had gone in

    @classmethod
    def of(cls, box: QLineEdit) -> _BoxBefore:
        selected = (
            (box.selectionStart(), len(box.selectedText())) if box.hasSelectedText() else None
        )
        return cls(box=box, text=box.text(), selection=selected)

    def unselected(self) -> str:
        """Return the text with its selection taken out, as typing over it leaves it."""
        if self.selection is None:
            return self.text
        start, length = self.selection
        return self.text[:start] + self.text[start + length :]


class ScanController:
    """Scan routing and scanner state of the till window."""

    def __init__(
        self,
        *,
        ctx: TillContext,
        host: TillHost,
        state: TillState,
        pipeline: ScanPipeline,
        screen: TillScreen,
        login: LoginScreen,
        scanner_label: QLabel,
        devices_saved: Callable[[TillConfig], None],
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.state = state
        self.pipeline = pipeline
        self.screen = screen
        self.login = login
        self.scanner_label = scanner_label
        self.devices_saved = devices_saved
        self.devices_dialog: DevicesDialog | None = None
        # The box the scanner filter last sent typing into, as it was before: a stalled
        # scan's head that went there (over a selected amount, say) is taken back exactly.
        self._typed_into: _BoxBefore | None = None
        pipeline.blocker = self.scan_blocker
        pipeline.rejected.connect(lambda text: self.tell(text, kind="error"))
        pipeline.refused.connect(lambda text: self.tell(text, kind="error"))
        pipeline.flagged.connect(lambda text: self.tell(text, kind="warn"))
        pipeline.queued.connect(self._scan_queued)
        screen.typed_scan.connect(self._typed_scan)
        # Dialogs opened outside open_dialog (approval, message boxes) close without telling.
        self._release_timer = QTimer(host.widget, interval=150)
        self._release_timer.timeout.connect(self.release_scans)

    def front_dialog(self) -> QWidget | None:
        """Return the dialog in front of the till, if any."""
        front = QApplication.activeModalWidget()
        if front is not None and front.isVisible() and self._owns(front):
            return front
        dialog = self.host.dialog
        if showing(dialog):
            return dialog
        return None

    def _owns(self, widget: QWidget) -> bool:
        parent = widget.parentWidget()
        while parent is not None:
            if parent is self.host.widget:
                return True
            parent = parent.parentWidget()
        return False

    def scan_blocker(self) -> str | None:
        """Say whether a scan may go into the cart now, must wait (QUEUE), or is refused."""
        front = self.front_dialog()
        if front is None:
            return None
        dialog = self.host.dialog
        paying = isinstance(dialog, PaymentDialog) and showing(dialog)
        if paying or isinstance(front, PaymentDialog):
            # The cart behind it is being paid for (perhaps under an approval dialog): an item
            # added now would be given away, one added after it charged to the next customer.
            return PAYMENT_OPEN
        return QUEUE

    def tell(self, text: str, *, kind: str) -> None:
        """Show a scan message where the cashier is looking (dialog, till or sign-in)."""
        front = self.front_dialog()
        if front is not None:
            notice_on(front).notify(text, kind=kind, seconds=8)
            # Small dialogs (quantity, approval) grow to show the whole message.
            layout = front.layout()
            if layout is not None:
                layout.activate()
            hint = front.sizeHint()
            front.resize(max(front.width(), hint.width()), max(front.height(), hint.height()))
        if self.host.is_selling:
            self.screen.notice.notify(text, kind=kind, seconds=8)
        else:
            self.login.error.setText(text)

    def _scan_queued(self, text: str) -> None:
        self.tell(text, kind="warn")
        self._release_timer.start()

    def release_scans(self) -> None:
        """Add the scans that waited for a dialog, once none is open."""
        if not self.pipeline.waiting:
            self._release_timer.stop()
            return
        if self.scan_blocker() is not None or not self.host.is_selling:
            return
        count = self.pipeline.release()
        self._release_timer.stop()
        if count:
            items = "1 scan" if count == 1 else f"{count} scans"
            self.screen.notice.notify(f"Added {items} made while the window was open", seconds=5)

    def _typing_target(self) -> QLineEdit:
        """Return the box a stalled scan's first keys went into as typing."""
        focus = QApplication.focusWidget()
        return focus if isinstance(focus, QLineEdit) else self.screen.search

    def typing_starts(self, receiver: object) -> None:
        """Held keys are about to go into `receiver` as typing: remember the box as it is."""
        if not isinstance(receiver, QLineEdit):
            return
        last = self._typed_into
        # Runs cut by pauses in quick succession may be pieces of one stalled scan: keep the
        # box as it was before the first of them.
        if last is None or last.box is not receiver or receiver.text() != last.after:
            self._typed_into = _BoxBefore.of(receiver)

    def typing_ended(self, receiver: object) -> None:
        """Held keys went into `receiver` as typing."""
        last = self._typed_into
        if last is not None and last.box is receiver and isinstance(receiver, QLineEdit):
            last.after = receiver.text()

    def _take_back(self, box: QLineEdit, size: int) -> None:
        """Take a stalled scan's first `size` keys back out of the box they went into."""
        typed = box.text()
        before = self._typed_into
        self._typed_into = None
        if (
            before is not None
            and before.box is box
            and before.selection is not None
            and typed == before.after
            and typed[:-size] == before.unselected()
        ):
            # They were typed over selected text (the amount a payment offers, say): put
            # that text back, selected as it was, instead of leaving the box empty.
            box.setText(before.text)
            box.setSelection(*before.selection)
            return
        box.setText(typed[:-size])

    def hid_scanned(self, code: str) -> None:
        """Take a keyboard-scanner scan, rejoining a head that stalled into a text box."""
        box = self._typing_target()
        typed = box.text()
        if typed and box.hasFocus() and not is_product_code(code):
            # A stall longer than the limit sent the first digits into the box as typing: the
            # check digit tells when they and the rest make one code.
            for size in range(min(len(typed), 48), 0, -1):
                if is_product_code(typed[-size:] + code):
                    log.info("Scan rejoined with %r that reached a text box", typed[-size:])
                    code = typed[-size:] + code
                    self._take_back(box, size)
                    break
        self.pipeline.handle(code)

    def scan_partial(self, head: str, tail: str) -> None:
        """A scan stalled mid-way: rejoin it if the check digit allows, else say so aloud."""
        box = self._typing_target()
        typed = box.text()
        in_box = bool(head) and box.hasFocus() and typed.endswith(head)
        if in_box:
            # Its first keys are not what the cashier typed: take them back out of the box.
            self._take_back(box, len(head))
        if in_box and is_product_code(head + tail):
            log.info("Stalled scan rejoined: %r + %r", head, tail)
            self.pipeline.handle(head + tail)
            return
        log.warning("Scan not read in full: %r + %r", head, tail)
        QApplication.beep()
        self.tell(PARTIAL.format(code=(head + tail)[:6]), kind="error")

    def _typed_scan(self, text: str) -> None:
        # A code that reached the search box and ended in Enter is a scan the filter could
        # not tell apart (a scanner slower than the limits); treat it as one.
        self.screen.search.clear()
        self.pipeline.handle(text)

    def show_scanner_discard(self, text: str) -> None:
        """A serial frame was not a code: say so aloud."""
        QApplication.beep()
        self.tell(text, kind="error")

    def set_scanner_status(self, status: str) -> None:
        """Show the serial scanner's state, coloured when scans cannot arrive."""
        down = status != "connected"
        shown = "reconnecting…" if status == "reconnecting" else status
        self.scanner_label.setText(f"Scanner: {shown}")
        self.scanner_label.setProperty("state", "down" if down else "ok")
        style = self.scanner_label.style()
        style.unpolish(self.scanner_label)
        style.polish(self.scanner_label)

    # -- scanner and printer settings ----------------------------------------------------

    def open_devices(self) -> None:
        """Open the scanner and printer settings (Ctrl+D): a manager's, at any time."""
        if self.front_dialog() is not None:
            return
        cashier = self.state.cashier
        if cashier is not None and cashier.can(Permission.POS_OVERRIDE):
            self._show_devices(None)
            return
        ask_override(
            parent=self.host.widget,
            ctx=self.ctx,
            action="devices",
            reason="Changing the scanner or printer settings needs a manager.",
            then=self._show_devices,
        )

    def _show_devices(self, _override: Override | None) -> None:
        # The approval dialog is still closing: open once it is gone from the modal stack.
        QTimer.singleShot(0, self.host.widget, self._open_devices_dialog)

    def _open_devices_dialog(self) -> None:
        dialog = DevicesDialog(config=self.ctx.config, parent=self.host.widget)
        dialog.saved.connect(self._devices_saved)
        # Scans show in the dialog's test area instead of going into the cart.
        self.pipeline.divert_to = dialog.take_scan
        dialog.finished.connect(lambda _: setattr(self.pipeline, "divert_to", None))
        self.devices_dialog = dialog
        self.host.open_dialog(dialog)

    def _devices_saved(self, config: TillConfig) -> None:
        log.info("Scanner and printer settings changed")
        self.devices_saved(config)
        self.tell("Scanner and printer settings saved", kind="info")
