"""Shift and drawer actions of the till window: open, cash in/out, close -> Z report, returns.

A controller the till window owns: it is given the window (as a `TillHost`), the shared
state, the scan pipeline (returns take scans) and the widgets it speaks through. Every
command says what it changed, so the pending count refreshes without a poll. The services
are imported where they are used: they load the sync protocol, which is not needed to start
scanning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel

from common.ids import new_id
from pos_client.scanners.pipeline import ScanPipeline
from pos_client.services.changes import OpChanges
from pos_client.services.queries import ShiftInfo
from pos_client.services.till import CatalogItem, Override
from pos_client.ui.till.context import TillContext
from pos_client.ui.till.shell import TillHost, TillState
from pos_client.ui.till.shift_dialogs import (
    AmountDialog,
    DenominationDialog,
    ShiftMenu,
    ZReportDialog,
)
from pos_client.ui.till.till_screen import TillScreen
from pos_client.ui.widgets.messages import explain
from pos_client.ui.widgets.sync_status import SyncStatusLabel

if TYPE_CHECKING:
    from pos_client.services import returns
    from pos_client.services.login import Cashier
    from pos_client.services.shifts import ZReport
    from pos_client.ui.till.returns_dialog import ReturnsDialog

SHIFT = OpChanges(shift=True, outbox=True)
# A return writes a document and its refunds, and puts what came back on the shelf.
RETURN = OpChanges(sale=True, outbox=True, stock=True, shift=True)


class ShiftController:
    """Shift, drawer and return flows of the till window."""

    def __init__(
        self,
        *,
        ctx: TillContext,
        host: TillHost,
        state: TillState,
        pipeline: ScanPipeline,
        screen: TillScreen,
        shift_label: QLabel,
        sync_status: SyncStatusLabel,
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.state = state
        self.pipeline = pipeline
        self.screen = screen
        self.shift_label = shift_label
        self.sync_status = sync_status

    @property
    def cashier(self) -> Cashier:
        """Return who is signed in: shift and drawer actions run only while someone is."""
        cashier = self.state.cashier
        assert cashier is not None, "a shift action ran with nobody signed in"
        return cashier

    def shift_loaded(self, shift: ShiftInfo | None) -> None:
        """Show the open shift read at sign-in; ask for a float when there is none."""
        self._set_shift(shift)
        if shift is None:
            self.start_open_shift()

    def _set_shift(self, shift: ShiftInfo | None) -> None:
        self.state.shift = shift
        self.shift_label.setText(
            f"Shift since {shift.opened_at.astimezone():%H:%M}" if shift else "No open shift"
        )

    def start_open_shift(self) -> None:
        """Ask for the opening float and open a shift."""
        from pos_client.services import shifts

        dialog = AmountDialog(
            title="Open shift",
            prompt="Cash float in the drawer",
            initial="0",
            parent=self.host.widget,
        )
        cashier = self.cashier

        def opened(shift: ShiftInfo) -> None:
            self._set_shift(shift)
            dialog.accept()

        def submitted(amount: Decimal, _reason: str, _direction: str) -> None:
            self.ctx.command(
                lambda s: shifts.open_shift(s, cashier=cashier, opening_float=amount),
                changes=SHIFT,
            ).success(opened).failure(dialog.fail).run()

        dialog.submitted.connect(submitted)
        self.host.open_dialog(dialog)
        dialog.amount.setFocus()

    def start_cash_movement(self, direction: str = "in") -> None:
        """Put cash into or take it out of the drawer, with a reason."""
        from pos_client.services import shifts

        shift = self.state.shift
        if shift is None:
            self.start_open_shift()
            return
        dialog = AmountDialog(
            title="Cash in" if direction == "in" else "Cash out",
            prompt="Amount",
            with_reason=True,
            with_direction=True,
            parent=self.host.widget,
        )
        dialog.direction.setCurrentIndex(0 if direction == "in" else 1)
        cashier, shift_id = self.cashier, shift.shift_id

        def moved(amount: Decimal, reason: str, direction: str) -> None:
            dialog.accept()
            self.screen.notice.notify(
                f"Cash {direction}: {self.screen.totals.money(amount)} ({reason.strip()})",
                kind="info",
            )

        def submitted(amount: Decimal, reason: str, direction: str) -> None:
            self.ctx.command(
                lambda s: shifts.move_cash(
                    s,
                    cashier=cashier,
                    shift_id=shift_id,
                    direction=direction,
                    amount=amount,
                    reason=reason,
                ),
                changes=SHIFT,
            ).success(lambda _: moved(amount, reason, direction)).failure(dialog.fail).run()

        dialog.submitted.connect(submitted)
        self.host.open_dialog(dialog)
        dialog.amount.setFocus()

    def start_close_shift(self) -> None:
        """Count the drawer note by note, close the shift and show the Z report."""
        from pos_client.services import shifts

        shift = self.state.shift
        if shift is None:
            self.screen.notice.notify("No shift is open", kind="warn")
            return
        cashier, shift_id = self.cashier, shift.shift_id
        self.ctx.query(lambda s: shifts.x_report(s, cashier=cashier, shift_id=shift_id)).success(
            self._count_drawer
        ).failure(lambda e: self.screen.notice.notify(explain(e), kind="error")).run()

    def _count_drawer(self, so_far: ZReport) -> None:
        from pos_client.services import shifts

        pending = self.sync_status.pending
        warning = (
            f"{pending} events are still waiting to be sent to the server. They are "
            "kept and will be sent when the till is online."
            if pending
            else ""
        )
        currency = self.ctx.config.currency
        dialog = DenominationDialog(
            denominations=shifts.denominations(currency),
            expected=so_far.expected_cash,
            currency=currency,
            warning=warning,
            parent=self.host.widget,
        )
        cashier, shift_id = self.cashier, so_far.shift_id

        def closed(report: ZReport) -> None:
            dialog.accept()
            self._shift_closed(report)

        def submitted(counts: dict[Decimal, int]) -> None:
            self.ctx.command(
                lambda s: shifts.close_shift(s, cashier=cashier, shift_id=shift_id, counts=counts),
                changes=SHIFT,
            ).success(closed).failure(dialog.fail).run()

        dialog.submitted.connect(submitted)
        self.host.open_dialog(dialog)
        next(iter(dialog.counts.values())).setFocus()

    def show_x_report(self) -> None:
        """Show the open shift's figures so far (X report); the shift stays open."""
        from pos_client.services import shifts

        shift = self.state.shift
        if shift is None:
            self.screen.notice.notify("No shift is open", kind="warn")
            return
        cashier, shift_id = self.cashier, shift.shift_id
        self.ctx.query(lambda s: shifts.x_report(s, cashier=cashier, shift_id=shift_id)).success(
            self._show_report
        ).failure(lambda e: self.screen.notice.notify(explain(e), kind="error")).run()

    def _shift_closed(self, report: ZReport) -> None:
        self.state.last_report = report
        self._set_shift(None)
        view = self._show_report(report)
        view.finished.connect(lambda _: self.start_open_shift())

    def _show_report(self, report: ZReport) -> ZReportDialog:
        view = ZReportDialog(
            report=report,
            currency=self.ctx.config.currency,
            width=self.ctx.config.receipt_width,
            parent=self.host.widget,
        )

        def save() -> None:
            kind = "zreport" if report.is_final else f"xreport-{new_id()[-8:]}"
            name = f"{kind}-{report.shift_id}"
            path = self.ctx.receipts.save_report_pdf(title=view.title, rows=view.rows, name=name)
            printed = self.ctx.receipts.print_report(
                title=view.title, rows=view.rows, job_id=f"{name}-{new_id()}"
            )
            view.saved.setText(("Sent to the printer; " if printed else "") + f"saved {path}")

        view.save_requested.connect(save)
        self.host.open_dialog(view)
        return view

    def start_return(self) -> None:
        """Open the returns dialog (F3); scans go to it while it is open."""
        from pos_client.services import returns
        from pos_client.ui.till.returns_dialog import ReturnsDialog

        shift = self.state.shift
        if shift is None:
            self.start_open_shift()
            return
        dialog = ReturnsDialog(ctx=self.ctx, parent=self.host.widget)
        self.pipeline.divert_to = dialog.take_scan
        dialog.finished.connect(lambda _: setattr(self.pipeline, "divert_to", None))
        cashier, shift_id, shop = self.cashier, shift.shift_id, self.ctx.shop

        def with_receipt(sale_id: str, quantities: dict[str, Decimal]) -> None:
            reason = dialog.reason.text()
            try:
                non_cash = dialog.non_cash()
            except ValueError as exc:
                dialog.fail(exc)
                return
            self.ctx.command(
                lambda s: returns.return_with_receipt(
                    s,
                    sale_id=sale_id,
                    quantities=quantities,
                    cashier=cashier,
                    shift_id=shift_id,
                    reason=reason,
                    shop=shop,
                    non_cash=non_cash,
                ),
                changes=RETURN,
            ).success(lambda done: self._returned(dialog, done)).failure(dialog.fail).run()

        def without_receipt(items: list[tuple[CatalogItem, Decimal]], override: Override) -> None:
            reason = dialog.reason.text()
            self.ctx.command(
                lambda s: returns.return_without_receipt(
                    s,
                    items=items,
                    cashier=cashier,
                    shift_id=shift_id,
                    override=override,
                    reason=reason,
                    shop=shop,
                ),
                changes=RETURN,
            ).success(lambda done: self._returned(dialog, done)).failure(dialog.fail).run()

        dialog.with_receipt.connect(with_receipt)
        dialog.without_receipt.connect(without_receipt)
        self.host.open_dialog(dialog)
        dialog.code.setFocus()

    def _returned(self, dialog: ReturnsDialog, done: returns.RecordedReturn) -> None:
        from pos_client.services.returns import METHOD_NAMES

        dialog.accept()
        self.ctx.receipts.print_receipt(done.receipt, job_id=done.return_id)
        money = self.screen.totals.money
        methods = ", ".join(
            f"{METHOD_NAMES.get(r.method.value, r.method.value)} {money(r.amount)}"
            for r in done.refunds
        )
        self.screen.notice.notify(
            f"Refund {money(done.total)} ({methods}) · receipt {done.receipt_number}",
            kind="success",
        )

    def shift_menu(self) -> None:
        """Open the shift menu (F11): cash in/out, X report, close, print again."""
        failed = len(self.ctx.receipts.queue.failed_jobs) if self.ctx.receipts.queue else 0
        menu = ShiftMenu(failed_receipts=failed, parent=self.host.widget)
        actions = {
            "cash_in": lambda: self.start_cash_movement("in"),
            "cash_out": lambda: self.start_cash_movement("out"),
            "x_report": self.show_x_report,
            "close": self.start_close_shift,
            "retry": self._retry_receipts,
        }
        menu.chosen.connect(lambda name: actions[name]())
        self.host.open_dialog(menu)
        menu.buttons["cash_in"].setFocus()

    def _retry_receipts(self) -> None:
        count = self.ctx.receipts.retry_failed()
        self.screen.notice.notify(f"Printing {count} receipts again", kind="info", seconds=3)
