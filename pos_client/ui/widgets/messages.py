"""The one place errors become words for the cashier, and the one message box helper."""

from __future__ import annotations

import logging
import sqlite3

from PySide6.QtWidgets import QMessageBox, QWidget
from sqlalchemy.exc import OperationalError

from common.errors import DomainError
from common.sqlite_files import DISK_FULL, disk_full

log = logging.getLogger(__name__)


def explain(error: BaseException) -> str:
    """Say what went wrong in words a cashier can act on."""
    if isinstance(error, DomainError):
        return error.detail
    if disk_full(error):
        # Said before any money changes hands: the payment dialog shows it instead of "done".
        return (
            f"{DISK_FULL}: this was not recorded, so do not take payment for it. "
            "Ask a manager to free disk space, then try again; nothing else is lost."
        )
    if isinstance(error, OperationalError | sqlite3.OperationalError):
        return "The till's database is busy or unavailable. Please try again."
    if isinstance(error, OSError):
        return f"The till could not reach a device or file: {error.strerror or error}"
    log.error("Unexpected error at the till", exc_info=error)
    return "Something went wrong. The sale is safe; please try again or call a manager."


def title_of(error: BaseException) -> str:
    """Return a short heading for an error."""
    return error.title if isinstance(error, DomainError) else "Problem"


def show_error(parent: QWidget | None, error: BaseException) -> QMessageBox:
    """Show an error in a window-modal box that does not block the event loop."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        title_of(error),
        explain(error),
        QMessageBox.StandardButton.Ok,
        parent,
    )
    box.setObjectName("ErrorBox")
    box.open()
    box.activateWindow()
    if parent is not None:
        owner = parent.window()

        # Without a window manager (kiosk tills) nothing else gives the keyboard back.
        def give_back(_result: int) -> None:
            owner.raise_()
            owner.activateWindow()

        box.finished.connect(give_back)
    return box
