"""The back office opened from inside the till, against a real server on loopback."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from common.barcodes import make_ean13
from pos_client.launch import Till
from tests.factories import PASSWORD
from tests.ui.manager_support import TIMEOUT

MILK = make_ean13("890126200001")  # a demo product on the till


def test_a_manager_opens_the_back_office_beside_the_till_and_locking_closes_it(
    qtbot: QtBot, make_till: Callable[..., Till], sign_in, scan, world, live_server
) -> None:
    till = make_till(server_url=live_server.url)
    window = till.window
    sign_in("ravi")  # the till's manager
    assert window.back_office_button.isVisibleTo(window)

    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    login = window.office.login
    assert login is not None and login.username.text() == "ravi"
    assert login.server.text() == live_server.url
    login.username.setText("manager")
    login.password.setText("not the password")
    login.sign_in()
    qtbot.waitUntil(lambda: "password" in login.error.text().lower(), timeout=TIMEOUT)
    assert window.office.window is None
    login.password.setText(PASSWORD)
    login.sign_in()
    qtbot.waitUntil(lambda: window.office.window is not None, timeout=TIMEOUT)
    office = window.office.window
    assert office.isVisible() and office.ctx.me.username == "manager"
    assert "products" in [s.key for s in office.screens]

    # The till goes on selling while the back office is open.
    before = len(window.cart.lines)
    scan(MILK)
    assert len(window.cart.lines) == before + 1

    # Ctrl+B again brings the same window up rather than asking to sign in again.
    window.run_action("back_office")
    assert window.office.window is office

    window.lock()
    assert window.office.window is None and window.office.login is None
    assert not office.isVisible()
    assert not window.back_office_button.isVisibleTo(window)


def test_a_cashier_has_no_back_office(
    qtbot: QtBot, make_till: Callable[..., Till], sign_in, live_server
) -> None:
    till = make_till(server_url=live_server.url)
    window = till.window
    sign_in("asha")
    assert not window.back_office_button.isVisibleTo(window)
    window.run_action("back_office")
    assert window.office.login is None
    assert "managers" in window.sale_screen.notice.text()


def test_the_next_person_at_the_till_does_not_see_the_last_ones_notice(
    qtbot: QtBot, make_till: Callable[..., Till], sign_in
) -> None:
    till = make_till()
    window = till.window
    sign_in("asha")
    window.sale_screen.notice.notify("Change ₹29.00 · Sale complete", kind="success", seconds=60)
    window.lock()
    sign_in("asha")
    assert window.sale_screen.notice.text().startswith("Change")  # the same cashier, back again
    window.lock()
    sign_in("ravi")
    assert not window.sale_screen.notice.isVisible() and window.sale_screen.notice.text() == ""
