"""Small dialogs of the till: manager approval and one-value prompts."""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from common.roles import Permission
from pos_client.services.login import Cashier, authorize
from pos_client.services.till import Override
from pos_client.ui.till.context import TillContext
from pos_client.ui.widgets.messages import explain


def button(text: str, *, role: str = "", name: str = "") -> QPushButton:
    """Return a large push button with a style role."""
    widget = QPushButton(text)
    if role:
        widget.setProperty("role", role)
    if name:
        widget.setObjectName(name)
    widget.setCursor(Qt.CursorShape.PointingHandCursor)
    return widget


def title_label(text: str) -> QLabel:
    """Return a dialog heading."""
    label = QLabel(text)
    label.setObjectName("DialogTitle")
    return label


def error_label() -> QLabel:
    """Return the inline error line of a dialog (hidden until there is an error)."""
    label = QLabel()
    label.setObjectName("ErrorText")
    label.setWordWrap(True)
    return label


class OverrideDialog(QDialog):
    """A manager types username and PIN to approve one action; the approval is recorded."""

    approved = Signal(object)  # Override

    def __init__(
        self, *, ctx: TillContext, action: str, reason: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Manager approval")
        self.setModal(True)
        self.ctx = ctx
        self.action = action
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label("Manager approval needed"))
        why = QLabel(reason)
        why.setWordWrap(True)
        layout.addWidget(why)
        form = QFormLayout()
        self.username = QLineEdit()
        self.username.setObjectName("OverrideUser")
        self.pin = QLineEdit()
        self.pin.setObjectName("OverridePin")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Manager", self.username)
        form.addRow("PIN", self.pin)
        layout.addLayout(form)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        self.approve = button("Approve", role="primary", name="ApproveButton")
        self.approve.setDefault(True)
        self.approve.clicked.connect(self.submit)
        buttons.addWidget(cancel)
        buttons.addWidget(self.approve)
        layout.addLayout(buttons)
        self.setMinimumWidth(420)

    def submit(self) -> None:
        """Check the PIN on the DB worker; approve on success."""
        username, pin = self.username.text(), self.pin.text()
        self.approve.setEnabled(False)
        guard = self.ctx.guard
        self.ctx.query(
            lambda s: authorize(
                s, username=username, pin=pin, permission=Permission.POS_OVERRIDE, guard=guard
            )
        ).success(self._approved).failure(self._refused).run()

    def _approved(self, manager: Cashier) -> None:
        self.approve.setEnabled(True)
        self.approved.emit(
            Override(
                manager_id=manager.user_id,
                manager_name=manager.display_name,
                action=self.action,
                detail="",
            )
        )
        self.accept()

    def _refused(self, error: BaseException) -> None:
        self.approve.setEnabled(True)
        self.pin.clear()
        self.error.setText(explain(error))


def ask_override(
    *,
    parent: QWidget,
    ctx: TillContext,
    action: str,
    reason: str,
    then: Callable[[Override], None],
    opener: Callable[[QDialog], None] | None = None,
) -> OverrideDialog:
    """Open the approval dialog; call then(override) once a manager approves.

    opener is the till window's way of opening dialogs, which gives the keyboard back to the
    till when the dialog closes; without one the dialog hands it back to its parent's window.
    """
    dialog = OverrideDialog(ctx=ctx, action=action, reason=reason, parent=parent)
    dialog.approved.connect(then)
    dialog.finished.connect(dialog.deleteLater)
    if opener is not None:
        opener(dialog)
    else:
        open_dialog(dialog)
    dialog.username.setFocus()
    return dialog


def showing(dialog: QWidget | None) -> bool:
    """Say whether a dialog is on screen; one closed with deleteLater is gone, not an error."""
    return dialog is not None and shiboken6.isValid(dialog) and dialog.isVisible()


def open_dialog(dialog: QDialog) -> None:
    """Show a dialog with the keyboard; when it closes, give the keyboard back where it was.

    Kiosk tills run without a window manager: nothing else activates a window.
    """
    parent = dialog.parentWidget()
    owner = parent.window() if parent is not None else None
    previous = QApplication.focusWidget()

    def give_back() -> None:
        if owner is None or not owner.isVisible():
            return
        owner.raise_()
        owner.activateWindow()
        if previous is not None and previous.isVisible() and previous.window() is owner:
            previous.setFocus()

    dialog.finished.connect(give_back)
    dialog.open()
    dialog.raise_()
    dialog.activateWindow()


class ValueDialog(QDialog):
    """Ask for one value (quantity, discount, price); the caller parses and checks it."""

    submitted = Signal(str)

    def __init__(
        self, *, title: str, prompt: str, initial: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title_label(title))
        hint = QLabel(prompt)
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.value = QLineEdit(initial)
        self.value.setObjectName("ValueEdit")
        self.value.selectAll()
        layout.addWidget(self.value)
        self.error = error_label()
        layout.addWidget(self.error)
        buttons = QHBoxLayout()
        cancel = button("Cancel (Esc)")
        cancel.clicked.connect(self.reject)
        ok = button("OK (Enter)", role="primary", name="OkButton")
        ok.setDefault(True)
        ok.clicked.connect(lambda: self.submitted.emit(self.value.text().strip()))
        buttons.addWidget(cancel)
        buttons.addWidget(ok)
        layout.addLayout(buttons)
        self.setMinimumWidth(380)

    def fail(self, error: BaseException | str) -> None:
        """Show why the value was not accepted and keep the dialog open."""
        self.error.setText(error if isinstance(error, str) else explain(error))
        self.value.setFocus()
        self.value.selectAll()
