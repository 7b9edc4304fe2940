"""Stock counts: scan or type what is on the shelf with quantities, undo, review, post."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from common.schemas.inventory import CountLineRead, CountRead, UncountedRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.stock_documents import parse_quantity
from pos_client.ui.manager.table import Column, RowsModel, as_money, as_quantity
from pos_client.ui.manager.widgets import button, choice


@dataclass(frozen=True)
class ReviewRow:
    """One line of the review: a count line, and how its figure came about."""

    line: CountLineRead
    how: str


def _of_line(key: str) -> Callable[[ReviewRow], Any]:
    return lambda row: getattr(row.line, key)


class CountReviewDialog(QDialog):
    """Show the differences a count will post, and ask before posting.

    "Set uncounted items in this scope to zero" asks the server what it would zero (or why the
    scope is unclear) and lists those lines too, so what is posted is what was reviewed.
    """

    def __init__(
        self,
        *,
        count: CountRead,
        ctx: ManagerContext | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.count = count
        self.uncounted: list[ReviewRow] = []
        self.setWindowTitle("Review the count before posting")
        self.setMinimumSize(860, 480)
        self.changes = [line for line in count.lines if line.difference != 0]
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.intro.setObjectName("CountReviewSummary")
        self.zero_box = QCheckBox("Set uncounted items in this scope to zero")
        self.zero_box.setObjectName("ZeroUncounted")
        self.zero_box.setToolTip(
            "Every product of the counted branch (and category, if the count has one) that has "
            "stock but no line on this count is set to zero when the count posts."
        )
        self.zero_box.setEnabled(ctx is not None)
        self.zero_box.toggled.connect(self._zero_toggled)
        self.zero_message = QLabel("")
        self.zero_message.setWordWrap(True)
        self.zero_message.setObjectName("PageStatus")
        self.model = RowsModel(
            [
                Column("name", "Product", compute=_of_line("name")),
                Column("how", "Counted how"),
                Column(
                    "expected", "System", as_quantity, numeric=True, compute=_of_line("expected")
                ),
                Column(
                    "counted", "Counted", as_quantity, numeric=True, compute=_of_line("counted")
                ),
                Column(
                    "difference",
                    "Difference",
                    as_quantity,
                    numeric=True,
                    compute=_of_line("difference"),
                ),
                Column("value", "Value", as_money, numeric=True, compute=_of_line("value")),
            ],
            self,
        )
        view = QTableView()
        view.setObjectName("CountReviewLines")
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setProperty("role", "primary")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Keep counting")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.zero_box)
        layout.addWidget(self.zero_message)
        layout.addWidget(view, 1)
        layout.addWidget(buttons)
        self._refresh()

    @property
    def zero_uncounted(self) -> bool:
        """Tell whether the post should set the uncounted products of the scope to zero."""
        return self.zero_box.isChecked()

    def _refresh(self) -> None:
        count = self.count
        zeroing = self.zero_box.isChecked()
        value = count.difference_value + sum((row.line.value for row in self.uncounted), Decimal(0))
        rest = (
            f"{len(self.uncounted)} product(s) not counted will be set to zero."
            if zeroing
            else "Products not counted keep their stock."
        )
        self.intro.setText(
            f"{len(count.lines)} product(s) counted; {len(self.changes)} differ from the "
            f"system. Posting sets stock to what was counted; the differences are worth "
            f"{as_money(value)} net. {rest}"
        )
        shown = [ReviewRow(line, "counted") for line in self.changes or count.lines]
        self.model.set_rows(shown + (self.uncounted if zeroing else []))
        self.ok_button.setText(
            f"Post and zero {len(self.uncounted)} uncounted"
            if zeroing
            else "Post these differences"
        )

    def _say(self, text: str, *, error: bool = False) -> None:
        self.zero_message.setObjectName("ErrorText" if error else "PageStatus")
        self.zero_message.style().unpolish(self.zero_message)
        self.zero_message.style().polish(self.zero_message)
        self.zero_message.setText(text)

    def _zero_toggled(self, on: bool) -> None:
        if not on:
            self.uncounted = []
            self._say("")
            self._refresh()
            return
        if self.ctx is None:
            return
        count_id = self.count.id
        self.ok_button.setEnabled(False)
        self._say("Asking the server what is not counted…")

        def shown(answer: UncountedRead) -> None:
            self.uncounted = [ReviewRow(line, "not counted → 0") for line in answer.lines]
            self._say(
                f"Scope: {answer.scope}. "
                + (
                    f"{len(self.uncounted)} product(s) with stock were not counted and will "
                    "be set to zero (listed below)."
                    if self.uncounted
                    else "Every product with stock in it was counted: nothing more to zero."
                )
            )
            self.ok_button.setEnabled(True)
            self._refresh()

        def refused(error: BaseException) -> None:
            self.zero_box.blockSignals(True)
            self.zero_box.setChecked(False)
            self.zero_box.blockSignals(False)
            self.uncounted = []
            self._say(describe(error), error=True)
            self.ok_button.setEnabled(True)
            self._refresh()

        NetOp(lambda api: api.count_uncounted(count_id), pool=self.ctx.pool, owner=self).success(
            shown
        ).failure(refused).run()


class CountDialog(QDialog):
    """A stock count: scan or type with a quantity, undo the last line, review, post."""

    def __init__(
        self, *, ctx: ManagerContext, branch_id: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.count: CountRead | None = None
        self.review: CountReviewDialog | None = None
        # What each entry changed, newest last: (product_id, counted before or None if new).
        self.entries: list[tuple[int, Decimal | None]] = []
        self.setWindowTitle(f"Stock count — {ctx.branch_name(branch_id)}")
        self.setMinimumSize(820, 520)
        self.quantity = QLineEdit("1")
        self.quantity.setObjectName("CountQuantity")
        self.quantity.setMaximumWidth(90)
        self.quantity.setToolTip("How many of the next scan were found; back to 1 after each")
        self.scan = QLineEdit()
        self.scan.setObjectName("CountScan")
        self.scan.setPlaceholderText("Scan or type a barcode, then Enter")
        self.scan.returnPressed.connect(self.scanned)
        self.branch_id = branch_id
        # The count's scope: the branch, all of it or one category (chosen before counting).
        self.scope = choice([("All categories", None)], name="CountScope")
        self.scope.setToolTip(
            "What this count covers; it decides what 'set uncounted items to zero' may zero. "
            "Choose before the first line."
        )
        self.scope.currentIndexChanged.connect(self._scope_changed)
        entry = QHBoxLayout()
        entry.addWidget(QLabel("Scope"))
        entry.addWidget(self.scope)
        entry.addWidget(QLabel("Quantity"))
        entry.addWidget(self.quantity)
        entry.addWidget(self.scan, 1)
        self.model = RowsModel(
            [
                Column("sku", "SKU"),
                Column("name", "Product"),
                Column("expected", "Expected", as_quantity, numeric=True),
                Column("counted", "Counted", as_quantity, numeric=True),
                Column("difference", "Difference", as_quantity, numeric=True),
                Column("value", "Value", as_money, numeric=True),
            ],
            self,
        )
        view = self.view = QTableView()
        view.setModel(self.model)
        view.verticalHeader().setVisible(False)
        view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Starting the count…")
        self.status.setObjectName("PageStatus")
        self.status.setWordWrap(True)
        self.undo_button = button("Undo last line", name="UndoCountLine")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        self.post_button = button("Review and post…", role="primary", name="PostCount")
        self.post_button.setEnabled(False)
        for widget in (self.undo_button, self.post_button):
            # Enter belongs to the scanner: it must never press a button.
            widget.setAutoDefault(False)
            widget.setDefault(False)
        self.post_button.clicked.connect(self.ask_post)
        actions = QHBoxLayout()
        actions.addWidget(self.undo_button)
        actions.addStretch(1)
        actions.addWidget(self.post_button)
        layout = QVBoxLayout(self)
        layout.addLayout(entry)
        layout.addWidget(self.status)
        layout.addWidget(view, 1)
        layout.addLayout(actions)
        self._call(lambda api: api.start_count(branch_id=branch_id))
        NetOp(lambda api: api.categories(), pool=ctx.pool, owner=self).success(
            self._categories
        ).run()

    def _categories(self, categories: list[Any]) -> None:
        self.scope.blockSignals(True)
        for category in sorted(categories, key=lambda c: c.name.casefold()):
            self.scope.addItem(f"Category: {category.name}", category.id)
        self.scope.blockSignals(False)

    def _scope_changed(self, _index: int) -> None:
        """Open the count again over the chosen scope (only while nothing is counted)."""
        if self.count is not None and self.count.lines:
            return  # the box is disabled then; a count's scope never changes under its lines
        category_id = self.scope.currentData()
        branch_id = self.branch_id
        self.entries.clear()
        self.scope.setEnabled(False)
        self._say("Starting the count…")
        self._call(lambda api: api.start_count(branch_id=branch_id, category_id=category_id))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setObjectName("ErrorText" if error else "PageStatus")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.status.setText(text)

    def _call(
        self, fn: Callable[[ApiClient], Any], then: Callable[[CountRead], None] | None = None
    ) -> None:
        def done(count: CountRead) -> None:
            if then is not None:
                then(count)
            self._show(count)

        def failed(exc: BaseException) -> None:
            self._say(describe(exc), error=True)
            self._enable()

        NetOp(fn, pool=self.ctx.pool, owner=self).success(done).failure(failed).run()

    def _enable(self) -> None:
        open_ = self.count is not None and self.count.status != "posted"
        self.post_button.setEnabled(open_ and bool(self.count and self.count.lines))
        self.undo_button.setEnabled(open_ and bool(self.entries))
        self.scope.setEnabled(open_ and not (self.count and self.count.lines))

    def _show(self, count: CountRead) -> None:
        self.count = count
        self.model.set_rows(count.lines)
        self._enable()
        if count.status == "posted":
            self._say(f"Posted: stock now matches the count ({as_money(count.difference_value)}).")
        else:
            self._say(
                f"{len(count.lines)} product(s) counted; "
                f"difference {as_money(count.difference_value)}."
            )

    def _counted(self, product_id: int) -> Decimal | None:
        lines = self.count.lines if self.count else []
        line = next((x for x in lines if x.product_id == product_id), None)
        return line.counted if line else None

    def scanned(self) -> None:
        """Count the scanned product: the quantity typed (1 by default)."""
        code = self.scan.text().strip()
        self.scan.clear()
        if not code or self.count is None:
            return
        try:
            quantity = parse_quantity(self.quantity.text() or "1", what="Quantity")
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        if quantity <= 0:
            self._say("Quantity: type how many were found, more than 0.", error=True)
            return
        self.quantity.setText("1")
        count_id = self.count.id
        before = {x.product_id: x.counted for x in self.count.lines}

        def remember(count: CountRead) -> None:
            # The line that changed is the one whose counted figure moved.
            for line in count.lines:
                if before.get(line.product_id) != line.counted:
                    self.entries.append((line.product_id, before.get(line.product_id)))
                    return

        self._call(lambda api: api.count_scan(count_id, barcode=code, quantity=quantity), remember)

    def undo(self) -> None:
        """Take back the last entry: the line returns to what it was, or goes."""
        if not self.entries or self.count is None:
            return
        product_id, previous = self.entries.pop()
        count_id = self.count.id
        self.undo_button.setEnabled(False)
        if previous is None:
            self._call(lambda api: api.remove_count_line(count_id, product_id=product_id))
        else:
            self._call(
                lambda api: api.set_count_line(count_id, product_id=product_id, quantity=previous)
            )

    def ask_post(self) -> None:
        """Show the differences and post only when confirmed."""
        if self.count is None:
            return
        count_id = self.count.id

        def reviewed(count: CountRead) -> None:
            self._show(count)
            dialog = CountReviewDialog(count=count, ctx=self.ctx, parent=self)
            dialog.accepted.connect(lambda: self.post(zero_uncounted=dialog.zero_uncounted))
            self.review = dialog
            dialog.open()

        NetOp(lambda api: api.stock_count(count_id), pool=self.ctx.pool, owner=self).success(
            reviewed
        ).failure(lambda e: self._say(describe(e), error=True)).run()

    def post(self, *, zero_uncounted: bool = False) -> None:
        """Post the count: differences become count movements (and the rest zero if asked)."""
        if self.count is None:
            return
        count_id = self.count.id
        self.post_button.setEnabled(False)
        self.undo_button.setEnabled(False)
        self.entries.clear()
        self._call(lambda api: api.post_count(count_id, zero_uncounted=zero_uncounted))
