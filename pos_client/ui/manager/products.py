"""Products screen: search and page the catalog, create/edit, archive, import, print labels."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from common.barcodes import BarcodeError, validate_gtin
from common.roles import Permission
from common.schemas.catalog import ProductCreate, ProductRead, ProductUpdate, TemplateRead
from pos_client.api.client import ApiClient
from pos_client.qt.network import NetOp, describe
from pos_client.ui.manager.context import ManagerContext
from pos_client.ui.manager.import_dialog import ImportDialog
from pos_client.ui.manager.labels import LabelDialog
from pos_client.ui.manager.product_import import write_template
from pos_client.ui.manager.table import Column, as_money, as_quantity
from pos_client.ui.manager.variant_matrix import VariantMatrixDialog
from pos_client.ui.manager.widgets import (
    ActionBar,
    FormDialog,
    SearchBox,
    ServerTable,
    ask_pdf_path,
    button,
    choice,
    heading,
)

COLUMNS = [
    Column("sku", "SKU"),
    Column("name", "Name"),
    Column("category_name", "Category"),
    Column("price", "Price", as_money, numeric=True),
    Column("cost", "Cost", as_money, numeric=True),
    Column("low_stock_threshold", "Low at", as_quantity, numeric=True),
    Column("barcodes", "Barcodes", lambda v: ", ".join(v or [])),
    Column("active", "Status", lambda v: "Active" if v else "Archived"),
]


def parse_barcodes(text: str) -> list[str]:
    """Split and check barcodes typed by hand; raise ValueError naming the bad one."""
    codes = [c.strip() for c in text.replace(";", ",").split(",") if c.strip()]
    for code in codes:
        try:
            validate_gtin(code)
        except BarcodeError as exc:
            raise ValueError(str(exc)) from exc
    return codes


def _decimal(text: str, *, what: str, default: str | None = None) -> Decimal:
    text = text.strip() or (default or "")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{what} must be a number, got {text!r}") from exc


class ProductDialog(FormDialog):
    """Create a product, or edit one when given it."""

    def __init__(
        self,
        *,
        ctx: ManagerContext,
        product: ProductRead | None = None,
        parent: QWidget | None = None,
    ) -> None:
        title = "New product" if product is None else f"Edit {product.name}"
        super().__init__(ctx=ctx, title=title, ok_text="Save", parent=parent)
        self.product = product
        self.sku = QLineEdit(product.sku if product else "")
        self.sku.setEnabled(product is None)  # the SKU names the product in every ledger
        self.name = QLineEdit(product.name if product else "")
        self.price = QLineEdit(str(product.price) if product else "")
        self.cost = QLineEdit(str(product.cost) if product else "0")
        self.tax_rate = QLineEdit(str(product.tax_rate) if product else "0")
        self.unit = choice([("Piece", "piece"), ("Kilogram", "kg")])
        if product is not None:
            self.unit.setCurrentIndex(max(0, self.unit.findData(product.unit.value)))
        self.threshold = QLineEdit(str(product.low_stock_threshold) if product else "0")
        self.reorder = QLineEdit(str(product.reorder_quantity) if product else "0")
        self.barcodes = QLineEdit(", ".join(product.barcodes) if product else "")
        self.barcodes.setPlaceholderText("EAN-13 / UPC codes, comma separated")
        self.generate = QCheckBox("Generate an internal EAN-13 if there is no barcode")
        self.generate.setVisible(product is None)
        for label, widget in (
            ("SKU", self.sku),
            ("Name", self.name),
            ("Price", self.price),
            ("Cost", self.cost),
            ("Tax rate %", self.tax_rate),
            ("Unit", self.unit),
            ("Low-stock at", self.threshold),
            ("Reorder qty", self.reorder),
            ("Barcodes", self.barcodes),
        ):
            self.form.addRow(label, widget)
        self.form.addRow("", self.generate)
        self.barcodes.textChanged.connect(self._check_barcodes)

    def _check_barcodes(self) -> None:
        try:
            parse_barcodes(self.barcodes.text())
        except ValueError as exc:
            self.barcodes.setProperty("error", True)
            self.barcodes.setToolTip(str(exc))
        else:
            self.barcodes.setProperty("error", False)
            self.barcodes.setToolTip("")
        self.barcodes.style().polish(self.barcodes)

    def build_call(self) -> Callable[[ApiClient], Any]:
        fields: dict[str, Any] = {
            "name": self.name.text().strip(),
            "price": _decimal(self.price.text(), what="Price"),
            "cost": _decimal(self.cost.text(), what="Cost", default="0"),
            "tax_rate": _decimal(self.tax_rate.text(), what="Tax rate", default="0"),
            "unit": self.unit.currentData(),
            "low_stock_threshold": _decimal(self.threshold.text(), what="Low-stock", default="0"),
            "reorder_quantity": _decimal(self.reorder.text(), what="Reorder qty", default="0"),
            "barcodes": parse_barcodes(self.barcodes.text()),
        }
        try:
            if self.product is None:
                data = ProductCreate(
                    sku=self.sku.text().strip(),
                    generate_barcode=self.generate.isChecked(),
                    **fields,
                )
                return lambda api: api.create_product(data)
            update = ProductUpdate(**fields)
        except ValidationError as exc:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from exc
        product_id = self.product.id
        return lambda api: api.update_product(product_id, update)


class ProductsPage(QWidget):
    """The catalog, paged from the server."""

    title = "Products"
    table: ServerTable  # made below the filter that reloads it

    def __init__(self, *, ctx: ManagerContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.query = ""
        self.dialog: QDialog | None = None
        self.last_labels: Path | None = None
        # Where label sheets go; the file chooser by default (tests point it at a folder).
        self.ask_label_path: Callable[[], Path | None] = self._ask_label_path
        self.ask_import_path: Callable[[], Path | None] = self._ask_import_path
        self.ask_template_path: Callable[[], Path | None] = self._ask_template_path

        self.search = SearchBox("Search by name, SKU or barcode…")
        self.search.search.connect(self._search)
        self.active = choice(
            [("Active", True), ("Archived", False), ("All", None)], name="ActiveFilter"
        )
        self.active.currentIndexChanged.connect(lambda _: self.table.reload())
        self.table = ServerTable(
            ctx=ctx,
            columns=COLUMNS,
            fetch=self._fetch,
            empty_text="No products match.\nClear the search, or add a product with “New product”.",
        )
        can_write = ctx.can(Permission.CATALOG_WRITE)
        bar = ActionBar()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.active)
        self.new_button = bar.add(
            button("New product", role="primary", name="NewProduct"), allowed=can_write
        )
        self.edit_button = bar.add(button("Edit", name="EditProduct"), allowed=can_write)
        self.archive_button = bar.add(
            button("Archive", role="danger", name="ArchiveProduct"), allowed=can_write
        )
        self.import_button = bar.add(button("Import…", name="ImportProducts"), allowed=can_write)
        self.template_button = bar.add(
            button("Import template…", name="ImportTemplate"), allowed=can_write
        )
        self.template_button.setToolTip(
            "Save an empty sheet with the columns Import reads and one example row"
        )
        self.template_button.clicked.connect(self.save_template)
        self.variants_button = bar.add(
            button("New with variants…", name="NewVariants"), allowed=can_write
        )
        self.variants_button.clicked.connect(self.new_variants)
        self.labels_button = bar.add(button("Print labels", name="PrintLabels"))
        self.new_button.clicked.connect(self.new_product)
        self.edit_button.clicked.connect(self.edit_product)
        self.archive_button.clicked.connect(self.archive_selected)
        self.import_button.clicked.connect(self.import_sheet)
        self.labels_button.clicked.connect(self.print_labels)
        self.status = QLabel("")
        self.status.setObjectName("PageStatus")

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.title))
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Load the first page."""
        self.table.reload()

    def _search(self, text: str) -> None:
        self.query = text
        self.table.reload()

    def _fetch(self, api: ApiClient, offset: int, limit: int) -> Any:
        return api.products(
            q=self.query, active=self.active.currentData(), offset=offset, limit=limit
        )

    def _open(self, dialog: QDialog, after: Callable[[], None]) -> None:
        self.dialog = dialog
        dialog.accepted.connect(after)
        dialog.open()

    def new_product(self) -> None:
        """Open the new-product form."""
        dialog = ProductDialog(ctx=self.ctx, parent=self)
        self._open(dialog, lambda: self._saved(dialog.result_value))

    def new_variants(self) -> None:
        """Open the variant matrix: a template, its attributes, a price per variant."""
        dialog = VariantMatrixDialog(ctx=self.ctx, parent=self)
        self._open(dialog, lambda: self._made_variants(dialog.result_value))

    def _made_variants(self, template: TemplateRead) -> None:
        self.status.setText(
            f"Created {template.sku} — {template.name} with {len(template.variants)} variants."
        )
        self.table.reload(keep_page=True)

    def edit_product(self) -> None:
        """Open the selected product for editing."""
        product = self.table.current()
        if product is None:
            self.status.setText("Select a product to edit.")
            return
        dialog = ProductDialog(ctx=self.ctx, product=product, parent=self)
        self._open(dialog, lambda: self._saved(dialog.result_value))

    def _saved(self, product: ProductRead) -> None:
        self.status.setText(f"Saved {product.sku} — {product.name}.")
        self.table.reload(keep_page=True)

    def archive_selected(self) -> None:
        """Archive the selected products (they stay in history, leave the till)."""
        ids = [p.id for p in self.table.selected_rows()]
        if not ids:
            self.status.setText("Select the products to archive.")
            return

        def archive(api: ApiClient) -> int:
            for product_id in ids:
                api.update_product(product_id, ProductUpdate(active=False))
            return len(ids)

        def archived(n: int) -> None:
            self.status.setText(f"Archived {n} product(s).")
            self.table.reload(keep_page=True)

        NetOp(archive, pool=self.ctx.pool, owner=self).success(archived).failure(
            lambda e: self.status.setText(describe(e))
        ).run()

    def print_labels(self) -> None:
        """Ask where the selected products' labels go: a PDF sheet or the label printer."""
        products = [p for p in self.table.selected_rows() if p.barcodes]
        if not products:
            self.status.setText("Select products that have a barcode to print labels.")
            return
        dialog = LabelDialog(
            ctx=self.ctx, products=products, ask_path=self.ask_label_path, parent=self
        )
        self._open(dialog, lambda: self._labels_printed(dialog))

    def _labels_printed(self, dialog: LabelDialog) -> None:
        self.last_labels = dialog.saved_to
        self.status.setText(dialog.outcome)

    def import_sheet(self) -> None:
        """Pick a CSV/XLSX file and preview it."""
        path = self.ask_import_path()
        if path is None:
            return
        dialog = ImportDialog(ctx=self.ctx, path=path, parent=self)
        self._open(dialog, lambda: self._imported(dialog.imported))

    def _imported(self, products: list[ProductRead]) -> None:
        self.status.setText(f"Imported {len(products)} product(s) (created or updated).")
        self.table.reload()

    def _ask_label_path(self) -> Path | None:
        return ask_pdf_path(self, title="Save label sheet", suggested="labels.pdf")

    def save_template(self) -> None:
        """Save the import template (CSV, or XLSX when the name ends in .xlsx)."""
        path = self.ask_template_path()
        if path is None:
            return
        try:
            write_template(path)
        except OSError as exc:
            self.status.setObjectName("ErrorText")
            self.status.setText(f"Cannot save the template to {path}: {exc.strerror or exc}")
        else:
            self.status.setObjectName("PageStatus")
            self.status.setText(
                f"Saved the import template to {path}: fill one row per product, then Import…"
            )
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _ask_template_path(self) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "Save import template",
            str(Path.home() / "products-template.csv"),
            "CSV (*.csv);;Excel workbook (*.xlsx)",
        )
        return Path(name) if name else None

    def _ask_import_path(self) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(self, "Import products", "", "Sheets (*.csv *.xlsx)")
        return Path(name) if name else None
