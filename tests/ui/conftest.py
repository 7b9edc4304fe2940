"""A real till for pytest-qt: the app built by app.build_till over a real store on disk."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pos_client.config import TillConfig
from pos_client.launch import Till, build_till
from pos_client.printing.queue import PrinterConfig
from pos_client.services.demo import seed_demo
from pos_client.store.db import LocalStore
from tests.ui.manager_support import open_window  # noqa: F401  (a fixture shared by manager tests)


@pytest.fixture(autouse=True)
def user_settings(tmp_path: Path) -> Iterator[Path]:
    """Keep what the app remembers (QSettings, e.g. the label printer) inside the test's folder."""
    folder = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture
def printer_file(tmp_path: Path) -> Path:
    """The receipt printer: a file the print queue writes ESC/POS jobs into."""
    return tmp_path / "printer.bin"


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed a demo store once per run (Argon2 hashing is slow on purpose); tests copy it."""
    path = tmp_path_factory.mktemp("till-template") / "till.db"
    store = LocalStore(path)
    with store.transaction() as session:
        seed_demo(session)
    # Closing the last connection checkpoints the WAL into the file, so a copy is complete.
    store.close()
    return path


@pytest.fixture
def make_till(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, printer_file: Path, seeded_store: Path
) -> Iterator[Callable[..., Till]]:
    """Build a till over a seeded store file with a file printer; close it afterwards."""
    built: list[Till] = []

    def make_till(**changes: Any) -> Till:
        shutil.copyfile(seeded_store, tmp_path / "till.db")
        store = LocalStore(tmp_path / "till.db")
        config = TillConfig(
            data_dir=tmp_path,
            shop_name="Sharma General Store",
            branch_name="Indiranagar",
            printer=PrinterConfig(kind="file", target=str(printer_file)),
        )
        till = build_till(app=qapp, config=config.with_changes(**changes), store=store)
        built.append(till)
        till.window.show()
        qtbot.waitExposed(till.window)
        return till

    make_till.built = built  # type: ignore[attr-defined]
    yield make_till
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible():
            widget.close()
    for till in built:
        till.close()


@pytest.fixture
def till(make_till: Callable[..., Till]) -> Till:
    """A till over a seeded store file, with a file printer, signed out."""
    return make_till()


def wait_idle(qtbot: QtBot, till: Till, timeout: int = 5000) -> None:
    """Wait until every queued DB op has run and delivered its callback."""
    qtbot.waitUntil(lambda: till.runner.pending == 0, timeout=timeout)


def latest(make_till: Callable[..., Till]) -> Till:
    """Return the till the test built last (the `till` fixture, or one made by make_till)."""
    built: list[Till] = make_till.built  # type: ignore[attr-defined]
    return built[-1] if built else make_till()


@pytest.fixture
def sign_in(qtbot: QtBot, make_till: Callable[..., Till]) -> Callable[..., None]:
    """Sign in through the login screen and open a shift through its dialog."""

    def sign_in(username: str = "asha", pin: str = "1234", *, float_: str = "500") -> None:
        till = latest(make_till)
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
def settle(qtbot: QtBot, make_till: Callable[..., Till]) -> Callable[[], None]:
    """Return a function that waits until the DB worker has nothing left to do."""
    return lambda: wait_idle(qtbot, latest(make_till))


@pytest.fixture
def scan(qtbot: QtBot, make_till: Callable[..., Till]) -> Callable[[str], None]:
    """Return a function that feeds one scan through the pipeline, as the scanners do."""

    def scan(code: str) -> None:
        till = latest(make_till)
        till.window.pipeline.handle(code)
        wait_idle(qtbot, till)

    return scan
