"""Products → Import: match the sheet's columns to our fields, preview the rows, import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from common.schemas.catalog import ProductRead
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.product_import import (
    FIELDS,
    LABELS,
    ImportRow,
    RowResult,
    apply_mapping,
    check_rows,
    guess_mapping,
    import_rows,
    mapping_problems,
    read_table,
)
from pos_client.ui.manager.widgets import choice

# The preview's columns: what each row will be read as, its problems, then the server's answer.
HEADERS = ["Line", "SKU", "Name", "Price", "Cost", "Category", "Opening stock", "Problems"]
PROBLEMS = HEADERS.index("Problems")
RESULT = len(HEADERS)
MAPPING_COLUMNS = 3  # header/field pairs per row of the mapping grid


def _plain(value: object) -> str:
    return "" if value is None else f"{value:f}" if hasattr(value, "is_finite") else str(value)


class ImportDialog(QDialog):
    """Match columns, preview a product sheet row by row, then create or update by SKU.

    Honest per row: rows with problems are refused and never sent, each clean row is its own
    server call, and the result column says exactly what the server did with every row.
    """

    def __init__(self, *, ctx: ManagerContext, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(f"Import products — {path.name}")
        self.setMinimumSize(900, 560)
        self.resize(1120, 620)  # fits a 1366×768 laptop with room for the problems
        self.imported: list[ProductRead] = []
        self.results: list[RowResult] | None = None
        self.rows: list[ImportRow] = []
        self.problem = ""
        try:
            self.headers, self.raw = read_table(path)
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            self.headers, self.raw = [], []
            self.problem = f"Cannot read {path.name}: {exc}"
        if not self.problem and not self.raw:
            self.problem = f"{path.name} has no rows under its header line."

        guessed = guess_mapping(self.headers)
        self.combos: list[QComboBox] = []
        mapping_box = QGroupBox("Columns in your file → what they are (change any that is wrong)")
        grid = QGridLayout(mapping_box)
        for index, (header, field) in enumerate(zip(self.headers, guessed, strict=True)):
            combo = choice(
                [("(not imported)", None)] + [(LABELS[name], name) for name in FIELDS],
                name=f"Map_{index}",
            )
            combo.setCurrentIndex(max(0, combo.findData(field)))
            combo.currentIndexChanged.connect(lambda _: self.remap())
            self.combos.append(combo)
            label = QLabel(header or f"(column {index + 1})")
            label.setToolTip(header)
            row, column = divmod(index, MAPPING_COLUMNS)
            grid.addWidget(label, row, column * 2)
            grid.addWidget(combo, row, column * 2 + 1)
        self.branch = choice([(b.name, b.id) for b in ctx.branches], name="OpeningStockBranch")
        self.branch_label = QLabel("Opening stock of new products goes to")
        branch_row = QHBoxLayout()
        branch_row.addWidget(self.branch_label)
        branch_row.addWidget(self.branch)
        branch_row.addStretch(1)

        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, RESULT + 1)
        self.table.setHorizontalHeaderLabels([*HEADERS, "Result"])
        self.table.verticalHeader().setVisible(False)
        columns = self.table.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        columns.setSectionResizeMode(PROBLEMS, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(RESULT, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)  # problems and results are sentences: show them whole
        # Row heights follow the columns' widths, which settle only once the dialog is shown.
        columns.sectionResized.connect(lambda *_: self._fit_rows())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        self.import_button.setProperty("role", "primary")
        self.buttons.accepted.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if self.headers:
            layout.addWidget(mapping_box)
        layout.addLayout(branch_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.remap()

    def _fit_rows(self) -> None:
        if self.table.rowCount() <= 1000:  # beyond that, a fixed height keeps scrolling quick
            QTimer.singleShot(0, self.table, self.table.resizeRowsToContents)

    @property
    def mapping(self) -> list[str | None]:
        """Return the field each of the file's columns feeds, as chosen."""
        return [combo.currentData() for combo in self.combos]

    def _tell(self, text: str, *, error: bool) -> None:
        self.summary.setObjectName("ErrorText" if error else "ImportSummary")
        self.summary.style().unpolish(self.summary)
        self.summary.style().polish(self.summary)
        self.summary.setText(text)

    def remap(self) -> None:
        """Read the rows again by the chosen mapping and show them as they will be sent."""
        mapping = self.mapping
        opening = "opening_stock" in mapping
        self.branch.setVisible(opening)
        self.branch_label.setVisible(opening)
        problems = [] if self.problem else mapping_problems(mapping)
        self.rows = [] if self.problem or problems else check_rows(apply_mapping(self.raw, mapping))
        self._fill()
        bad = [r for r in self.rows if not r.ok]
        clean = len(self.rows) - len(bad)
        if self.problem:
            self._tell(self.problem, error=True)
        elif problems:
            self._tell("Match the columns first: " + "; ".join(problems) + ".", error=True)
        elif bad:
            self._tell(
                f"{len(self.rows)} rows: {clean} ready, {len(bad)} with problems that will be "
                "refused (fix them and import the sheet again). Rows are matched by SKU: a "
                "known SKU is updated, a new one created.",
                error=True,
            )
        else:
            self._tell(
                f"{len(self.rows)} rows, all clean. Rows are matched by SKU: a known SKU is "
                "updated, a new one created. Nothing is sent until Import.",
                error=False,
            )
        self.import_button.setEnabled(clean > 0 and not problems and not self.problem)

    def _fill(self) -> None:
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            product, values = row.product, row.values
            shown = (
                str(row.line),
                values.get("sku", ""),
                values.get("name", ""),
                _plain(product.price) if product else values.get("price", ""),
                _plain(product.cost) if product and values.get("cost") else values.get("cost", ""),
                row.category,
                _plain(row.opening_stock) if row.opening_stock is not None else "",
                "; ".join(row.errors) or "OK",
                "",
            )
            for c, text in enumerate(shown):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self._fit_rows()

    def start_import(self) -> None:
        """Send the clean rows one by one off the UI thread; Close once the results are in."""
        if self.results is not None:
            self.accept()
            return
        rows = list(self.rows)
        branch_id = self.branch.currentData() if "opening_stock" in self.mapping else None
        for combo in self.combos:
            combo.setEnabled(False)
        self.branch.setEnabled(False)
        self.import_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(False)
        self._tell(f"Importing {sum(r.ok for r in rows)} rows…", error=False)
        NetOp(
            lambda api: import_rows(api, rows, branch_id=branch_id),
            pool=self.ctx.pool,
            owner=self,
        ).success(self._done).failure(self._failed).run()

    def _done(self, results: list[RowResult]) -> None:
        self.results = results
        self.imported = [r.product for r in results if r.product is not None]
        by_line = {r.line: r for r in results}
        for index, row in enumerate(self.rows):
            result = by_line.get(row.line)
            if result is None:
                continue
            text = result.outcome.capitalize() + (f": {result.detail}" if result.detail else "")
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(index, RESULT, item)
        self._fit_rows()
        counts = {
            name: sum(r.outcome == name for r in results)
            for name in ("created", "updated", "refused", "not sent")
        }
        said = ", ".join(f"{n} {name}" for name, n in counts.items() if n or name != "not sent")
        failed = bool(counts["refused"] or counts["not sent"])
        self._tell(f"Import finished: {said}.", error=failed)
        self.import_button.setText("Close")
        self.import_button.setEnabled(True)

    def _failed(self, error: BaseException) -> None:
        # Only an unexpected fault lands here: rows sent before it may have been saved.
        self._tell(
            f"The import stopped: {describe(error)}. Rows sent before this may have been "
            "saved: reload the product list to check.",
            error=True,
        )
        self.import_button.setEnabled(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(True)
