"""Sign-in (and lock) screen: username and PIN, checked offline."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QVBoxLayout, QWidget

from pos_client.services.login import Cashier, sign_in
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.dialogs import button
from pos_client.ui.widgets.messages import explain


class LoginScreen(QWidget):
    """Ask for username and PIN; emit signed_in(Cashier)."""

    signed_in = Signal(object)
    # Emitted when a PIN is submitted: the cashier waits for the check anyway.
    submitted = Signal()

    def __init__(self, *, ctx: TillContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LoginScreen")
        self.ctx = ctx
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame()
        card.setObjectName("LoginCard")
        card.setFixedWidth(440)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(36, 32, 36, 32)
        layout.setSpacing(12)
        title = QLabel("Stock<span style='color:#0f9d8f'>Pilot</span>")
        title.setObjectName("LoginTitle")
        title.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(title, alignment=Qt.AlignmentFlag.AlignHCenter)
        self.subtitle = QLabel()
        self.subtitle.setObjectName("LoginSubtitle")
        self.subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.subtitle.setWordWrap(True)
        layout.addWidget(self.subtitle)
        self.username = QLineEdit()
        self.username.setObjectName("LoginUser")
        self.username.setPlaceholderText("Username")
        self.pin = QLineEdit()
        self.pin.setObjectName("LoginPin")
        self.pin.setPlaceholderText("PIN")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.username.returnPressed.connect(self.pin.setFocus)
        self.pin.returnPressed.connect(self.submit)
        layout.addWidget(self.username)
        layout.addWidget(self.pin)
        self.error = QLabel()
        self.error.setObjectName("LoginError")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.sign_in = button("Sign in", role="primary", name="SignInButton")
        self.sign_in.setMinimumHeight(52)
        self.sign_in.clicked.connect(self.submit)
        layout.addWidget(self.sign_in)
        hint = QLabel("Works offline · PINs are checked on this till")
        hint.setObjectName("KeyHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(hint)
        outer.addWidget(card, alignment=Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        self.show_locked(None)

    def show_locked(self, cashier: Cashier | None) -> None:
        """Show the screen for a fresh sign-in (None) or to unlock a locked till."""
        shop = self.ctx.config.shop_name
        if cashier is None:
            self.subtitle.setText(f"{shop} · sign in to start selling")
            self.username.clear()
        else:
            self.subtitle.setText(
                f"Locked · {cashier.display_name}'s sale is kept.\nSign in to continue."
            )
            self.username.setText(cashier.username)
        self.pin.clear()
        self.error.clear()
        self.sign_in.setEnabled(True)
        (self.pin if cashier else self.username).setFocus()

    def submit(self) -> None:
        """Check username and PIN on the DB worker."""
        username, pin = self.username.text().strip(), self.pin.text()
        if not username or not pin:
            self.error.setText("Enter your username and PIN")
            return
        self.sign_in.setEnabled(False)
        guard = self.ctx.guard
        self.ctx.query(lambda s: sign_in(s, username=username, pin=pin, guard=guard)).success(
            self._ok
        ).failure(self._failed).run()
        self.submitted.emit()

    def _ok(self, cashier: Cashier) -> None:
        self.sign_in.setEnabled(True)
        self.pin.clear()
        self.signed_in.emit(cashier)

    def _failed(self, error: BaseException) -> None:
        self.sign_in.setEnabled(True)
        self.pin.clear()
        self.pin.setFocus()
        self.error.setText(explain(error))
