"""Send print jobs to receipt printers from a worker thread so a sale never waits on paper."""

from __future__ import annotations

import logging
import queue
import socket
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import serial
from PySide6.QtCore import QObject, Qt, Signal, Slot

from pos_client.printing.config import DEFAULT_PORT, PrinterConfig, parse_address
from pos_client.qt.threads import start_thread

__all__ = [
    "DEFAULT_PORT",
    "PAPER_STATUS_QUERY",
    "FileTransport",
    "NetworkTransport",
    "PaperStatus",
    "PrintQueue",
    "PrinterConfig",
    "PrinterError",
    "PrinterOffline",
    "PrinterOutOfPaper",
    "PrinterState",
    "PrinterTimedOut",
    "SerialTransport",
    "Transport",
    "parse_paper_status",
    "transport_for",
]

log = logging.getLogger(__name__)

PAPER_STATUS_QUERY = b"\x10\x04\x04"  # DLE EOT 4: transmit paper roll sensor status


class PrinterState(StrEnum):
    """What the till shows about its printer."""

    READY = "ready"
    PRINTING = "printing"
    PAPER_LOW = "paper low"
    OFFLINE = "offline"
    OUT_OF_PAPER = "out of paper"
    TIMED_OUT = "timed out"
    ERROR = "error"


class PrinterError(Exception):
    """A job did not print; str(error) is the reason shown to the cashier."""

    state = PrinterState.ERROR
    reason = "Printer error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.reason)
        self.detail = detail


class PrinterOffline(PrinterError):
    state = PrinterState.OFFLINE
    reason = "Printer offline"


class PrinterTimedOut(PrinterError):
    state = PrinterState.TIMED_OUT
    reason = "Printer timed out"


class PrinterOutOfPaper(PrinterError):
    state = PrinterState.OUT_OF_PAPER
    reason = "Printer out of paper"


@dataclass(frozen=True)
class PaperStatus:
    """The paper roll sensors as the printer reported them."""

    near_end: bool
    out: bool


def parse_paper_status(value: int) -> PaperStatus | None:
    """Decode the answer to DLE EOT 4, or return None if the byte is not such an answer."""
    # Bits 1 and 4 are always 1 and bits 0 and 7 always 0 in a real status byte.
    if value & 0b1001_0011 != 0b0001_0010:
        return None
    return PaperStatus(near_end=bool(value & 0b0000_1100), out=bool(value & 0b0110_0000))


class Transport(Protocol):
    """Deliver one job's bytes to a printer."""

    def send(self, data: bytes) -> PaperStatus | None:
        """Send data; return the paper status if known; raise PrinterError if not printed."""
        ...


@dataclass(frozen=True)
class FileTransport:
    """Append jobs to a file or write them to a device node such as /dev/usb/lp0."""

    path: Path

    def send(self, data: bytes) -> PaperStatus | None:
        """Append data to the file."""
        try:
            with self.path.open("ab") as stream:
                stream.write(data)
        except OSError as exc:
            raise PrinterOffline(str(exc)) from exc
        return None


@dataclass(frozen=True)
class NetworkTransport:
    """Send jobs over raw TCP, asking for the paper status first."""

    host: str
    port: int = DEFAULT_PORT
    timeout_s: float = 3.0
    query_status: bool = True

    def send(self, data: bytes) -> PaperStatus | None:
        """Connect, check paper, send data, and close the connection."""
        try:
            connection = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            # Refused, unreachable or no answer to SYN all mean the same at the counter.
            raise PrinterOffline(str(exc)) from exc
        with connection:
            try:
                status = self._paper_status(connection) if self.query_status else None
                if status is not None and status.out:
                    raise PrinterOutOfPaper()
                connection.sendall(data)
                # Half-close tells the printer the job is complete while it drains its buffer.
                connection.shutdown(socket.SHUT_WR)
            except TimeoutError as exc:
                raise PrinterTimedOut(str(exc)) from exc
            except PrinterError:
                raise
            except OSError as exc:
                raise PrinterOffline(str(exc)) from exc
        return status

    def _paper_status(self, connection: socket.socket) -> PaperStatus | None:
        """Ask DLE EOT 4 and decode the single status byte the printer answers."""
        connection.sendall(PAPER_STATUS_QUERY)
        answer = connection.recv(1)
        if not answer:
            raise PrinterOffline("connection closed before the status answer")
        return parse_paper_status(answer[0])


@dataclass(frozen=True)
class SerialTransport:
    """Send jobs over an RS-232 or USB serial port."""

    port: str
    baudrate: int = 9600
    timeout_s: float = 3.0

    def send(self, data: bytes) -> PaperStatus | None:
        """Open the port, write data within the timeout, and close it."""
        try:
            port = serial.serial_for_url(
                self.port,
                baudrate=self.baudrate,
                timeout=self.timeout_s,
                write_timeout=self.timeout_s,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PrinterOffline(str(exc)) from exc
        with port:
            try:
                port.write(data)
            except serial.SerialTimeoutException as exc:
                # A printer holding CTS low (paper out, cover open) stops taking bytes.
                raise PrinterTimedOut(str(exc)) from exc
            except (serial.SerialException, OSError) as exc:
                raise PrinterOffline(str(exc)) from exc
        return None


def transport_for(config: PrinterConfig) -> Transport:
    """Build the transport a printer configuration describes."""
    if config.kind == "file":
        return FileTransport(path=Path(config.target))
    if config.kind == "network":
        host, port = parse_address(config.target)
        return NetworkTransport(
            host=host, port=port, timeout_s=config.timeout_s, query_status=config.query_status
        )
    return SerialTransport(port=config.target, baudrate=config.baudrate, timeout_s=config.timeout_s)


_Job = tuple[str, bytes]


class PrintQueue(QObject):
    """Print jobs one after another on a worker thread; failed jobs wait for retry().

    Signals are emitted on the thread that owns the queue (the GUI thread in the till).
    """

    job_done = Signal(str)
    job_failed = Signal(str, str)
    state_changed = Signal(str)
    # Worker -> owner thread: job id, outcome ("started", "done", "failed"), state, reason.
    _report = Signal(str, str, str, str)

    def __init__(self, *, config: PrinterConfig, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._config = config
        self._state = PrinterState.READY
        self._queued: dict[str, bytes] = {}
        self._failed: dict[str, tuple[bytes, str]] = {}
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._report.connect(self._on_report, Qt.ConnectionType.QueuedConnection)
        self._worker = start_thread(self._run, name="print-queue")

    @property
    def config(self) -> PrinterConfig:
        """Return the printer configuration used for jobs that start from now on."""
        return self._config

    def set_config(self, config: PrinterConfig) -> None:
        """Use another printer configuration for the jobs that start from now on."""
        self._config = config

    @property
    def state(self) -> PrinterState:
        """Return the printer state as last seen."""
        return self._state

    @property
    def failed_jobs(self) -> dict[str, str]:
        """Return the failed job ids and the reason each failed."""
        return {job_id: reason for job_id, (_, reason) in self._failed.items()}

    def submit(self, job_id: str, *, data: bytes) -> None:
        """Queue data for printing and return at once."""
        if self._closed:
            raise RuntimeError("The print queue is closed")
        if job_id in self._queued:
            raise ValueError(f"Print job {job_id} is already queued")
        self._failed.pop(job_id, None)
        self._queued[job_id] = data
        self._jobs.put((job_id, data))

    def retry(self, job_id: str) -> None:
        """Queue a failed job again."""
        if job_id not in self._failed:
            raise KeyError(f"No failed print job {job_id}")
        data, _ = self._failed.pop(job_id)
        self.submit(job_id, data=data)

    def reprint(self, data: bytes) -> str:
        """Queue data as a new job (for a copy) and return its job id."""
        job_id = f"reprint-{uuid.uuid4().hex}"
        self.submit(job_id, data=data)
        return job_id

    def close(self, *, timeout_s: float | None = None) -> None:
        """Stop the worker after the job in hand; queued jobs are dropped."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        wait = timeout_s if timeout_s is not None else 3 * self._config.timeout_s + 1
        self._worker.join(wait)

    def _run(self) -> None:
        """Take jobs off the queue and print them (worker thread)."""
        while True:
            job = self._jobs.get()
            if job is None or self._closed:
                return
            job_id, data = job
            # Read when the job starts, so a retry after fixing the settings uses them.
            config = self._config
            self._report.emit(job_id, "started", PrinterState.PRINTING, "")
            try:
                status = transport_for(config).send(data)
            except PrinterError as exc:
                self._report.emit(job_id, "failed", exc.state, str(exc))
            except Exception:
                # A bug here must not end the thread and silently stall every later receipt.
                log.exception("Print job %s failed unexpectedly", job_id)
                self._report.emit(job_id, "failed", PrinterError.state, PrinterError.reason)
            else:
                paper_low = status is not None and status.near_end
                state = PrinterState.PAPER_LOW if paper_low else PrinterState.READY
                self._report.emit(job_id, "done", state, "")

    @Slot(str, str, str, str)
    def _on_report(self, job_id: str, outcome: str, state: str, reason: str) -> None:
        """Record a job's outcome and re-emit it on the owner's thread."""
        self._set_state(PrinterState(state))
        if outcome == "done":
            self._queued.pop(job_id, None)
            self.job_done.emit(job_id)
        elif outcome == "failed":
            data = self._queued.pop(job_id, b"")
            self._failed[job_id] = (data, reason)
            self.job_failed.emit(job_id, reason)

    def _set_state(self, state: PrinterState) -> None:
        """Emit state_changed when the printer state changes."""
        if state != self._state:
            self._state = state
            self.state_changed.emit(str(state))
