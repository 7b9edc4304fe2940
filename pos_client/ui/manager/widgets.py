"""Building blocks of the manager screens: a paged server list, forms and small dialogs."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWidgetItem,
)

from common.schemas.base import Page
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.table import Column, RowsModel

PAGE_SIZE = 100
MAX_COLUMN_WIDTH = 260

AnyWidget = TypeVar("AnyWidget", bound=QWidget)


def button(text: str, *, role: str = "", name: str = "") -> QPushButton:
    """Make a push button styled by its role (primary, danger or plain)."""
    widget = QPushButton(text)
    if role:
        widget.setProperty("role", role)
    if name:
        widget.setObjectName(name)
    widget.setCursor(Qt.CursorShape.PointingHandCursor)
    return widget


def ask_pdf_path(parent: QWidget, *, title: str, suggested: str) -> Path | None:
    """Ask where to save a PDF; None when the user cancels."""
    name, _ = QFileDialog.getSaveFileName(parent, title, suggested, "PDF (*.pdf)")
    return Path(name) if name else None


def statement_file_name(party: str) -> str:
    """Suggest a file name for a customer's or supplier's statement."""
    return f"statement-{re.sub(r'[^A-Za-z0-9]+', '-', party).strip('-') or 'account'}.pdf"


def heading(text: str) -> QLabel:
    """Make a screen heading."""
    label = QLabel(text)
    label.setObjectName("ScreenTitle")
    return label


class ServerTable(QWidget):
    """A table filled page by page from the server, with paging, progress and an empty state.

    `fetch(api, offset, limit)` runs on a network thread and returns a Page; answers to
    superseded requests (the user typed on, or paged again) are dropped by a generation count.
    """

    loaded = Signal(int)  # total rows on the server
    selection_changed = Signal()

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        columns: Sequence[Column],
        fetch: Callable[[ApiClient, int, int], Page[Any]],
        empty_text: str,
        page_size: int = PAGE_SIZE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.fetch = fetch
        self.page_size = page_size
        self.offset = 0
        self.total = 0
        self.loading = False
        self.last_error = ""

        self.model = RowsModel(columns, self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(34)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        # Size columns from the first rows only: measuring every cell costs the UI thread.
        self.view.horizontalHeader().setResizeContentsPrecision(25)
        self.view.selectionModel().selectionChanged.connect(
            lambda *_: self.selection_changed.emit()
        )

        self.empty = QLabel(empty_text)
        self.empty.setObjectName("EmptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)

        self.progress = QProgressBar()
        self.progress.setObjectName("LoadProgress")
        self.progress.setRange(0, 0)  # indeterminate: a server page has no known duration
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(4)
        self.progress.setVisible(False)

        self.info = QLabel("")
        self.info.setObjectName("PagerInfo")
        self.prev_button = button("‹ Previous", name="PrevPage")
        self.next_button = button("Next ›", name="NextPage")
        self.prev_button.clicked.connect(self.previous_page)
        self.next_button.clicked.connect(self.next_page)
        pager = QHBoxLayout()
        pager.addWidget(self.info)
        pager.addStretch(1)
        pager.addWidget(self.prev_button)
        pager.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.progress)
        layout.addWidget(self.stack, 1)
        layout.addLayout(pager)

    def reload(self, *, keep_page: bool = False) -> None:
        """Fetch the current page again (from the first page unless keep_page)."""
        if not keep_page:
            self.offset = 0
        self._load()

    def next_page(self) -> None:
        """Show the next page."""
        if self.offset + self.page_size < self.total:
            self.offset += self.page_size
            self._load()

    def previous_page(self) -> None:
        """Show the previous page."""
        if self.offset > 0:
            self.offset = max(0, self.offset - self.page_size)
            self._load()

    def selected_rows(self) -> list[Any]:
        """Return the selected rows in display order."""
        rows = sorted({index.row() for index in self.view.selectionModel().selectedRows()})
        return [self.model.row(r) for r in rows]

    def current(self) -> Any | None:
        """Return the first selected row, if any."""
        rows = self.selected_rows()
        return rows[0] if rows else None

    def _load(self) -> None:
        offset, limit = self.offset, self.page_size
        self.loading = True
        self.progress.setVisible(True)
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(False)
        fetch = self.fetch
        # Only the newest page asked for is shown: paging fast never lands on a stale page.
        NetOp(lambda api: fetch(api, offset, limit), pool=self.ctx.pool, owner=self).latest(
            "page"
        ).success(self._loaded).failure(self._failed).run()

    def _loaded(self, page: Page[Any]) -> None:
        self.loading = False
        self.last_error = ""
        self.progress.setVisible(False)
        self.total = page.total
        self.model.set_rows(page.items)
        self.stack.setCurrentWidget(self.view if page.items else self.empty)
        first = self.offset + 1 if page.items else 0
        last = self.offset + len(page.items)
        self.info.setText(f"{first:,}–{last:,} of {page.total:,}")
        self.prev_button.setEnabled(self.offset > 0)
        self.next_button.setEnabled(last < page.total)
        self.fit_columns()
        self.loaded.emit(page.total)

    def fit_columns(self) -> None:
        """Size columns to their contents, but never so wide that others scroll away."""
        self.view.resizeColumnsToContents()
        for column in range(self.model.columnCount()):
            if self.view.columnWidth(column) > MAX_COLUMN_WIDTH:
                self.view.setColumnWidth(column, MAX_COLUMN_WIDTH)

    def _failed(self, error: BaseException) -> None:
        self.loading = False
        self.last_error = describe(error)
        self.progress.setVisible(False)
        self.info.setText(f"Could not load: {self.last_error}")
        self.prev_button.setEnabled(self.offset > 0)
        self.next_button.setEnabled(True)


class SearchBox(QLineEdit):
    """A search field that reports what was typed once the user pauses."""

    search = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setClearButtonEnabled(True)
        self.setObjectName("ManagerSearch")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)  # one request per pause, not per keystroke
        self._timer.timeout.connect(lambda: self.search.emit(self.text().strip()))
        self.textChanged.connect(lambda _: self._timer.start())

    def waiting(self) -> bool:
        """Return whether it is waiting out the pause before it reports what was typed."""
        return self._timer.isActive()


def choice(options: Sequence[tuple[str, Any]], *, name: str = "") -> QComboBox:
    """Make a combo box of (label, value) pairs."""
    combo = QComboBox()
    for label, value in options:
        combo.addItem(label, value)
    if name:
        combo.setObjectName(name)
    return combo


class FormDialog(QDialog):
    """A form whose OK sends one server call; it closes only when the server agrees.

    Subclasses build their fields into `self.form` and implement `build_call()`, which either
    returns a function of the ApiClient or raises ValueError with what to fix.
    """

    def __init__(
        self, *, ctx: ManagerContext, title: str, ok_text: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.result_value: Any = None
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.title = QLabel(title)
        self.title.setObjectName("DialogTitle")
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.error = QLabel("")
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setProperty("role", "primary")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.body = QVBoxLayout(self)
        self.body.addWidget(self.title)
        self.body.addLayout(self.form)
        self.body.addWidget(self.error)
        self.body.addWidget(self.buttons)

    def build_call(self) -> Callable[[ApiClient], Any]:
        """Return the server call for the form's values, or raise ValueError."""
        raise NotImplementedError

    def submit(self) -> None:
        """Validate, send, and close on success; show the server's words on failure."""
        try:
            call = self.build_call()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.ok_button.setEnabled(False)
        self.error.setVisible(False)
        NetOp(call, pool=self.ctx.pool, owner=self).success(self._done).failure(self._failed).run()

    def show_error(self, text: str) -> None:
        """Show what to fix inside the dialog."""
        self.error.setText(text)
        self.error.setVisible(True)

    def _done(self, result: Any) -> None:
        self.result_value = result
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.ok_button.setEnabled(True)
        self.show_error(describe(error))


class CommentDialog(FormDialog):
    """Ask for a comment (a rejection reason) and send it."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        title: str,
        ok_text: str,
        call: Callable[[ApiClient, str], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ctx=ctx, title=title, ok_text=ok_text, parent=parent)
        self._call = call
        self.comment = QLineEdit()
        self.comment.setObjectName("Comment")
        self.comment.setPlaceholderText("Why? The requester will see this.")
        self.form.addRow("Comment", self.comment)

    def build_call(self) -> Callable[[ApiClient], Any]:
        comment = self.comment.text().strip()
        if not comment:
            raise ValueError("Please say why.")
        call = self._call
        return lambda api: call(api, comment)


class ActionBar(QLayout):
    """A row of controls above a table that wraps onto more rows when the window is narrow.

    Buttons the user may not use are never added. A stretch pushes what follows to the right
    of its row, as in a QHBoxLayout; when the controls do not fit, they flow onto the next row
    instead of widening the window past a laptop's screen.
    """

    def __init__(self) -> None:
        super().__init__()
        self._items: list[QLayoutItem] = []
        # Widgets added with a stretch (a search box) share a row's spare width with stretches.
        self._stretched: set[int] = set()
        # Each item's widget, None for a stretch. Kept here because PySide 6.12 miscounts
        # references to None when QLayoutItem.widget()/spacerItem() return a null pointer.
        self._widgets: dict[int, QWidget | None] = {}
        self._laid_out: tuple[object, ...] = ()
        # Height for each width asked since the last invalidate(), as QBoxLayout keeps it: Qt
        # asks again on every layout pass of the page, thousands of times per screen.
        self._heights: dict[int, int] = {}
        # Each control's width (its size hint) since the last invalidate(), for the same
        # reason: one layout pass asked every button's style for it dozens of times.
        self._widths: dict[int, int] = {}
        self.setSpacing(8)
        self.setContentsMargins(0, 0, 0, 0)

    def add(self, widget: AnyWidget, *, allowed: bool = True) -> AnyWidget:
        """Add a control when the user's permissions allow it."""
        if allowed:
            self.addWidget(widget)
        else:
            widget.setParent(None)
            widget.hide()
        return widget

    def addWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt API
        """Add a control; a stretch > 0 lets it grow into its row's spare width."""
        self.addChildWidget(widget)
        item = QWidgetItem(widget)
        if stretch:
            self._stretched.add(id(item))
        self._widgets[id(item)] = widget
        self._items.append(item)
        self._widths.pop(id(item), None)

    def addStretch(self, stretch: int = 1) -> None:  # noqa: N802 - QHBoxLayout's name
        """Push the controls that follow to the right of their row."""
        spacer = QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.addItem(spacer)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt API
        # Only addWidget (which records its widget) and addStretch add items here.
        self._widgets.setdefault(id(item), None)
        self._items.append(item)
        self._widths.pop(id(item), None)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        if not 0 <= index < len(self._items):
            return None
        item = self._items.pop(index)
        self._widgets.pop(id(item), None)
        self._widths.pop(id(item), None)
        self._stretched.discard(id(item))
        return item

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt API
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        height = self._heights.get(width)
        if height is None:
            height = self._heights[width] = self._arrange(QRect(0, 0, width, 0), move=False)
        return height

    def invalidate(self) -> None:
        # Qt calls this when a control is added, shown or hidden or its size hint changes (and
        # on every nested layout before a layout pass): the heights kept are stale then.
        self._heights.clear()
        self._widths.clear()
        super().invalidate()

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt API
        # Qt lays out again on every resize and repaint of the page; move controls only when
        # something changed (PySide 6.12 on Python 3.11 loses a reference to None on every
        # call of a C++ method returning void, so needless calls add up over a day).
        shown = self._shown()
        key = (rect.getRect(), tuple(id(i) for i in shown), tuple(self._width(i) for i in shown))
        if key == self._laid_out:
            return
        self._laid_out = key
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        width = sum(self._width(item) for item in self._shown()) + self.spacing() * max(
            len(self._shown()) - 1, 0
        )
        height = max((item.sizeHint().height() for item in self._shown()), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt API
        # One control per row at worst: never wider than the widest control.
        width = max((self._width(item) for item in self._shown()), default=0)
        height = max((item.minimumSize().height() for item in self._shown()), default=0)
        return QSize(width, height)

    def _shown(self) -> list[QLayoutItem]:
        shown = []
        for item in self._items:
            widget = self._widgets.get(id(item))
            if widget is None or not widget.isHidden():
                shown.append(item)
        return shown

    def _spacer(self, item: QLayoutItem) -> bool:
        return self._widgets.get(id(item)) is None

    def _width(self, item: QLayoutItem) -> int:
        width = self._widths.get(id(item))
        if width is None:
            width = self._widths[id(item)] = 0 if self._spacer(item) else item.sizeHint().width()
        return width

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Lay the controls out in rows that fit rect's width; return the height used."""
        gap = self.spacing()
        rows: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in self._shown():
            width = self._width(item)
            row = rows[-1]
            needed = width + (gap if row and width else 0)
            if row and width and used + needed > rect.width():
                rows.append([])
                row, needed, used = rows[-1], width, 0
            row.append(item)
            used += needed
        y = rect.y()
        for row in rows:
            widths = [self._width(item) for item in row]
            real = [w for w in widths if w]
            spare = rect.width() - sum(real) - gap * max(len(real) - 1, 0)
            growing = [item for item in row if self._spacer(item) or id(item) in self._stretched]
            share = max(spare, 0) // max(len(growing), 1)
            height = max((item.sizeHint().height() for item in row), default=0)
            x = rect.x()
            first = True
            for item, width in zip(row, widths, strict=True):
                if self._spacer(item):
                    x += share
                    continue
                if not first:
                    x += gap
                first = False
                if id(item) in self._stretched:
                    width += share
                target = QRect(QPoint(x, y), QSize(width, height))
                if move and item.geometry() != target:
                    item.setGeometry(target)
                x += width
            y += height + gap
        return max(y - rect.y() - gap, 0)
