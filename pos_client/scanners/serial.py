"""Read a barcode scanner on a serial port (RS-232 or USB-CDC) on its own thread.

Scanners in the wild end a code with CR, LF, CRLF or nothing at all, may put a TAB before
or after it, and may prefix an AIM symbology identifier and separate GS1 fields with GS.
The reader frames bytes at any line end whatever the setting (with suffix "NONE", a pause
ends a frame too), keeps GS, and hands AIM prefixes on to `common.barcodes`. Whatever is
not a plausible code is dropped and reported (`discarded`, in words a cashier understands)
— never an exception. It survives the cable being pulled: it closes the port and keeps
trying to open it again until stopped. Signals are
emitted on the thread that owns the reader (the GUI thread), never on the reading thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

import serial
from PySide6.QtCore import QObject, Qt, Signal, Slot
from serial.tools import list_ports as _list_ports

from pos_client.qt.threads import start_thread
from pos_client.scanners.config import (
    BYTESIZE,
    PARITY,
    STOPBITS,
    SUFFIXES,
    SerialScannerConfig,
)

__all__ = [
    "MAX_FRAME_LENGTH",
    "SUFFIXES",
    "Frame",
    "Framer",
    "SerialScannerConfig",
    "SerialScannerReader",
    "list_ports",
]

log = logging.getLogger(__name__)


# Longer than any barcode a till scans (GS1-128 tops out at 48 data characters): a frame
# past this is line noise or a stuck device.
MAX_FRAME_LENGTH = 64

_LINE_ENDS = b"\r\n"
_GS = 0x1D  # GS1's FNC1 field separator: the one control byte a code may hold
_DISCARD_HINT = " — scan the item again"
# How long one read may block: bounds how quickly the thread notices stop().
_READ_TIMEOUT_S = 0.1
_JOIN_TIMEOUT_S = 1.0


def list_ports() -> list[str]:
    """Return the serial ports this machine has, by device name (COM3, /dev/ttyUSB0)."""
    return sorted(port.device for port in _list_ports.comports())


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame off the wire: a code, or why the bytes were thrown away."""

    code: str | None = None
    problem: str | None = None


class Framer:
    """Split a byte stream into codes at CR, LF or CRLF (or a pause) and drop what is not one."""

    def __init__(
        self, *, suffix: str = "CR", frame_timeout_s: float = 0.5, idle_end_s: float = 0.1
    ):
        # Every line end ends a frame whatever the setting: a scanner set to LF must not
        # lose every scan on a till set to CR. Without a suffix, a pause ends one too.
        self._idle_ends = suffix == "NONE"
        self._timeout_s = idle_end_s if self._idle_ends else frame_timeout_s
        self._buffer = bytearray()
        # After an over-long frame, the bytes up to the next line end are its tail.
        self._skipping = False
        self._last_byte_at = 0.0

    def feed(self, data: bytes, *, now: float) -> list[Frame]:
        """Add bytes received at `now` (monotonic seconds); return the frames completed."""
        frames = self.expire(now)
        self._last_byte_at = now
        self._buffer += data
        while True:
            end = next((i for i, byte in enumerate(self._buffer) if byte in _LINE_ENDS), -1)
            if end < 0:
                break
            frame = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            found = _decode(frame)
            if found is not None:
                frames.append(found)
        if len(self._buffer) > MAX_FRAME_LENGTH:
            if not self._skipping:
                frames.append(_problem("a code too long to be a barcode", self._buffer))
            self._buffer.clear()
            self._skipping = True
        return frames

    def expire(self, now: float) -> list[Frame]:
        """End a frame that has been idle too long: a code without suffix, or a fragment."""
        if not self._buffer or now - self._last_byte_at <= self._timeout_s:
            return []
        if self._idle_ends and not self._skipping:
            frame = bytes(self._buffer)
            self._buffer.clear()
            found = _decode(frame)
            return [] if found is None else [found]
        return self.discard("part of a code, then nothing")

    def discard(self, reason: str) -> list[Frame]:
        """Drop whatever partial frame is buffered, saying why."""
        frames = []
        if self._buffer.strip(b"\t ") and not self._skipping:
            frames.append(_problem(reason, self._buffer))
        self._buffer.clear()
        self._skipping = False
        return frames


def _problem(what: str, data: bytes | bytearray) -> Frame:
    log.warning("serial scanner: discarding a frame (%s): %r", what, _preview(data))
    return Frame(problem=f"Scanner sent {what}{_DISCARD_HINT}")


def _decode(frame: bytes) -> Frame | None:
    # A TAB before or after a code is a scanner set up to move between form fields; spaces
    # are padding. Neither is part of the code.
    frame = frame.strip(b"\t ")
    if not frame:
        return None
    if len(frame) > MAX_FRAME_LENGTH:
        return _problem("a code too long to be a barcode", frame)
    try:
        code = frame.decode("ascii")
    except UnicodeDecodeError:
        return _problem("unreadable bytes (line noise?)", frame)
    if not code.replace("\x1d", "").isprintable():
        return _problem("control bytes, not a barcode (line noise?)", frame)
    return Frame(code=code)


def _preview(data: bytes | bytearray) -> bytes:
    return bytes(data[:MAX_FRAME_LENGTH])


class SerialScannerReader(QObject):
    """Read codes from a serial scanner on a background thread and emit them as signals.

    `status_changed` reports "connected", "disconnected: <reason>" and "reconnecting".
    Create it on the GUI thread; `scanned` and `status_changed` are delivered there.
    """

    scanned = Signal(str)
    status_changed = Signal(str)
    discarded = Signal(str)  # what the cashier is told about bytes that were not a code

    # Carry (run generation, payload) from the reading thread to this object's thread;
    # a queued connection makes Qt deliver them on the GUI thread's event loop.
    _scan_from_thread = Signal(int, str)
    _status_from_thread = Signal(int, str)
    _discard_from_thread = Signal(int, str)

    def __init__(self, config: SerialScannerConfig, *, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Bumped by start() and stop(): anything still queued from an older run is dropped.
        self._generation = 0
        self._status = "disconnected: not started"
        self._scan_from_thread.connect(self._deliver_scan, Qt.ConnectionType.QueuedConnection)
        self._status_from_thread.connect(self._deliver_status, Qt.ConnectionType.QueuedConnection)
        self._discard_from_thread.connect(self._deliver_discard, Qt.ConnectionType.QueuedConnection)

    @property
    def status(self) -> str:
        """Return the last status emitted."""
        return self._status

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start reading; the port is opened (and reopened) on the reading thread."""
        if self.is_running():
            return
        self._generation += 1
        self._stop = threading.Event()
        stop, generation = self._stop, self._generation
        # A daemon thread: never keep a closing till alive for a scanner.
        self._thread = start_thread(
            lambda: self._run(stop=stop, generation=generation),
            name=f"serial-scanner {self.config.port}",
        )

    def stop(self) -> None:
        """Stop reading and close the port; wait up to about a second for the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._generation += 1
        thread.join(_JOIN_TIMEOUT_S)
        if thread.is_alive():
            log.warning(
                "serial scanner: reading thread for %s did not stop in time", self.config.port
            )
        self._set_status("disconnected: stopped")

    # -- GUI thread ---------------------------------------------------------------

    @Slot(int, str)
    def _deliver_scan(self, generation: int, code: str) -> None:
        if generation == self._generation:
            self.scanned.emit(code)

    @Slot(int, str)
    def _deliver_discard(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.discarded.emit(message)

    @Slot(int, str)
    def _deliver_status(self, generation: int, status: str) -> None:
        if generation == self._generation:
            self._set_status(status)

    def _set_status(self, status: str) -> None:
        self._status = status
        self.status_changed.emit(status)

    # -- reading thread -----------------------------------------------------------

    def _run(self, *, stop: threading.Event, generation: int) -> None:
        try:
            self._read_until_stopped(stop=stop, generation=generation)
        except Exception:  # a bug here must not vanish silently with the thread
            log.exception("serial scanner: reading thread for %s failed", self.config.port)
            self._status_from_thread.emit(generation, "disconnected: internal error")

    def _read_until_stopped(self, *, stop: threading.Event, generation: int) -> None:
        config = self.config
        framer = Framer(
            suffix=config.suffix,
            frame_timeout_s=config.frame_timeout_s,
            idle_end_s=config.idle_end_s,
        )
        outage_reported = False
        while not stop.is_set():
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as exc:
                if not outage_reported:
                    self._status_from_thread.emit(generation, f"disconnected: {_reason(exc)}")
                    self._status_from_thread.emit(generation, "reconnecting")
                    outage_reported = True
                log.debug("serial scanner: cannot open %s yet: %s", config.port, exc)
                stop.wait(config.reconnect_interval_s)
                continue

            outage_reported = False
            self._status_from_thread.emit(generation, "connected")
            try:
                reason = self._pump(port=port, framer=framer, stop=stop, generation=generation)
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
                self._emit(framer.discard("part of a code, then the cable was pulled"), generation)
            if reason is None:
                return
            log.warning("serial scanner: lost %s: %s", config.port, reason)
            self._status_from_thread.emit(generation, f"disconnected: {reason}")
            self._status_from_thread.emit(generation, "reconnecting")
            outage_reported = True
            stop.wait(config.reconnect_interval_s)

    def _open(self) -> serial.Serial:
        config = self.config
        return serial.Serial(
            port=config.port,
            baudrate=config.baudrate,
            parity=PARITY[config.parity],
            bytesize=BYTESIZE[config.bytesize],
            stopbits=STOPBITS[config.stopbits],
            timeout=_READ_TIMEOUT_S,
        )

    def _pump(
        self, *, port: serial.Serial, framer: Framer, stop: threading.Event, generation: int
    ) -> str | None:
        """Read until stopped (return None) or the port fails (return why)."""
        while not stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                return _reason(exc)
            now = time.monotonic()
            frames = framer.feed(data, now=now) if data else framer.expire(now)
            self._emit(frames, generation)
        return None

    def _emit(self, frames: list[Frame], generation: int) -> None:
        for frame in frames:
            if frame.code is not None:
                self._scan_from_thread.emit(generation, frame.code)
            elif frame.problem is not None:
                self._discard_from_thread.emit(generation, frame.problem)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
