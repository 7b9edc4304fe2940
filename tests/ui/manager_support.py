"""What manager-screen tests share: a signed-in back-office window and waits on the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from pos_client.api.client import ApiClient
from pos_client.ui.manager.window import ManagerWindow, open_back_office
from tests.factories import PASSWORD, World

TIMEOUT = 10_000


@pytest.fixture
def open_window(
    qtbot: QtBot, world: World, live_server
) -> Iterator[Callable[[str], ManagerWindow]]:
    """Sign in as a user over HTTP and show the back-office window."""
    opened: list[tuple[ManagerWindow, ApiClient]] = []

    def open_as(username: str, start: str | None = None) -> ManagerWindow:
        client = ApiClient(live_server.url)
        window = open_back_office(client=client, username=username, password=PASSWORD, start=start)
        qtbot.addWidget(window)
        window.show()
        opened.append((window, client))
        return window

    yield open_as
    for window, client in opened:
        window.ctx.pool.close()
        window.close()
        client.close()


def wait_loaded(qtbot: QtBot, table) -> None:
    """Wait until a server table has answered (rows or empty state)."""
    qtbot.waitUntil(lambda: not table.loading, timeout=TIMEOUT)
    assert table.last_error == ""


def eventually(qtbot: QtBot, check) -> None:
    """Wait for the server to show a change the UI was told about.

    The API answers a write before the request's transaction has finished closing, so a read
    sent the instant the answer arrives can, rarely, still see the state before it.
    """
    qtbot.waitUntil(check, timeout=TIMEOUT)


def reload_until(qtbot: QtBot, table, check) -> None:
    """Reload a server table until its rows pass check (see `eventually` for why)."""

    def settled() -> bool:
        if table.loading:
            return False
        if check(table.model.rows):
            return True
        table.reload(keep_page=True)
        return False

    qtbot.waitUntil(settled, timeout=TIMEOUT)
    assert table.last_error == ""


def select_row(table, predicate) -> dict:
    """Select the first row matching predicate in a ServerTable and return it."""
    for index, row in enumerate(table.model.rows):
        if predicate(row):
            table.view.selectRow(index)
            return row
    raise AssertionError(f"no matching row among {len(table.model.rows)}")


def accept_dialog(qtbot: QtBot, dialog: QDialog) -> None:
    """Press the dialog's OK and wait for the server to agree."""
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: dialog.result() == QDialog.DialogCode.Accepted or dialog.error.isVisible(),
        timeout=TIMEOUT,
    )
    assert not dialog.error.isVisible(), dialog.error.text()
