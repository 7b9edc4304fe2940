"""The back office opened from the till (Ctrl+B): a manager signs in, the till keeps selling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog

from common.roles import Permission
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.shell import TillHost, TillState
from pos_client.ui.till.till_screen import TillScreen

if TYPE_CHECKING:
    from pos_client.ui.manager.window import LoginDialog, ManagerWindow


class BackOffice:
    """Open and close the back-office window beside the till window."""

    def __init__(
        self, *, ctx: TillContext, host: TillHost, state: TillState, screen: TillScreen
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.state = state
        self.screen = screen
        self.window: ManagerWindow | None = None
        self.login: LoginDialog | None = None

    def allowed(self) -> bool:
        """Say whether the person at the till may see the back office (managers and up)."""
        cashier = self.state.cashier
        return cashier is not None and cashier.can(Permission.REPORTS_READ)

    def open(self) -> None:
        """Sign in to the server for the back office; if it is already open, bring it up."""
        cashier = self.state.cashier
        if cashier is None or not self.allowed():
            self.screen.notice.notify("The back office is for managers.", kind="warn")
            return
        if self.window is not None and self.window.isVisible():
            self.window.raise_()
            self.window.activateWindow()
            return
        url = self.ctx.config.server_url
        if not url:
            self.screen.notice.notify(
                "The back office needs the server, and this till has none set up.", kind="warn"
            )
            return
        from pos_client.ui.manager.style import manager_stylesheet
        from pos_client.ui.manager.window import LoginDialog

        self.close()
        login = LoginDialog(server_url=url)
        login.setStyleSheet(manager_stylesheet())
        # The person at the till is who signs in; their server password is asked, not the PIN.
        login.username.setText(cashier.username)
        login.password.setFocus()
        login.finished.connect(self._signed_in)
        self.login = login
        login.open()

    def _signed_in(self, result: int) -> None:
        from pos_client.ui.manager.style import manager_stylesheet
        from pos_client.ui.manager.window import ManagerWindow

        login = self.login
        if login is None or result != QDialog.DialogCode.Accepted or login.ctx is None:
            self.close()
            self.host.dialog_closed()
            return
        window = ManagerWindow(ctx=login.ctx)
        window.setStyleSheet(manager_stylesheet())
        self.window = window
        window.show()

    def close(self) -> None:
        """Close the back office and end its server session (the till is locked or closing)."""
        window, login = self.window, self.login
        self.window = self.login = None
        if window is not None:
            window.close()
            window.deleteLater()
        if login is not None:
            login.pool.close()
            login.client.close()
            login.close()
            login.deleteLater()
