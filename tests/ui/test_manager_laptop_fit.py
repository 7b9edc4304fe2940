"""Every back-office screen fits a 1366×768 laptop: opening one never widens the window."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from pos_client.ui.manager.style import manager_stylesheet

LAPTOP = (1366, 768)


def test_every_screen_fits_a_laptop_screen(
    open_window, qtbot: QtBot, qapp: QApplication, tmp_path
) -> None:
    # The real stylesheet: its paddings and fonts are what made screens too wide before.
    qapp.setStyleSheet(manager_stylesheet())
    window = open_window("admin", start="dashboard")
    window.resize(*LAPTOP)
    too_big: dict[str, tuple[int, int]] = {}
    for screen in window.screens:
        page = window.open_screen(screen.key)
        qtbot.wait(50)
        hint = window.minimumSizeHint()
        if hint.width() > LAPTOP[0] or hint.height() > LAPTOP[1] or window.width() > LAPTOP[0]:
            too_big[screen.key] = (max(hint.width(), window.width()), hint.height())
        if screen.key == "purchasing":
            # Every purchase-order action is on screen, none past the window's right edge.
            for name in ("new_button", "approve_button", "send_button", "receive_button"):
                widget = getattr(page, name)
                right = widget.mapTo(window, widget.rect().topRight()).x()
                assert widget.isVisible() and right < window.width(), (name, right)
            window.grab().save(str(tmp_path / "purchasing.png"))
    assert not too_big, f"screens wider or taller than {LAPTOP}: {too_big}"
