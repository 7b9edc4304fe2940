"""Serial scanners from the wild, through the real till over a socat pty pair.

socat joins two pseudo-terminals and names them with symlinks (like /dev/serial/by-id/...):
the till opens one, the test writes into the other as the scanner would. Killing socat is
pulling the cable; starting it again with the same names is plugging it back in. The test
sends CR, LF, CRLF, TAB-prefixed, AIM-prefixed, GS1-128 and (after switching the setting)
no-suffix frames, noise, bad codes, a frame split in two, an unplug and a replug: every
valid code must reach the cart (weight, lot and expiry from GS1 on the line), every invalid
one must be shown to the cashier.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from common.barcodes import GS
from pos_client.launch import Till
from pos_client.scanners.serial import SerialScannerConfig
from pos_client.services.demo import DEMO_PRODUCTS
from tests.xvfb import stop

CODES = {product.sku: product.barcode for product in DEMO_PRODUCTS}


class Cable:
    """A socat pty pair: the till opens `device`; `write` plays the scanner on `host`."""

    def __init__(self, *, device: Path, host: Path, log: Path) -> None:
        self.device, self.host = device, host
        if shutil.which("socat") is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("CI must run the serial tests: socat not installed")
            pytest.skip("socat not installed (apt-get install -y socat)")
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    "socat",
                    "-d",
                    "-d",
                    f"pty,raw,echo=0,link={device}",
                    f"pty,raw,echo=0,link={host}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while not (device.exists() and host.exists()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"socat did not start: {log.read_text(errors='replace')}")
            time.sleep(0.02)
        self.fd = os.open(host, os.O_WRONLY | os.O_NOCTTY)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def unplug(self) -> None:
        os.close(self.fd)
        stop(self.process)


@pytest.fixture
def cables(tmp_path: Path) -> Iterator[Callable[[], Cable]]:
    made: list[Cable] = []

    def plug() -> Cable:
        cable = Cable(
            device=tmp_path / "usb-Scanner-if00",
            host=tmp_path / "scanner-side",
            log=tmp_path / "socat.log",
        )
        made.append(cable)
        return cable

    yield plug
    for cable in made:
        if cable.process.poll() is None:
            cable.unplug()


def test_serial_scanners_from_the_wild_reach_the_cart(
    qtbot: QtBot,
    make_till: Callable[..., Till],
    sign_in,
    cables: Callable[[], Cable],
    tmp_path: Path,
) -> None:
    cable = cables()
    till = make_till(
        serial_scanner=SerialScannerConfig(
            port=str(cable.device), suffix="CR", reconnect_interval_s=0.2, frame_timeout_s=0.5
        )
    )
    window = till.window
    told: list[str] = []
    original_tell = window.scans.tell

    def tell(text: str, *, kind: str) -> None:
        told.append(text)
        original_tell(text, kind=kind)

    window.scans.tell = tell  # type: ignore[method-assign]
    sign_in()
    qtbot.waitUntil(lambda: till.serial.status == "connected", timeout=5000)
    assert window.scanner_label.property("state") == "ok"

    def lines() -> list[tuple[str, Decimal, Decimal]]:
        return [(ln.item.sku, ln.quantity, ln.unit_price) for ln in window.cart.lines]

    def send(data: bytes, *, lines_now: int | None = None, told_now: int | None = None) -> None:
        cable.write(data)
        if lines_now is not None:
            qtbot.waitUntil(lambda: len(window.cart.lines) == lines_now, timeout=5000)
        if told_now is not None:
            qtbot.waitUntil(lambda: len(told) == told_now, timeout=5000)

    def gtin14(sku: str) -> bytes:
        return ("0" + CODES[sku]).encode()

    send(CODES["MILK-1L"].encode() + b"\r", lines_now=1)
    send(CODES["BREAD-400"].encode() + b"\n", lines_now=2)  # an LF scanner on a CR till
    send(CODES["TEA-250"].encode() + b"\r\n", lines_now=3)
    send(b"]E0" + CODES["ATTA-5KG"].encode() + b"\r", lines_now=4)  # AIM identifier
    gs1 = b"]C101" + gtin14("PANEER") + b"3103000750" + GS.encode() + b"10LOT-9"
    send(gs1 + GS.encode() + b"17271231\r", lines_now=5)  # GS1-128: weight, lot, expiry
    send(b"\t" + CODES["DAL-1KG"].encode() + b"\r", lines_now=6)  # a TAB before the code

    send(b"\x00\xff\x13garbage\r", told_now=1)  # line noise
    assert told[-1] == "Scanner sent unreadable bytes (line noise?) — scan the item again"
    send(b"]E05901234123458\r", told_now=2)  # misread: the check digit is wrong
    assert "Check digit of 5901234123458 should be 7" in told[-1]
    send(b"4006381333931\r", told_now=3)
    assert told[-1].startswith("Unknown barcode 4006381333931")
    assert window.sale_screen.notice.text() == told[-1]  # shown on the till, not just logged

    # One frame in two pieces, a quarter second apart: still one code.
    soap = CODES["SOAP-4"].encode()
    cable.write(soap[:5])
    qtbot.wait(250)
    send(soap[5:] + b"\r", lines_now=7)

    # The cable is pulled mid-code, then plugged back in.
    cable.write(CODES["OIL-1L"].encode()[:6])
    qtbot.wait(100)
    (tmp_path / "usb-Scanner-if00").unlink()
    cable.unplug()
    qtbot.waitUntil(lambda: till.serial.status == "reconnecting", timeout=5000)
    assert window.scanner_label.text() == "Scanner: reconnecting…"
    assert window.scanner_label.property("state") == "down"  # coloured: red on pink
    qtbot.waitUntil(lambda: len(told) == 4, timeout=5000)
    assert (
        told[-1] == "Scanner sent part of a code, then the cable was pulled — scan the item again"
    )
    cable = cables()
    qtbot.waitUntil(lambda: till.serial.status == "connected", timeout=5000)
    assert window.scanner_label.property("state") == "ok"
    send(CODES["OIL-1L"].encode() + b"\r", lines_now=8)

    # A scanner that sends no suffix at all: the manager switches the setting (as the
    # settings screen's Save does) and a pause ends each code.
    config = window.ctx.config
    window.devices_saved.emit(
        config.with_changes(serial_scanner=replace(config.serial_scanner, suffix="NONE"))
    )
    qtbot.waitUntil(lambda: till.serial.status == "connected", timeout=5000)
    send(CODES["BISC-200"].encode(), lines_now=9)
    send(b"]C101" + gtin14("MILK-1L") + b"39227500", lines_now=10)  # GS1 price label, no suffix

    assert lines() == [
        ("MILK-1L", Decimal(1), Decimal("66.00")),
        ("BREAD-400", Decimal(1), Decimal("55.00")),
        ("TEA-250", Decimal(1), Decimal("165.00")),
        ("ATTA-5KG", Decimal(1), Decimal("289.00")),
        ("PANEER", Decimal("0.750"), Decimal("420.00")),
        ("DAL-1KG", Decimal(1), Decimal("158.00")),
        ("SOAP-4", Decimal(1), Decimal("236.00")),
        ("OIL-1L", Decimal(1), Decimal("142.00")),
        ("BISC-200", Decimal(1), Decimal("30.00")),
        ("MILK-1L", Decimal(1), Decimal("75.00")),
    ]
    assert window.cart.lines[4].attributes == {"lot": "LOT-9", "expiry": "2027-12-31"}
    assert window.cart.lines[4].total == Decimal("315.00")
    assert len(told) == 4  # nothing else was refused or lost
    assert (tmp_path / "till.json").exists()  # the switch was saved with the till's settings
