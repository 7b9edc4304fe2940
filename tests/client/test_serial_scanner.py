"""The serial scanner reader against a real pty pair made by socat.

socat joins two pseudo-terminals: bytes written to one come out of the other, as if a
scanner were cabled to it. Killing socat is pulling the cable. The reader opens a symlink
that the test removes and re-creates, as udev does with /dev/serial/by-id/ links when a
scanner is unplugged and plugged back in.
"""

from __future__ import annotations

import os

# Qt aborts the whole run when it finds no display: choose the headless platform first.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from pos_client.scanners.serial import (
    MAX_FRAME_LENGTH,
    SerialScannerConfig,
    SerialScannerReader,
    list_ports,
)

CODE = "5901234123457"
LOGGER = "pos_client.scanners.serial"


@dataclass
class Cable:
    """One socat pty pair: the reader opens `device`; the test writes into `host`."""

    process: subprocess.Popen[bytes]
    device: str
    host: str
    host_fd: int = -1

    def write(self, data: bytes) -> None:
        if self.host_fd < 0:
            self.host_fd = os.open(self.host, os.O_RDWR | os.O_NOCTTY)
        os.write(self.host_fd, data)

    def unplug(self) -> None:
        if self.host_fd >= 0:
            os.close(self.host_fd)
            self.host_fd = -1
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def plug(tmp_path: Path) -> Iterator[Callable[[], Cable]]:
    """Return a function that starts a new socat pty pair; all are stopped afterwards."""
    if shutil.which("socat") is None:
        message = "socat not installed (apt-get install -y socat)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the serial tests: {message}")
        pytest.skip(message)
    cables: list[Cable] = []

    def start() -> Cable:
        log_path = tmp_path / f"socat-{len(cables)}.log"
        with log_path.open("wb") as log:
            # A file, not a pipe: nobody reads socat's log while the test runs.
            process = subprocess.Popen(
                ["socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            ptys = re.findall(r"PTY is (\S+)", text)
            if len(ptys) == 2 and "starting data transfer loop" in text:
                cable = Cable(process=process, host=ptys[0], device=ptys[1])
                cables.append(cable)
                return cable
            if process.poll() is not None:
                break
            time.sleep(0.01)
        process.kill()
        pytest.fail(f"socat did not start: {log_path.read_text(errors='replace')}")

    yield start
    for cable in cables:
        cable.unplug()


@pytest.fixture
def port_link(tmp_path: Path) -> Path:
    """Where the reader looks for the scanner, like /dev/serial/by-id/usb-Scanner-if00."""
    return tmp_path / "usb-Scanner-if00"


def point(link: Path, device: str) -> None:
    """Make `link` lead to `device`, replacing any old target in one step."""
    staging = link.with_name(link.name + ".new")
    staging.unlink(missing_ok=True)
    staging.symlink_to(device)
    os.replace(staging, link)


@pytest.fixture
def make_reader(qtbot: QtBot) -> Iterator[Callable[..., SerialScannerReader]]:
    readers: list[SerialScannerReader] = []

    def make(port: Path | str, **options: object) -> SerialScannerReader:
        options.setdefault("reconnect_interval_s", 0.2)
        reader = SerialScannerReader(SerialScannerConfig(port=str(port), **options))
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.stop()


def is_status(prefix: str) -> Callable[[str], bool]:
    return lambda status: status.startswith(prefix)


def start_connected(qtbot: QtBot, reader: SerialScannerReader) -> None:
    with qtbot.waitSignal(
        reader.status_changed, check_params_cb=is_status("connected"), timeout=5000
    ):
        reader.start()


def collect(reader: SerialScannerReader) -> list[str]:
    seen: list[str] = []
    reader.scanned.connect(seen.append)
    return seen


def collect_discards(reader: SerialScannerReader) -> list[str]:
    seen: list[str] = []
    reader.discarded.connect(seen.append)
    return seen


def test_code_framed_by_cr_is_scanned(
    qtbot: QtBot,
    plug: Callable[[], Cable],
    port_link: Path,
    make_reader: Callable[..., SerialScannerReader],
) -> None:
    cable = plug()
    point(port_link, cable.device)
    reader = make_reader(port_link)
    start_connected(qtbot, reader)

    with qtbot.waitSignal(reader.scanned, timeout=5000) as blocker:
        cable.write(CODE.encode() + b"\r")

    assert blocker.args == [CODE]
    assert reader.status == "connected"


def test_signals_arrive_on_the_gui_thread(
    qtbot: QtBot, plug: Callable[[], Cable], make_reader: Callable[..., SerialScannerReader]
) -> None:
    cable = plug()
    reader = make_reader(cable.device)
    threads: list[threading.Thread] = []
    reader.scanned.connect(lambda _code: threads.append(threading.current_thread()))
    start_connected(qtbot, reader)

    with qtbot.waitSignal(reader.scanned, timeout=5000):
        cable.write(CODE.encode() + b"\r")

    assert threads == [threading.main_thread()]


@pytest.mark.parametrize(
    ("suffix", "terminator"), [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n")]
)
def test_suffixes_frame_codes_that_arrive_together_or_in_pieces(
    qtbot: QtBot,
    plug: Callable[[], Cable],
    make_reader: Callable[..., SerialScannerReader],
    suffix: str,
    terminator: bytes,
) -> None:
    cable = plug()
    reader = make_reader(cable.device, suffix=suffix)
    scans = collect(reader)
    start_connected(qtbot, reader)

    # Two codes in one write, then one code split across two writes.
    cable.write(b"4006381333931" + terminator + b"96385074" + terminator + b"ABC-")
    qtbot.waitUntil(lambda: len(scans) == 2, timeout=5000)
    cable.write(b"123" + terminator)
    qtbot.waitUntil(lambda: len(scans) == 3, timeout=5000)

    assert scans == ["4006381333931", "96385074", "ABC-123"]


def test_garbage_is_dropped_with_warnings_and_good_codes_still_arrive(
    qtbot: QtBot,
    plug: Callable[[], Cable],
    make_reader: Callable[..., SerialScannerReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cable = plug()
    reader = make_reader(cable.device)
    scans = collect(reader)
    discards = collect_discards(reader)
    start_connected(qtbot, reader)

    cable.write(b"\x00\xff\x13garbage\r")  # not even UTF-8
    cable.write(b"\x01\x02ABC\x7f\r")  # decodes, but control characters
    cable.write(b"9" * (MAX_FRAME_LENGTH + 1) + b"\r")  # over-long, with its suffix
    cable.write(b"7" * 300)  # over-long, suffix still to come
    cable.write(b"77777\r")  # ...its tail must not pass as a code
    with qtbot.waitSignal(reader.scanned, timeout=5000) as blocker:
        cable.write(CODE.encode() + b"\r")
    assert blocker.args == [CODE]

    qtbot.wait(200)  # anything else that was going to arrive has arrived
    assert scans == [CODE]
    assert reader.is_running()
    assert reader.status == "connected"
    # Each discard is told to the cashier in words, and logged.
    assert discards == [
        "Scanner sent unreadable bytes (line noise?) — scan the item again",
        "Scanner sent control bytes, not a barcode (line noise?) — scan the item again",
        "Scanner sent a code too long to be a barcode — scan the item again",
        "Scanner sent a code too long to be a barcode — scan the item again",
    ]
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert sum("discarding a frame" in message for message in messages) == 4


def test_partial_frame_that_stalls_is_dropped_before_the_next_code(
    qtbot: QtBot,
    plug: Callable[[], Cable],
    make_reader: Callable[..., SerialScannerReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cable = plug()
    reader = make_reader(cable.device, frame_timeout_s=0.2)
    scans = collect(reader)
    discards = collect_discards(reader)
    start_connected(qtbot, reader)

    cable.write(b"\x00\x13garb")  # a glitch with no suffix
    qtbot.wait(600)
    with qtbot.waitSignal(reader.scanned, timeout=5000) as blocker:
        cable.write(CODE.encode() + b"\r")

    assert blocker.args == [CODE]
    assert scans == [CODE]
    assert discards == ["Scanner sent part of a code, then nothing — scan the item again"]
    assert any("discarding a frame" in record.getMessage() for record in caplog.records)


def test_unplug_reports_and_replug_reconnects(
    qtbot: QtBot,
    plug: Callable[[], Cable],
    port_link: Path,
    make_reader: Callable[..., SerialScannerReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    first = plug()
    point(port_link, first.device)
    reader = make_reader(port_link)
    scans = collect(reader)
    discards = collect_discards(reader)
    statuses: list[str] = []
    reader.status_changed.connect(statuses.append)
    start_connected(qtbot, reader)

    with qtbot.waitSignal(reader.scanned, timeout=5000):
        first.write(CODE.encode() + b"\r")
    first.write(b"40063")  # the cable goes mid-code
    qtbot.wait(100)

    # Unplugging removes the by-id link before the device node goes away.
    with qtbot.waitSignal(
        reader.status_changed, check_params_cb=is_status("reconnecting"), timeout=5000
    ):
        port_link.unlink()
        first.unplug()
    assert any(status.startswith("disconnected: ") for status in statuses)
    qtbot.wait(500)  # a few failed attempts to reopen: no crash, no status spam
    assert statuses[-1] == "reconnecting"

    second = plug()
    with qtbot.waitSignal(
        reader.status_changed, check_params_cb=is_status("connected"), timeout=5000
    ):
        point(port_link, second.device)
    with qtbot.waitSignal(reader.scanned, timeout=5000) as blocker:
        second.write(b"96385074\r")

    assert blocker.args == ["96385074"]
    assert scans == [CODE, "96385074"]  # the half code from before the unplug is gone
    assert statuses[0] == "connected"
    assert statuses[1].startswith("disconnected: ")
    assert statuses[2:] == ["reconnecting", "connected"]
    assert discards == [
        "Scanner sent part of a code, then the cable was pulled — scan the item again"
    ]


def test_missing_port_keeps_retrying_and_stop_is_prompt(
    qtbot: QtBot, tmp_path: Path, make_reader: Callable[..., SerialScannerReader]
) -> None:
    reader = make_reader(tmp_path / "no-such-port", reconnect_interval_s=5.0)
    with qtbot.waitSignal(
        reader.status_changed, check_params_cb=is_status("reconnecting"), timeout=5000
    ):
        reader.start()
    assert reader.is_running()

    started = time.monotonic()
    reader.stop()

    # The thread sleeps between attempts, but stop() must not wait out the interval.
    assert time.monotonic() - started < 1.0
    assert not reader.is_running()
    assert reader.status == "disconnected: stopped"


def test_stop_while_connected_closes_the_port_promptly(
    qtbot: QtBot, plug: Callable[[], Cable], make_reader: Callable[..., SerialScannerReader]
) -> None:
    cable = plug()
    reader = make_reader(cable.device)
    scans = collect(reader)
    start_connected(qtbot, reader)

    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 1.0
    assert not reader.is_running()

    cable.write(CODE.encode() + b"\r")
    qtbot.wait(300)
    assert scans == []  # a stopped reader emits nothing

    start_connected(qtbot, reader)  # and it can be started again
    with qtbot.waitSignal(reader.scanned, timeout=5000) as blocker:
        cable.write(b"96385074\r")
    assert blocker.args == ["96385074"]


@pytest.mark.parametrize(
    "options",
    [
        {"parity": "X"},
        {"suffix": "TAB"},
        {"bytesize": 9},
        {"stopbits": 3},
        {"baudrate": 0},
        {"reconnect_interval_s": 0},
    ],
)
def test_config_refuses_nonsense(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SerialScannerConfig(port="/dev/ttyUSB0", **options)  # type: ignore[arg-type]


def test_list_ports_returns_device_names() -> None:
    ports = list_ports()
    assert isinstance(ports, list)
    assert all(isinstance(port, str) and port for port in ports)
