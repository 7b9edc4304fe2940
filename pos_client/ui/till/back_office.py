"""The back office opened from the till (Ctrl+B): a manager signs in, the till keeps selling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog

from common.roles import Permission

if TYPE_CHECKING:
    from pos_client.services.login import Cashier
    from pos_client.ui.manager.window import LoginDialog, ManagerWindow
    from pos_client.ui.till.context import TillContext
    from pos_client.ui.till.till_screen import TillScreen


class BackOfficeActions:
    """Open and close the back-office window beside the till window."""

    back_office: ManagerWindow | None = None
    back_office_login: LoginDialog | None = None

    if TYPE_CHECKING:  # what the till window this is mixed into provides
        ctx: TillContext
        cashier: Cashier | None
        screen: TillScreen

        def _dialog_closed(self) -> None: ...

    def back_office_allowed(self) -> bool:
        """Say whether the person at the till may see the back office (managers and up)."""
        return self.cashier is not None and self.cashier.can(Permission.REPORTS_READ)

    def open_back_office(self) -> None:
        """Sign in to the server for the back office; if it is already open, bring it up."""
        cashier = self.cashier
        if cashier is None or not self.back_office_allowed():
            self.screen.notice.notify("The back office is for managers.", kind="warn")
            return
        if self.back_office is not None and self.back_office.isVisible():
            self.back_office.raise_()
            self.back_office.activateWindow()
            return
        url = self.ctx.config.server_url
        if not url:
            self.screen.notice.notify(
                "The back office needs the server, and this till has none set up.", kind="warn"
            )
            return
        from pos_client.ui.manager.style import manager_stylesheet
        from pos_client.ui.manager.window import LoginDialog

        self.close_back_office()
        login = LoginDialog(server_url=url)
        login.setStyleSheet(manager_stylesheet())
        # The person at the till is who signs in; their server password is asked, not the PIN.
        login.username.setText(cashier.username)
        login.password.setFocus()
        login.finished.connect(self._back_office_signed_in)
        self.back_office_login = login
        login.open()

    def _back_office_signed_in(self, result: int) -> None:
        from pos_client.ui.manager.style import manager_stylesheet
        from pos_client.ui.manager.window import ManagerWindow

        login = self.back_office_login
        if login is None or result != QDialog.DialogCode.Accepted or login.ctx is None:
            self.close_back_office()
            self._dialog_closed()
            return
        window = ManagerWindow(ctx=login.ctx)
        window.setStyleSheet(manager_stylesheet())
        self.back_office = window
        window.show()

    def close_back_office(self) -> None:
        """Close the back office and end its server session (the till is locked or closing)."""
        window, login = self.back_office, self.back_office_login
        self.back_office = self.back_office_login = None
        if window is not None:
            window.close()
            window.deleteLater()
        if login is not None:
            login.pool.close()
            login.client.close()
            login.close()
            login.deleteLater()
