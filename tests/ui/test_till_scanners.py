"""Scanners and sync around the till window: a serial scanner on a real pty, reads that never
wait for a writer, and the sync status bar fed by the real sync worker."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest
from pytestqt.qtbot import QtBot

from pos_client.launch import Till, connect_sync
from pos_client.scanners.serial import SerialScannerConfig
from pos_client.services.demo import DEMO_PRODUCTS

MILK, BREAD = DEMO_PRODUCTS[0].barcode, DEMO_PRODUCTS[1].barcode


@pytest.fixture
def pty_port() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal pair: the till opens the named end, the test writes to the other."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_scanner_feeds_the_cart(
    qtbot: QtBot,
    make_till: Callable[..., Till],
    sign_in,
    pty_port: tuple[int, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    master, port = pty_port
    till = make_till(
        serial_scanner=SerialScannerConfig(port=port, suffix="CR", reconnect_interval_s=0.2)
    )
    sign_in()
    qtbot.waitUntil(lambda: till.serial.status == "connected", timeout=5000)
    assert "connected" in till.window.scanner_label.text()
    os.write(master, f"{MILK}\r".encode())
    qtbot.waitUntil(lambda: len(till.window.cart.lines) == 1, timeout=5000)
    # Line noise with no terminator is dropped after the frame timeout, never glued to a code.
    os.write(master, b"\x02\xff#9")
    qtbot.waitUntil(lambda: "part of a code" in till.window.sale_screen.notice.text(), timeout=5000)
    assert "discarding a frame" in caplog.text
    os.write(master, f"{BREAD}\r{MILK}\r".encode())
    expected = [("MILK-1L", 2), ("BREAD-400", 1)]
    # Both codes arrive in one read: wait for the second one too, not just a second line.
    qtbot.waitUntil(
        lambda: [(ln.item.sku, ln.quantity) for ln in till.window.cart.lines] == expected,
        timeout=5000,
    )


def test_scan_does_not_wait_for_a_writer(qtbot: QtBot, till: Till, sign_in, settle) -> None:
    sign_in()
    # Another connection (as the sync thread applying a pull) holds the write lock.
    writer = sqlite3.connect(till.store.path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE products SET name = name WHERE id = 1")
    try:
        started = time.monotonic()
        till.window.pipeline.handle(MILK)
        qtbot.waitUntil(lambda: len(till.window.cart.lines) == 1, timeout=3000)
        assert time.monotonic() - started < 2.0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_sync_status_shows_offline_since_and_waiting(
    qtbot: QtBot, till: Till, sign_in, settle
) -> None:
    from pos_client.qt.sync_worker import SyncWorker
    from pos_client.services.sync_engine import SyncEngine

    sign_in()  # opening the shift queues one event
    # Nothing listens on port 9 of this machine: the real engine finds the server unreachable.
    engine = SyncEngine(till.store, server_url="http://127.0.0.1:9", timeout=1.0)
    worker = SyncWorker(engine)
    connect_sync(till.window, worker)
    worker.status_changed.connect(lambda _s: None)
    engine.sync_once()
    qtbot.waitUntil(lambda: "Offline since" in till.window.sync_status.text(), timeout=5000)
    assert "1 waiting" in till.window.sync_status.text()
    assert till.window.after_sale == worker.sync_now
