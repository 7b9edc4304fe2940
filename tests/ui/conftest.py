"""A real till for pytest-qt: the app built by app.build_till over a real store on disk."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pos_client.app import Till, build_till
from pos_client.config import TillConfig
from pos_client.printing.queue import PrinterConfig
from pos_client.services.demo import seed_demo
from pos_client.store.db import LocalStore


@pytest.fixture
def printer_file(tmp_path: Path) -> Path:
    """The receipt printer: a file the print queue writes ESC/POS jobs into."""
    return tmp_path / "printer.bin"


@pytest.fixture
def till(qapp: QApplication, qtbot: QtBot, tmp_path: Path, printer_file: Path) -> Iterator[Till]:
    """A till over a seeded store file, with a file printer, signed out."""
    store = LocalStore(tmp_path / "till.db")
    with store.transaction() as session:
        seed_demo(session)
    config = TillConfig(
        data_dir=tmp_path,
        shop_name="Sharma General Store",
        branch_name="Indiranagar",
        printer=PrinterConfig(kind="file", target=str(printer_file)),
    )
    till = build_till(app=qapp, config=config, store=store)
    till.window.show()
    qtbot.waitExposed(till.window)
    yield till
    for widget in QApplication.topLevelWidgets():
        if widget is not till.window and widget.isVisible():
            widget.close()
    till.close()


def wait_idle(qtbot: QtBot, till: Till, timeout: int = 5000) -> None:
    """Wait until every queued DB op has run and delivered its callback."""
    qtbot.waitUntil(lambda: till.runner.pending == 0, timeout=timeout)


@pytest.fixture
def sign_in(qtbot: QtBot, till: Till) -> Callable[..., None]:
    """Sign in through the login screen and open a shift through its dialog."""

    def sign_in(username: str = "asha", pin: str = "1234", *, float_: str = "500") -> None:
        window = till.window
        window.login.username.setText(username)
        window.login.pin.setText(pin)
        window.login.sign_in.click()
        qtbot.waitUntil(lambda: window.is_selling, timeout=5000)
        wait_idle(qtbot, till)
        if window.shift is None:
            dialog = window.dialog
            dialog.amount.setText(float_)
            dialog.ok.click()
            qtbot.waitUntil(lambda: window.shift is not None, timeout=5000)
        wait_idle(qtbot, till)

    return sign_in


@pytest.fixture
def settle(qtbot: QtBot, till: Till) -> Callable[[], None]:
    """Return a function that waits until the DB worker has nothing left to do."""
    return lambda: wait_idle(qtbot, till)


@pytest.fixture
def scan(qtbot: QtBot, till: Till) -> Callable[[str], None]:
    """Return a function that feeds one scan through the pipeline, as the scanners do."""

    def scan(code: str) -> None:
        till.window.pipeline.handle(code)
        wait_idle(qtbot, till)

    return scan
